"""report-assistant: answers questions about Chinese government department budget and final-accounts reports."""

__version__ = "0.1.0"
