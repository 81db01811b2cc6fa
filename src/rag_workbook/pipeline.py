"""The whole workflow as library calls: template + returns -> checked, merged, RAG-rated frame.

Input: paths (template, returns as files, folders or globs, output). Output: a RunResult
with the register, the rated master frame, every issue, and the dashboard path when one
was written. The CLI is a thin layer over these two functions; library users call them
directly and get pandas frames back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_workbook.gcpause import collector_paused
from rag_workbook.model import CellValue, Register, ReturnData, Severity
from rag_workbook.report import Issue, Report

if TYPE_CHECKING:
    import pandas as pd


# Modules the stages after reading need (numpy, xlsxwriter: about 0.15 s to import; pandas
# is not among them), imported while worker processes read the returns
# (merge.read_returns(meanwhile=...)).
_LATER_STAGES = ("rag_workbook.rag",)


def _load(modules: Sequence[str]) -> None:
    import importlib

    for name in modules:
        importlib.import_module(name)


@dataclass(frozen=True)
class RunResult:
    """What one check or merge found and made.

    `columns` holds the rated master frame's columns (columns.MASTER + columns.RAG) as
    lists; `frame` is the pandas DataFrame of them, made (and pandas imported, about
    0.4 s) when first asked for: the command line never asks (issue 6).
    """

    register: Register
    columns: dict[str, list[Any]]
    report: Report
    returns: tuple[ReturnData, ...]
    quarter: str
    output: Path | None = None
    pdf: Path | None = None

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The master frame with RAG columns, as `rag.apply_rag` gives it."""
        from rag_workbook.rag import rated_frame

        return rated_frame(self.columns)


@collector_paused()
def check_returns(
    inputs: Sequence[str | Path],
    template: str | Path,
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    on_found: Callable[[int], None] | None = None,
    previous: str | Path | None = None,
) -> RunResult:
    """Read, check, merge and rate the returns; write nothing.

    Args:
        inputs: return files, folders or glob patterns.
        template: the analyst's template (Settings and Measures sheets).
        jobs: worker processes for reading (used only where it pays, see merge.read_returns).
        executor: any concurrent.futures.Executor to read with instead of `jobs`.
        progress: called with the number of files just read.
        on_found: called once with the number of return files found, before reading.
        previous: a dashboard this tool wrote earlier; its values fill the quarters that
            no return gives (any return's value wins over it, and a different one is
            reported as superseded).

    Returns:
        A RunResult whose frame has one row per measure and quarter with statuses.

    Raises:
        TemplateError: the template cannot be used.
        InputError: `previous` is not a dashboard this tool can read.

    Example:
        >>> result = check_returns(["returns/"], "template.xlsx")  # doctest: +SKIP
        >>> result.frame[["measure_id", "quarter", "status"]]  # doctest: +SKIP
    """
    return _check(
        inputs,
        template,
        jobs=jobs,
        executor=executor,
        progress=progress,
        on_found=on_found,
        previous=previous,
        later=(),
    )


def _check(
    inputs: Sequence[str | Path],
    template: str | Path,
    *,
    jobs: int,
    executor: Executor | None,
    progress: Callable[[int], None] | None,
    on_found: Callable[[int], None] | None,
    previous: str | Path | None,
    later: tuple[str, ...],
) -> RunResult:
    """check_returns, importing `later` modules (for the stages after it) while files are read."""
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.returns import find_returns
    from rag_workbook.template import read_template

    register = read_template(template)
    paths, found_report = find_returns(inputs)
    if on_found is not None:
        on_found(len(paths))
    data = read_returns(
        paths,
        register,
        jobs=jobs,
        executor=executor,
        progress=progress,
        meanwhile=lambda: _load(_LATER_STAGES + later),
    )
    from rag_workbook.rag import rate_columns

    if previous is not None:
        data.append(_previous_as_return(Path(previous)))
    merged = merge_returns(data, register)
    rated, rag_report = rate_columns(merged.columns, register)
    return RunResult(
        register=register,
        columns={**merged.columns, **rated},
        report=found_report + merged.report + rag_report,
        returns=merged.returns,
        quarter=merged.quarter,
    )


@collector_paused()
def merge_to_dashboard(
    inputs: Sequence[str | Path],
    template: str | Path,
    out: str | Path,
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    pdf: bool = False,
    progress: Callable[[int], None] | None = None,
    on_found: Callable[[int], None] | None = None,
    previous: str | Path | None = None,
    writer: str = "auto",
) -> RunResult:
    """Read, check, merge and rate the returns, then write the dashboard workbook.

    Args:
        inputs: return files, folders or glob patterns.
        template: the analyst's template.
        out: the dashboard to write (.xlsx); written to a temporary file and renamed.
        jobs: worker processes for reading.
        executor: any concurrent.futures.Executor to read with instead of `jobs`.
        pdf: also write a PDF (Dashboard and Summary pages) beside it through
            LibreOffice; when that fails the workbook still stands and the report says
            why (`pdf-not-written`).
        progress: called with the number of files just read.
        on_found: called once with the number of return files found, before reading.
        previous: a dashboard this tool wrote earlier, to fill quarters no return gives.
        writer: which writer renders the dashboard (`dashboard.Writer`: auto, plain, fast);
            the workbook's cells are the same either way.

    Returns:
        The RunResult, with `output` (and `pdf`) set.

    Raises:
        TemplateError: the template cannot be used.
        OutputLockedError: the dashboard is open in Excel.
        OutputError: the dashboard cannot be written.

    Example:
        >>> merge_to_dashboard(["returns/"], "template.xlsx", "dashboard.xlsx")  # doctest: +SKIP
    """
    result = _check(
        inputs,
        template,
        jobs=jobs,
        executor=executor,
        progress=progress,
        on_found=on_found,
        previous=previous,
        later=("rag_workbook.dashboard",),
    )
    from rag_workbook.dashboard import (
        DashboardOptions,
        InputFile,
        write_dashboard,
        write_dashboard_pdf,
        writer_note,
    )

    inputs_used = [InputFile.from_return(r) for r in result.returns]
    options = DashboardOptions(writer=writer)
    note = writer_note(options)  # the fast writer cannot be used with this xlsxwriter
    report = result.report + Report.of([note]) if note is not None else result.report
    written = write_dashboard(
        result.columns, result.register, report, out, inputs=inputs_used, options=options
    )
    pdf_path = None
    if pdf:
        from rag_workbook.render import RenderError

        try:
            # Only the committee pages (Dashboard, Summary) go into the PDF.
            pdf_path = write_dashboard_pdf(
                result.columns,
                result.register,
                report,
                written.with_suffix(".pdf"),
                inputs=inputs_used,
                options=options,
            )
        except RenderError as exc:
            # The workbook is written and good; say plainly why the PDF is not.
            report = report + Report.of(
                [
                    Issue(
                        code="pdf-not-written",
                        severity=Severity.WARNING,
                        message=str(exc),
                        fix="install LibreOffice (Debian: apt-get install libreoffice-calc-nogui)"
                        " or print the Dashboard sheet to PDF from Excel",
                        file=written.with_suffix(".pdf").name,
                    )
                ]
            )
    return RunResult(
        register=result.register,
        columns=result.columns,
        report=report,
        returns=result.returns,
        quarter=result.quarter,
        output=written,
        pdf=pdf_path,
    )


def _previous_as_return(previous: Path) -> ReturnData:
    """A previous dashboard's values as the oldest return, so any real return wins."""
    import hashlib

    from rag_workbook.forms import read_previous_values

    values = read_previous_values(previous)
    return ReturnData(
        path=str(previous),
        file=f"{previous.name} (previous dashboard)",
        sha256=hashlib.sha256(previous.read_bytes()).hexdigest(),
        submitted="",  # older than any return
        previous=True,
        values=tuple(
            CellValue(measure_id, quarter, value, f"{value:g}", "Data", "")
            for (measure_id, quarter), value in sorted(values.items())
        ),
    )
