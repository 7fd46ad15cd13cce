"""Cold-start latency of `assistant ask` for a lookup (new process, index already built).

Prints the median wall time of N runs of `assistant ask` and of a bare `python -c pass` in the same
run, and their ratio. Target (issue 4): a lookup answered from a cold start in under 0.3 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "峨山县医保局2021年三公经费多少"


def _time(cmd: list[str], n: int) -> float:
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


# What every process that uses the package's records pays before it does anything: the floor under
# a cold `assistant ask` as long as records are pydantic models.
FLOORS = (
    ("import pydantic (BaseModel)", "import os; os.environ['PYDANTIC_DISABLE_PLUGINS']='1'; from pydantic import BaseModel"),
    ("+ the record classes (assistant.models)", "import assistant.models"),
    ("+ settings loaded and validated", "import assistant.models; from assistant.config import load_settings; "
                                        "load_settings(None)"),
)


def main(n: int = 7) -> None:
    """Measure and print the figures."""
    bare = _time([sys.executable, "-c", "pass"], n)
    print(f"python -c pass                           median {bare * 1000:4.0f} ms")
    for label, code in FLOORS:
        t = _time([sys.executable, "-c", code], n)
        print(f"{label:40} median {t * 1000:4.0f} ms")
    ask = _time([sys.executable, "-m", "assistant.interfaces.cli", "ask", QUESTION], n)
    print(f"assistant ask (cold)                     median {ask * 1000:4.0f} ms  ({ask / bare:.1f}× bare python)")
    print(f"target ≤ 300 ms: {'met' if ask <= 0.3 else 'MISSED'}")


if __name__ == "__main__":
    main()
