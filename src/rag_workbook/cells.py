"""The small jobs every stage shares, done one way: cell references, header text, dates,
and whether this process may fork.

Input: a (row, col), an "A1" text, a header label, a date as a cell holds it. Output: the
other form. Cells are "A1" at the edges (messages, the Source column) and 0-based
(row, col) inside; the conversion is xlsxwriter.utility's, cached because every return
names the same few cells.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell

__all__ = [
    "can_fork",
    "cell_name",
    "cell_position",
    "column_name",
    "norm_header",
    "parse_date",
]


@functools.lru_cache(maxsize=1 << 16)
def cell_name(row: int, col: int) -> str:
    """0-based (row, col) as "A1": ``cell_name(8, 4) == "E9"``."""
    name: str = xl_rowcol_to_cell(row, col)
    return name


@functools.lru_cache(maxsize=1 << 12)
def column_name(col: int) -> str:
    """0-based column as its letters: ``column_name(27) == "AB"``."""
    name: str = xl_col_to_name(col)
    return name


def cell_position(a1: str) -> tuple[int, int]:
    """ "E9" as 0-based (8, 4), the inverse of `cell_name`."""
    row, col = xl_cell_to_rowcol(a1)
    return int(row), int(col)


_NON_WORD = re.compile(r"[\W_]+")
# The ASCII characters _NON_WORD matches: deleting them with bytes.translate gives the
# same result five times faster on the ASCII text almost every header is.
_ASCII_NON_WORD = bytes(b for b in range(128) if not chr(b).isalnum())


@functools.lru_cache(maxsize=4096)
def _norm_short(text: str) -> str:
    return _norm(text)


def _norm(text: str) -> str:
    if text.isascii():
        return text.encode("ascii").translate(None, _ASCII_NON_WORD).lower().decode("ascii")
    return _NON_WORD.sub("", text).lower()


def norm_header(text: str) -> str:
    """A header label, setting key or sheet name as compared: lower case, letters and
    digits only (``"Q 3 (actual)"`` -> ``"q3actual"``, ``"Measure ID"`` -> ``"measureid"``).

    Cached for short texts, which repeat across files; long ones are not kept.
    """
    return _norm_short(text) if len(text) <= 64 else _norm(text)


_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%B %d %Y")
_ORDINAL = re.compile(r"(\d)(st|nd|rd|th)\b")
_SPACES = re.compile(r"\s+")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value: object) -> dt.datetime | None:
    """A date as a cell or a text gives it, as a naive datetime (UTC when it had a zone).

    Reads datetimes and dates, Excel serial numbers of this century (30000..80000), ISO
    text (``2012-02-14``, ``2012-02-14T10:00:00Z``) and the day-first forms a lead types
    (``14/02/2012``, ``14th February 2012``). None for anything else.

    Example:
        >>> parse_date("14th February 2012")
        datetime.datetime(2012, 2, 14, 0, 0)
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if 30000 <= value <= 80000:  # an Excel serial date in a cell not formatted as a date
            day = _EXCEL_EPOCH + dt.timedelta(days=int(value))
            return dt.datetime(day.year, day.month, day.day)
        return None
    if not isinstance(value, str):
        return None
    text = _SPACES.sub(" ", _ORDINAL.sub(r"\1", value).replace(",", " ")).strip()
    if not text:
        return None
    try:
        return parse_date(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def can_fork() -> bool:
    """Whether this process may fork a copy of itself to work in.

    Only on Linux (macOS forks unsafely with its system frameworks, Windows cannot fork),
    and only while this process runs one thread: a fork copies no other thread, and a lock
    one of them held stays locked in the copy for ever. `RAG_WORKBOOK_NO_FORK=1` says no,
    as on Windows, so that the path the analysts' machines take runs in tests on Linux.
    """
    import multiprocessing
    import os
    import sys
    import threading

    return (
        sys.platform.startswith("linux")
        and not os.environ.get("RAG_WORKBOOK_NO_FORK")
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )
