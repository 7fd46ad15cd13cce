"""report-assistant: answers questions about Chinese government department budget and final-accounts reports."""

import os

# pydantic scans every installed distribution for plugins on first model use (~30 ms of a cold
# `assistant ask`); this project uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

__version__ = "0.1.0"
