"""Dashboard stage: master frame + Register + Report -> the committee dashboard workbook.

Input: the master frame (one row per measure and quarter, `columns.MASTER` + `columns.RAG`),
the analyst's Register, the Report of input problems and the list of input files.
Output: an `.xlsx` file with seven sheets (Contents, Dashboard, Exceptions, Summary, Data,
Issues, About), written
to a temporary file beside the target and renamed into place.

Built, then written (issue 16): `build.build_book` decides everything a reader sees and
gives it as a `book.Book`; `plain.write_book` renders it with xlsxwriter's public API,
`fast.write_book` renders the same workbook faster through xlsxwriter's internals.
`DashboardOptions.writer` (`merge --writer`) chooses; `auto` takes the fast writer where
it pays.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rag_workbook.cells import can_fork
from rag_workbook.dashboard import fast, plain
from rag_workbook.dashboard.book import Block, Book, Sheet
from rag_workbook.dashboard.build import (
    ABOUT_SHEET,
    CHASE_TABLE,
    CONTENTS_SHEET,
    DASHBOARD_SHEET,
    DASHBOARD_TABLE,
    DATA_SHEET,
    DATA_TABLE,
    DEFAULT_ICON_STYLE,
    EXCEPTIONS_SHEET,
    EXCEPTIONS_TABLE,
    ICON_STYLES,
    INPUTS_TABLE,
    ISSUES_SHEET,
    ISSUES_TABLE,
    MAX_CELL_CHARS,
    MISSING_SHORTHAND,
    PRINTED_SHEETS,
    SHAPE_DISTINCT_ICON_STYLES,
    SHEETS,
    STATUS_CODES,
    STATUS_FORMAT,
    SUMMARY_SHEET,
    SUMMARY_TABLE,
    THEMES_TABLE,
    TREND_WORDS,
    TRUNCATION_MARKER,
    DashboardOptions,
    Draft,
    ExceptionReason,
    Frame,
    InputFile,
    InputStatus,
    Missing,
    Writer,
    build_book,
    clean_text,
    finish_book,
    start_book,
)
from rag_workbook.errors import OutputError
from rag_workbook.gcpause import collector_paused
from rag_workbook.model import Register
from rag_workbook.output import write_atomic
from rag_workbook.report import Code, Issue, Report

_log = logging.getLogger(__name__)

# From this many rows in its blocks (the Data sheet's: measures x 4 quarters, and the
# Summary's themes) the fast writer has them made by a forked copy: below it, starting the
# copy costs more than it saves (820 rows: 35 ms forked, 22 ms not; 2,050: 39 and 39 ms;
# 4,100: 61 and 68 ms; 16,393: 178 and 256 ms). `auto` takes the fast writer at every
# size: it pays at every size measured (57 rows: 9 ms against the plain writer's 16;
# 25,332 rows: 0.52 s against 4.2 s; see benchmarks/README.md).
FORK_FROM_ROWS = 2_000
_DEFAULTS = DashboardOptions()


def writer_note(options: DashboardOptions = _DEFAULTS) -> Issue | None:
    """An info note when the fast writer was asked for (or may be) but this xlsxwriter's
    internals are not as it expects, so the plain writer writes the dashboard."""
    if Writer(options.writer) is Writer.PLAIN:
        return None
    problem = fast.problem()
    if problem is None:
        return None
    return Issue.of(
        Code.FAST_WRITER_UNAVAILABLE, f"the dashboard was written by the plain writer: {problem}"
    )


def write_book(
    book: Book,
    writer: Writer | str = Writer.AUTO,
    *,
    fork: bool = True,
    early: fast.EarlyRows | None = None,
) -> bytes:
    """The workbook's bytes, by the writer asked for (`auto` and `fast`: the fast one).

    The fast writer falls back to the plain writer, never failing, when xlsxwriter's
    internals are not what it expects; it forks (when `fork` and the system allows it)
    only from FORK_FROM_ROWS rows, and takes the Data rows from `early` (`begin_rows`)
    when given. Every path gives the same bytes for a writer.

    Example:
        >>> data = write_book(build_book(frame, register, Report()), Writer.PLAIN)
    """
    if _fast_chosen(writer):
        rows = sum(b.count for s in book.sheets for b in _blocks(s))
        try:
            return fast.write_book(book, fork=fork and rows >= FORK_FROM_ROWS, early=early)
        # A private attribute gone or a signature changed inside xlsxwriter, which the
        # check could not see: the plain writer still writes the workbook. (The tests
        # would see this happen: they hold the two writers' bytes to differ.)
        except (fast.InternalsChanged, AttributeError, TypeError) as exc:
            _log.info(
                "writing the dashboard with the plain writer: %s", f"{type(exc).__name__}: {exc}"
            )
    return plain.write_book(book)


def _fast_chosen(writer: Writer | str, *, say: bool = True) -> bool:
    """Whether the fast writer writes: asked for (or `auto`) and usable here; when not
    usable, the log says why (`say`)."""
    if Writer(writer) is Writer.PLAIN:
        return False
    problem = fast.problem()
    if problem is not None and say:
        _log.info("writing the dashboard with the plain writer: %s", problem)
    return problem is None


def begin_rows(draft: Draft, writer: Writer | str = Writer.AUTO) -> fast.EarlyRows | None:
    """The Data rows begun by a forked copy while the rest of the book is built, where
    the fast writer will write a block that large and this process may fork; else None."""
    if draft.data_block.count < FORK_FROM_ROWS or not can_fork():
        return None
    if not _fast_chosen(writer, say=False):  # write_book says why
        return None
    try:
        return fast.EarlyRows.begin(draft.data_block, draft.styles)
    except (fast.InternalsChanged, AttributeError, TypeError):
        return None  # write_book falls back to the plain writer and says why


def _blocks(sheet: Sheet) -> list[Block]:
    return [item for item in sheet.content if isinstance(item, Block)]


# The workbook is hundreds of thousands of small objects (cells, notes, strings) that form
# no cycles but set off full collections over the caller's whole heap: 0.6-0.9 s of a
# national dashboard (issue 6). Collection waits until the bytes are made.
@collector_paused()
def _build(
    frame: Frame,
    register: Register,
    report: Report,
    inputs: Sequence[InputFile],
    options: DashboardOptions,
    *,
    print_only: bool,
) -> bytes:
    draft = start_book(frame, register, report, inputs, options, print_only=print_only)
    early = begin_rows(draft, options.writer)
    try:
        return write_book(finish_book(draft), options.writer, early=early)
    finally:
        if early is not None:
            early.close()


def build_dashboard(
    frame: Frame,
    register: Register,
    report: Report,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = _DEFAULTS,
) -> bytes:
    """Build the dashboard workbook in memory and return its bytes.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register (settings and measures in dashboard order).
        report: the input problems to list on the Issues sheet.
        inputs: the input files to list, with their SHA-256, on the About sheet.
        options: layout, dating and writer options.

    Returns:
        The `.xlsx` file's bytes; identical inputs give identical bytes.

    Raises:
        TemplateError: the icon style is not a three-icon style.

    Example:
        >>> data = build_dashboard(frame, register, Report())
    """
    return _build(frame, register, report, inputs, options, print_only=False)


def write_dashboard(
    frame: Frame,
    register: Register,
    report: Report,
    path: str | Path,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = _DEFAULTS,
) -> Path:
    """Write the dashboard workbook to `path`, atomically.

    The workbook is written to a temporary file in the same folder and renamed onto
    `path`, so an existing dashboard is either replaced whole or left as it was.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register.
        report: the input problems to list on the Issues sheet.
        path: the `.xlsx` file to write.
        inputs: the input files to list on the About sheet.
        options: layout, dating and writer options.

    Returns:
        The path written.

    Raises:
        OutputLockedError: the existing file cannot be replaced (open in Excel).
        OutputError: the folder is missing or cannot be written.
        TemplateError: the icon style is not a three-icon style.

    Example:
        >>> write_dashboard(frame, register, report, "out/dashboard.xlsx")
        PosixPath('out/dashboard.xlsx')
    """
    data = build_dashboard(frame, register, report, inputs=inputs, options=options)
    return write_atomic(data, Path(path))


def write_dashboard_pdf(
    frame: Frame,
    register: Register,
    report: Report,
    path: str | Path,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = _DEFAULTS,
    timeout: float | None = None,
) -> Path:
    """Write the committee PDF (Dashboard, Exceptions and Summary sheets) through LibreOffice.

    The PDF is rendered from a copy of the workbook whose Contents, Data, Issues and About
    sheets are hidden, since LibreOffice prints every visible sheet.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register.
        report: the input problems.
        path: the `.pdf` file to write.
        inputs: the input files.
        options: layout, dating and writer options.
        timeout: seconds to wait for LibreOffice; by default `pdf_seconds` of the
            register's measures.

    Returns:
        The path written.

    Raises:
        render.RenderError: LibreOffice is not installed, failed or took longer.
        OutputError: the folder is missing.

    Example:
        >>> write_dashboard_pdf(frame, register, report, "out/dashboard.pdf")
        PosixPath('out/dashboard.pdf')
    """
    from rag_workbook.render import convert_to_pdf

    target = Path(path)
    if not target.parent.is_dir():
        raise OutputError(f"folder {target.parent} does not exist; create it or choose another")
    data = _build(frame, register, report, inputs, options, print_only=True)
    with tempfile.TemporaryDirectory(prefix="rag_workbook_pdf_") as tmp:
        xlsx = Path(tmp) / f"{target.stem}.xlsx"
        xlsx.write_bytes(data)
        limit = pdf_seconds(len(register.measures)) if timeout is None else timeout
        return convert_to_pdf(xlsx, target, timeout=limit)


def pdf_seconds(measures: int) -> float:
    """How long LibreOffice may take over the PDF of a dashboard of `measures` measures:
    two minutes, and a fifth of a second more for each measure. LibreOffice prints the
    demo's 3 pages in about 5 s, and a national collection's 699 pages (6,333 measures)
    in 6.5 minutes on a 2-core machine: about 60 ms a measure, so this allows three
    times that for a slower computer.

    Example:
        >>> round(pdf_seconds(6_333))  # 23 minutes
        1387
    """
    return PDF_BASE_SECONDS + PDF_SECONDS_PER_MEASURE * measures


PDF_BASE_SECONDS = 120.0
PDF_SECONDS_PER_MEASURE = 0.2


__all__ = [
    "ABOUT_SHEET",
    "CHASE_TABLE",
    "CONTENTS_SHEET",
    "DASHBOARD_SHEET",
    "DASHBOARD_TABLE",
    "DATA_SHEET",
    "DATA_TABLE",
    "DEFAULT_ICON_STYLE",
    "EXCEPTIONS_SHEET",
    "EXCEPTIONS_TABLE",
    "ICON_STYLES",
    "INPUTS_TABLE",
    "ISSUES_SHEET",
    "ISSUES_TABLE",
    "MAX_CELL_CHARS",
    "MISSING_SHORTHAND",
    "PRINTED_SHEETS",
    "SHAPE_DISTINCT_ICON_STYLES",
    "SHEETS",
    "STATUS_CODES",
    "STATUS_FORMAT",
    "SUMMARY_SHEET",
    "SUMMARY_TABLE",
    "THEMES_TABLE",
    "TREND_WORDS",
    "TRUNCATION_MARKER",
    "DashboardOptions",
    "Draft",
    "ExceptionReason",
    "InputFile",
    "InputStatus",
    "Missing",
    "Writer",
    "begin_rows",
    "build_book",
    "build_dashboard",
    "clean_text",
    "finish_book",
    "pdf_seconds",
    "start_book",
    "write_atomic",
    "write_book",
    "write_dashboard",
    "write_dashboard_pdf",
    "writer_note",
]
