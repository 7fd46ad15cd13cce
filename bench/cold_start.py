"""Cold-start latency and peak memory of `assistant ask` (new process, index already built).

    python bench/cold_start.py [N]

Prints, for N runs each, the median wall time and the largest peak RSS of a bare `python -c pass`,
of the import floor (pydantic, the record classes, the settings), of a cold numeric `assistant ask`
and of a cold text `assistant ask` (retrieval: the index, rjieba and the ONNX query encoder), with
the ratios to bare python of the same run, and whether the text question imported torch,
transformers or sentence-transformers (`python -X importtime`). Targets (issue 14): numeric ≤ 3×
bare python; text ≤ 12× bare python and ≤ 500 MB.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "峨山县医保局2021年三公经费多少"
TEXT_QUESTION = "普陀区政府办的主要职责是什么？"
HEAVY = ("torch", "transformers", "sentence_transformers")


def _run(cmd: list[str], n: int) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MB) of ``n`` runs of ``cmd``."""
    runs, peaks = [], []
    for _ in range(n):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        runs.append(time.perf_counter() - t)
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
        proc.returncode = 0  # reaped by wait4
    return statistics.median(runs), max(peaks)


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


def heavy_imports(question: str) -> list[str]:
    """The heavy modules a cold `assistant ask question` imports (from ``-X importtime``)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assistant.interfaces.cli", "ask", question],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")
    }
    return sorted(m for m in HEAVY if m in names)


def main(n: int = 7) -> None:
    """Measure and print the figures."""
    bare, bare_mb = _run([sys.executable, "-c", "pass"], n)
    print(f"{'python -c pass':44} median {bare * 1000:5.0f} ms  peak {bare_mb:4.0f} MB")
    # the reference was `python3 -c pass` as typed: here a pyenv shim (a shell script), 4-6× slower
    shim = shutil.which("python3")
    shim_s = _run([shim, "-c", "pass"], n)[0] if shim else None
    if shim and shim_s:
        print(f"{'python3 -c pass (' + shim + ')':44} median {shim_s * 1000:5.0f} ms")
    for label, code in FLOORS:
        t, mb = _run([sys.executable, "-c", code], n)
        print(f"{label:44} median {t * 1000:5.0f} ms  peak {mb:4.0f} MB  ({t / bare:.1f}× bare python)")
    for label, q, limit_x, limit_mb in (("numeric", QUESTION, 3, None), ("text", TEXT_QUESTION, 12, 500)):
        t, mb = _run([sys.executable, "-m", "assistant.interfaces.cli", "ask", q], n)
        ok = t <= limit_x * bare and (limit_mb is None or mb <= limit_mb)
        target = f"≤ {limit_x}× bare" + (f", ≤ {limit_mb} MB" if limit_mb else "")
        vs_shim = f", {t / shim_s:.1f}× python3" if shim_s else ""
        print(
            f"{'assistant ask (cold, ' + label + ')':44} median {t * 1000:5.0f} ms  peak {mb:4.0f} MB  "
            f"({t / bare:.1f}× bare python{vs_shim}; target {target}: {'met' if ok else 'MISSED'})"
        )
    heavy = heavy_imports(TEXT_QUESTION)
    print(
        f"text question imports torch/transformers/sentence_transformers: {', '.join(heavy) if heavy else 'none'}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
