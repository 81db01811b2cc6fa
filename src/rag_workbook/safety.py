"""Pre-flight checks on an input file before any parser touches it.

Input: a path. Output: None when the file may be parsed, else one Issue saying what is
wrong and what the lead should do. Never raises.
"""

from __future__ import annotations

from pathlib import Path

from rag_workbook.model import Severity
from rag_workbook.report import Issue


def check_file(path: Path, display: str) -> Issue | None:
    """Return an Issue when `path` must not be parsed, else None.

    Args:
        path: the file to check.
        display: the file name to use in the issue.

    Returns:
        None when the file looks like a workbook we may parse, else an Issue.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return Issue(
            code="file-unreadable",
            severity=Severity.ERROR,
            message=f"cannot open the file ({exc.strerror or exc})",
            fix="check the file exists and is not open elsewhere",
            file=display,
        )
    if size == 0:
        return Issue(
            code="file-empty",
            severity=Severity.ERROR,
            message="the file is empty (0 bytes)",
            fix="ask the lead to send the return again",
            file=display,
        )
    return None
