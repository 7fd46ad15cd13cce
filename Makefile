# Two entry points: `make run` (install, build the index of corpus/, open the REPL) and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install index bench lint

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The pinned CPU torch first: any other torch request pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	# compat mode: a .pth path entry instead of an import hook that costs every start-up ~20 ms.
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	$(VENV)/bin/assistant model prepare
	touch $(STAMP)

install: $(STAMP)

index: $(STAMP)
	$(VENV)/bin/assistant index

run: index
	$(VENV)/bin/assistant chat

# Lint, the suite, then the QA regression runs on the real index (embeddings included).
test: lint
	$(VENV)/bin/python -m pytest -q
	$(VENV)/bin/assistant index
	$(VENV)/bin/assistant eval tests/qa/dev.jsonl --min-accuracy 0.95
	$(VENV)/bin/assistant eval tests/qa/dev2.jsonl --min-accuracy 0.95

bench: $(STAMP)
	$(VENV)/bin/python -m bench

# Gates that catch drift: lint rules, formatting, types.
lint: $(STAMP)
	$(VENV)/bin/ruff check assistant tests bench
	$(VENV)/bin/ruff format --check assistant tests bench
	$(VENV)/bin/mypy assistant tests bench
