"""Ingest: load corpus files into Documents, normalise text, detect report metadata."""

from assistant.ingest.loaders import SUPPORTED_SUFFIXES, IngestError, load_document
from assistant.ingest.metadata import department_aliases, detect_metadata
from assistant.ingest.normalize import format_number, normalize_text, parse_number

__all__ = [
    "SUPPORTED_SUFFIXES",
    "IngestError",
    "department_aliases",
    "detect_metadata",
    "format_number",
    "load_document",
    "normalize_text",
    "parse_number",
]
