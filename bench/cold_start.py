"""Cold-start latency and peak memory of `assistant ask` (new process, index already built).

    python bench/cold_start.py [N]
    python bench/cold_start.py --against DIR [N]   (this checkout against another one, alternately)

Prints, for N runs each, the median wall time, the median CPU time (user + system of the child, from
``wait4``: what survives a loaded machine) and the largest peak RSS of a bare `python -c pass`, of
the import floor (pydantic, the record classes, the settings), of a cold numeric `assistant ask` and
of a cold text `assistant ask` (retrieval: the index, rjieba and the ONNX query encoder), with the
ratios to bare python and to `python3 -c pass` of the same run; then each ask phase by phase (the
phases run one after the other in a fresh process: the real ask overlaps the encoder's load with the
lexical side, so its total is less than their sum), and whether the text question imported torch,
transformers or sentence-transformers (`python -X importtime`). Targets (issue 14): numeric ≤ 3×
bare python; text ≤ 12× bare python (≈ 1.3 s) and ≤ 500 MB.

Everything runs twice: in the environment as it is, and with a bytecode cache (PYTHONPYCACHEPREFIX
in a temporary directory, filled by one untimed run): with PYTHONDONTWRITEBYTECODE=1 (as in the
helpers' environment) the package's own modules are compiled from source on every start, which an
installed package never pays. The load average is printed before and after.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "峨山县医保局2021年三公经费多少"
TEXT_QUESTION = "普陀区政府办的主要职责是什么？"
HEAVY = ("torch", "transformers", "sentence_transformers")


def _run(cmd: list[str], n: int, env: dict[str, str]) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds and the largest peak RSS (MB) of ``n`` runs of ``cmd``
    (after one untimed run when ``env`` has a bytecode cache to fill)."""
    if "PYTHONPYCACHEPREFIX" in env:
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
    walls, cpus, peaks = [], [], []
    for _ in range(n):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
        proc.returncode = 0  # reaped by wait4
    return statistics.median(walls), statistics.median(cpus), max(peaks)


# What every process that uses the package's records pays before it does anything: the floor under
# a cold `assistant ask` as long as records are pydantic models.
FLOORS = (
    (
        "import pydantic (BaseModel)",
        "import os; os.environ['PYDANTIC_DISABLE_PLUGINS']='1'; from pydantic import BaseModel",
    ),
    ("+ the record classes (assistant.models)", "import assistant.models"),
    (
        "+ settings loaded and validated",
        "import assistant.models; from assistant.config import load_settings; load_settings(None)",
    ),
)

# One cold ask cut into its phases, run one after the other in a fresh process (argv[1]: the
# question, argv[2]: "text" to load the retrieval side phase by phase first). Prints JSON rows
# [phase, wall s, CPU s, peak RSS MB so far].
PHASES = r"""
import json, os, resource, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as `assistant ask` does (cli._cmd_ask)
W, P = time.perf_counter, time.process_time
rows, t, c = [], W(), P()
def mark(name):
    global t, c
    rows.append((name, W() - t, P() - c, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    t, c = W(), P()
import assistant.interfaces.cli, assistant.interfaces.ask
mark("imports: cli, ask (pydantic, the records)")
from assistant.config import load_settings
settings = load_settings(None)
mark("settings loaded")
from assistant.answer.engine import Engine
engine = Engine(settings)
mark("engine: its modules, the store opened")
if sys.argv[2] == "text":
    from assistant.answer.passages import _index
    index = _index(engine.passages)
    mark("retrieval index opened")
    from assistant.retrieve.tokenize import tokenize
    tokenize("预热")
    mark("jieba tokenizer + domain terms")
    index._encoder.model()
    mark("ONNX encoder loaded (onnxruntime session)")
    index._encoder.encode_queries(["预热"])
    mark("first query encoded")
engine.ask(sys.argv[1])
mark("the answer (understand, search, compose)")
print(json.dumps(rows))
"""


def heavy_imports(question: str, env: dict[str, str]) -> list[str]:
    """The heavy modules a cold `assistant ask question` imports (from ``-X importtime``)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistant.interfaces.cli", "ask", question],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")
    }
    return sorted(m for m in HEAVY if m in names)


def phases(question: str, kind: str, n: int, env: dict[str, str]) -> list[tuple[str, float, float, float]]:
    """Median wall and CPU seconds of each phase of a cold ask over ``n`` fresh processes, and the
    largest peak RSS (MB) at its end."""
    runs = []
    for _ in range(n):
        out = subprocess.run(
            [sys.executable, "-c", PHASES, question, kind],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return [
        (
            runs[0][i][0],
            statistics.median(r[i][1] for r in runs),
            statistics.median(r[i][2] for r in runs),
            max(r[i][3] for r in runs),
        )
        for i in range(len(runs[0]))
    ]


def _line(label: str, wall: float, cpu: float, mb: float | None = None) -> str:
    peak = f"  peak {mb:4.0f} MB" if mb is not None else ""
    return f"{label:46} wall {wall * 1000:5.0f} ms  CPU {cpu * 1000:5.0f} ms{peak}"


def measure(n: int, env: dict[str, str]) -> None:
    """Print the figures of one environment."""
    bare, bare_cpu, bare_mb = _run([sys.executable, "-c", "pass"], n, env)
    print(_line("python -c pass", bare, bare_cpu, bare_mb))
    # the reference was `python3 -c pass` as typed: here a pyenv shim (a shell script), 4-6× slower
    shim = shutil.which("python3")
    shim_s = _run([shim, "-c", "pass"], n, env)[0] if shim else None
    if shim and shim_s:
        print(f"{'python3 -c pass (' + shim + ')':46} wall {shim_s * 1000:5.0f} ms")
    for label, code in FLOORS:
        t, cpu, mb = _run([sys.executable, "-c", code], n, env)
        print(f"{_line(label, t, cpu, mb)}  ({t / bare:.1f}× bare python)")
    for label, q, limit_x, limit_mb in (("numeric", QUESTION, 3, None), ("text", TEXT_QUESTION, 12, 500)):
        t, cpu, mb = _run([sys.executable, "-m", "assistant.interfaces.cli", "ask", q], n, env)
        ok = t <= limit_x * bare and (limit_mb is None or mb <= limit_mb)
        target = f"≤ {limit_x}× bare" + (f", ≤ {limit_mb} MB" if limit_mb else "")
        vs_shim = f", {t / shim_s:.1f}× python3" if shim_s else ""
        print(
            f"{_line('assistant ask (cold, ' + label + ')', t, cpu, mb)}  "
            f"({t / bare:.1f}× bare python{vs_shim}; target {target}: {'met' if ok else 'MISSED'})"
        )
    for label, q in (("numeric", QUESTION), ("text", TEXT_QUESTION)):
        print(f"  phases of a cold {label} ask (one after the other; medians of {n} processes):")
        for name, wall, cpu, mb in phases(q, label, n, env):
            print("    " + _line(name, wall, cpu, mb))
    heavy = heavy_imports(TEXT_QUESTION, env)
    print(
        f"text question imports torch/transformers/sentence_transformers: {', '.join(heavy) if heavy else 'none'}"
    )


def compare(other: Path, n: int) -> None:
    """Cold asks of this checkout and of ``other`` (a folder holding another version's ``assistant``
    package, e.g. ``git archive main assistant | tar -x -C /tmp/main``), run alternately on this
    checkout's config and index so that both see the same load: medians of ``n`` runs each."""
    env = dict(os.environ)
    config = str(ROOT / "config.toml")
    for label, q in (("numeric", QUESTION), ("text", TEXT_QUESTION)):
        cmd = [sys.executable, "-m", "assistant.interfaces.cli", "--config", config, "ask", q]
        rows: dict[Path, list[tuple[float, float, float]]] = {ROOT: [], other: []}
        for _ in range(n):
            for where in (other, ROOT):
                t = time.perf_counter()
                proc = subprocess.Popen(
                    cmd, cwd=where, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                _, _, usage = os.wait4(proc.pid, 0)
                proc.returncode = 0
                rows[where].append(
                    (time.perf_counter() - t, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
                )
        for where, name in ((other, str(other)), (ROOT, "this checkout")):
            wall = statistics.median(r[0] for r in rows[where])
            cpu = statistics.median(r[1] for r in rows[where])
            print(_line(f"{label} ask, {name}", wall, cpu, max(r[2] for r in rows[where])))


def main(n: int = 7) -> None:
    """Measure and print the figures, in the environment as it is and with a bytecode cache."""
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (before)")
    env = dict(os.environ)
    no_pyc = env.get("PYTHONDONTWRITEBYTECODE") and not env.get("PYTHONPYCACHEPREFIX")
    print(
        "== environment as it is"
        + (
            " (PYTHONDONTWRITEBYTECODE set: the package is compiled from source at every start)"
            if no_pyc
            else ""
        )
    )
    measure(n, env)
    with tempfile.TemporaryDirectory(prefix="cold-pyc-") as cache:
        cached = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = cache
        print("== bytecode cached (PYTHONPYCACHEPREFIX, filled by one untimed run of each command)")
        phases(TEXT_QUESTION, "text", 1, cached)
        measure(n, cached)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--against":  # python bench/cold_start.py --against DIR [N]
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (before)")
        compare(Path(sys.argv[2]).resolve(), int(sys.argv[3]) if len(sys.argv) > 3 else 7)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (after)")
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
