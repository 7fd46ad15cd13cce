"""The error of the store package."""

from __future__ import annotations


class StoreError(Exception):
    """The store is missing, corrupt or of another format version: rebuild it."""
