"""The few exceptions for failing to run at all.

Problems in the data are Issues in a Report (see report.py); these are raised only when
the tool cannot go on: an unusable template, an output it cannot write.
"""

from __future__ import annotations


class RagWorkbookError(Exception):
    """Base of every error rag_workbook raises on purpose."""


class TemplateError(RagWorkbookError, ValueError):
    """The template (register of measures and settings) cannot be used."""


class InputError(RagWorkbookError, ValueError):
    """The command was given inputs it cannot use at all (no returns found, bad paths)."""


class OutputLockedError(RagWorkbookError, OSError):
    """The output file cannot be replaced, usually because it is open in Excel."""


class OutputError(RagWorkbookError, OSError):
    """The output cannot be written (missing folder, no permission, disk full)."""
