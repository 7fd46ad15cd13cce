"""The command bodies of `assistant`: argument parsing, printing, exit codes and the error policy.

Library packages (ingest, parse, store, retrieve, answer, scoring) compute and raise; only this
package prints to the terminal and decides exit statuses.
"""
