"""The `assistant` command: thin subcommands over the package's Python API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from assistant.config import DEFAULT_CONFIG, Settings, load_settings
from assistant.interfaces.errors import error_line, is_user_error
from assistant.interfaces.exits import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.index import run_index

    return run_index(settings, check=args.check, embed=not args.no_embed, retrieval=not args.facts_only)


def _cmd_facts(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.facts import run_facts

    return run_facts(
        settings,
        doc=args.doc,
        metric=args.metric,
        year=args.year,
        conflicts=args.conflicts,
        as_json=args.json,
    )


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    # speed (cold ask): a question's vector arithmetic is tiny, and OpenBLAS starting its thread pool
    # when numpy is imported spins ~70 ms of CPU on the other core (set before numpy is imported)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from assistant.interfaces.ask import run_ask

    return run_ask(settings, question=args.question, context=args.context or [], as_json=args.json)


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.chat import run_chat

    return run_chat(settings, plain=args.plain)


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.eval import run_eval

    return run_eval(settings, path=args.file, out=args.out, as_json=args.json, min_accuracy=args.min_accuracy)


def _cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.interfaces.model import run_model_command

    return run_model_command(settings, action=args.action)


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audit.run import AuditUsageError, audit_files, format_finding, rule_lines, select_files

    if args.rules:
        print("\n".join(rule_lines()))
        return EXIT_OK
    try:
        paths = select_files(settings, args.doc)
    except AuditUsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    run = audit_files(paths, min_severity=args.severity)
    for name, reason in run.skipped:
        print(f"warning: {name}: {reason} (skipped)", file=sys.stderr)
    if args.doc is not None and not run.audited:
        return EXIT_USAGE
    for f in run.findings:
        print(f.model_dump_json() if args.json else "\n".join(format_finding(f)))
    print(run.summary(), file=sys.stderr if args.json else sys.stdout)
    return 1 if run.has_errors else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(
        prog="assistant", description="Questions about department budget/final-accounts reports."
    )
    p.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    p.add_argument(
        "--debug", action="store_true", help="show the Python traceback of an error (also ASSISTANT_DEBUG=1)"
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="build or update the index of the corpus")
    s.add_argument(
        "--check", action="store_true", help="verify the index against the corpus without rebuilding"
    )
    s.add_argument(
        "--no-embed", action="store_true", help="facts and lexical index only (no embedding model)"
    )
    s.add_argument(
        "--facts-only",
        action="store_true",
        help="the fact store only: numeric questions work, text questions need a full `assistant index`",
    )
    s.set_defaults(func=_cmd_index)

    s = sub.add_parser("facts", help="list parsed facts")
    s.add_argument("--doc", help="file name (or part of it)")
    s.add_argument("--metric", help="metric or row label (or part of it)")
    s.add_argument("--year", type=int, help="the report year (e.g. 2021)")
    s.add_argument("--conflicts", action="store_true", help="only facts flagged as conflicting")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.set_defaults(func=_cmd_facts)

    s = sub.add_parser("audit", help="a reviewer's check of the reports: sums, tables vs text, names, years")
    s.add_argument("--doc", help="one report: a path, or a corpus file name (or part of it)")
    s.add_argument("--json", action="store_true", help="one JSON object per finding and line")
    s.add_argument(
        "--severity",
        choices=["error", "warning", "info"],
        default="info",
        help="the least severity shown (default: info, everything)",
    )
    s.add_argument("--rules", action="store_true", help="list the rules and exit")
    s.set_defaults(func=_cmd_audit)

    s = sub.add_parser("ask", help="answer one question ('-' reads one question per line from stdin)")
    s.add_argument("question")
    s.add_argument(
        "--context", action="append", help="an earlier question of the same conversation (repeatable)"
    )
    s.add_argument("--json", action="store_true", help="print the answer object as JSON")
    s.set_defaults(func=_cmd_ask)

    s = sub.add_parser("chat", help="interactive questioning (REPL)")
    s.add_argument("--plain", action="store_true", help="no colours")
    s.set_defaults(func=_cmd_chat)

    s = sub.add_parser("eval", help="score the assistant on a gold JSONL question file")
    s.add_argument("file")
    s.add_argument("--out", help="write one answer object per item to this JSONL file")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument(
        "--min-accuracy",
        type=float,
        default=None,
        help="exit 1 when accuracy is below this fraction (0.95) or percentage (95)",
    )
    s.set_defaults(func=_cmd_eval)

    s = sub.add_parser("model", help="the offline embedding model")
    s.add_argument("action", choices=["prepare", "info"])
    s.set_defaults(func=_cmd_model)
    return p


def _leave(status: int) -> None:
    """End the process now, its output flushed: a cold ``ask`` spent 25-45 ms (a numeric question) to
    110-190 ms (a text one: numpy, onnxruntime's session, faiss) of CPU tearing the interpreter down
    after it had printed its answer. Only for ``ask`` run as a command: nothing is left to clean up
    (no files, locks or child processes; the encoder threads are idle)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `assistant` command.

    The error policy lives here, once: an error the user can act on (see interfaces/errors.py) is one
    line on stderr and exit status 2; anything else is a bug, one line and exit 70. ``--debug`` (or
    ASSISTANT_DEBUG=1) prints the traceback first.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("ASSISTANT_DEBUG", "") not in ("", "0")
    try:
        if args.config is None and not Path(DEFAULT_CONFIG).exists():
            print(f"note: {DEFAULT_CONFIG} not found; using the default settings", file=sys.stderr)
        settings = load_settings(args.config)
        status = args.func(args, settings)
        # not under a profiler or coverage: they report when the interpreter ends
        if argv is None and args.command == "ask" and sys.getprofile() is None and sys.gettrace() is None:
            _leave(status)
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
    except Exception as e:
        if debug:
            import traceback  # only here: ~3 ms of every start-up otherwise

            traceback.print_exc()
        print(error_line(e), file=sys.stderr)
        return EXIT_USAGE if is_user_error(e) else EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
