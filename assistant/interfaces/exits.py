"""Exit statuses of every `assistant` command, defined once."""

from __future__ import annotations

EXIT_OK = 0
# Ran, but the outcome is negative: a question not answered, an eval below its threshold or with a
# confident wrong number, files skipped by `index`, differences found by `index --check`.
EXIT_NOT_ANSWERED = 1
EXIT_FAILED = EXIT_NOT_ANSWERED
# The command could not run: a bad or missing config/gold file, no usable index, no model. One line
# on stderr says what to do (argparse uses 2 for usage errors too).
EXIT_USAGE = 2
# A bug: an exception nobody expected (sysexits.h EX_SOFTWARE); --debug shows its traceback.
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
