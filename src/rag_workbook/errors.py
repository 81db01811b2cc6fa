"""The few exceptions for failing to run at all.

Problems in the data are Issues in a Report (see report.py); these are raised only when
the tool cannot go on: an unusable template, an output it cannot write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag_workbook.report import Issue


class RagWorkbookError(Exception):
    """Base of every error rag_workbook raises on purpose."""


class TemplateError(RagWorkbookError, ValueError):
    """The template (register of measures and settings) cannot be used.

    `issues` holds every problem found, each with its code, sheet and cell, so that the
    command line can print them and put them in `--report-json`; the message lists them too.
    """

    def __init__(self, message: str, issues: tuple[Issue, ...] = ()) -> None:
        super().__init__(message)
        self.issues = issues


class InputError(RagWorkbookError, ValueError):
    """The command was given inputs it cannot use at all (no returns found, bad paths)."""


class OutputLockedError(RagWorkbookError, OSError):
    """The output file cannot be replaced, usually because it is open in Excel."""


class OutputError(RagWorkbookError, OSError):
    """The output cannot be written (missing folder, no permission, disk full)."""
