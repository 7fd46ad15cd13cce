"""Named points of a build where the fault tests kill it (tests/test_index_integrity.py)."""

from __future__ import annotations

import os
import signal

KILL_ENV = "ASSISTANT_TEST_KILL_AT"


# Named points of a build where the fault tests kill it (SIGKILL) through ASSISTANT_TEST_KILL_AT.
KILL_STAGES = (
    "after_parse",
    "after_retrieval_build",
    "before_retrieval_swap",
    "after_retrieval_swap",
    "before_facts_swap",
    "after_facts_swap",
    "after_manifest",
)


def kill_point(stage: str) -> None:
    """Test hook: die here, as a power cut would, when ASSISTANT_TEST_KILL_AT names this stage."""
    if os.environ.get(KILL_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)
