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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from rag_workbook.errors import InputError
from rag_workbook.gcpause import collector_paused
from rag_workbook.model import Register, ReturnData
from rag_workbook.report import Code, Issue, Report

if TYPE_CHECKING:
    import pandas as pd

    from rag_workbook.dashboard import DashboardOptions, InputFile


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
    kept: Path | None = None  # a dashboard left as it was: no return could be read
    as_of: str = ""  # the run's date (ISO), for the chase list's days overdue
    chase_csv: Path | None = None  # the chase list written as CSV

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
    outputs: Sequence[tuple[str, str | Path]] = (),
    last_year: str | Path | None = None,
    as_of: str = "",
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
        outputs: (name, path) of files the caller will write after this (a JSON report,
            named "--report-json"): refused, before
            anything is read, when one is an input or another of them (see guard_outputs).
        last_year: last year's dashboard written by this tool: each measure's value and
            status in the same quarter last year (matched by ID, else by text).
        as_of: the run's date (ISO) for the chase list's days overdue; "" is today.

    Returns:
        A RunResult whose frame has one row per measure and quarter with statuses.

    Raises:
        TemplateError: the template cannot be used.
        InputError: `previous` is not a dashboard this tool can read; no return file was
            found at all; or an output would replace an input.

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
        outputs=outputs,
        last_year=last_year,
        as_of=as_of,
    )


def guard_outputs(
    outputs: Sequence[tuple[str, str | Path]],
    *,
    returns: Sequence[Path] = (),
    template: str | Path | None = None,
    previous: str | Path | None = None,
    last_year: str | Path | None = None,
) -> None:
    """Refuse, before anything is read or written, an output that is one of the inputs.

    An output is refused when it is the same file (through any symlink, hard link,
    relative path, or a case-insensitive twin on such a file system) as a return found,
    the template, the previous dashboard, or another output of the same run.

    Args:
        outputs: (what it is, as the user named it, e.g. "--out"; its path) of each file
            the run would write.
        returns: the return files found (returns.find_returns; the tool's own earlier
            outputs found among them are not returns).
        template: the template.
        previous: the previous dashboard.
        last_year: last year's dashboard.

    Raises:
        InputError: one output is an input or another output; the message names both.

    Example:
        >>> guard_outputs([("--out", "returns/ASB.xlsx")], returns=[Path("returns/ASB.xlsx")])
        Traceback (most recent call last):
        rag_workbook.errors.InputError: --out returns/ASB.xlsx is the return ...
    """
    from rag_workbook.output import file_identity, same_file

    inputs: list[tuple[str, Path]] = [("the return", p) for p in returns]
    if template is not None:
        inputs.append(("the template", Path(template)))
    if previous is not None:
        inputs.append(("the previous dashboard", Path(previous)))
    if last_year is not None:
        inputs.append(("last year's dashboard", Path(last_year)))
    # An output that does not exist yet is no input (each input exists, and a
    # case-insensitive twin would have been found too): one stat per input, and only when
    # some output exists (2,000 returns at national scale).
    existing: dict[tuple[int, int], tuple[str, Path]] = {}
    for what, out in outputs:
        identity = file_identity(Path(out))
        if identity is not None:
            existing.setdefault(identity, (what, Path(out)))
    for label, path in inputs if existing else ():
        found = existing.get(file_identity(path) or (-1, -1))
        if found is not None:
            what, target = found
            raise InputError(
                f"{what} {target} is {label} {path}; an output never replaces an input, "
                f"so nothing was written: choose another {what}"
            )
    for index, (what, out) in enumerate(outputs):
        for other_what, other in outputs[:index]:
            if same_file(Path(out), Path(other)):
                raise InputError(
                    f"{what} {out} is the same file as {other_what} {other}; "
                    f"nothing was written: choose another {what}"
                )


def _nothing_found(inputs: Sequence[str | Path]) -> InputError:
    where = ", ".join(str(i) for i in inputs)
    return InputError(f"no returns found in {where}; nothing written")


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
    outputs: Sequence[tuple[str, str | Path]],
    last_year: str | Path | None = None,
    as_of: str = "",
) -> RunResult:
    """check_returns, importing `later` modules (for the stages after it) while files are read.

    Before reading anything: nothing found is refused, and so is an output over an input.
    """
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.returns import find_returns
    from rag_workbook.template import read_template

    if not Path(template).is_file():
        read_template(template)  # raises the template error, which says what to do
    paths, found_report = find_returns(inputs)
    paths, own = _without_own_outputs(paths, [Path(p) for _, p in outputs])
    if not paths:
        raise _nothing_found(inputs)
    guard_outputs(outputs, returns=paths, template=template, previous=previous, last_year=last_year)
    register = read_template(template)
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

    # The tool's own dashboards found among the returns (told by their content as they
    # were read) are not inputs: a note each, and not on the About sheet.
    own += [i for d in data if not d.readable for i in d.issues if _is_own_output_note(i)]
    data = [d for d in data if d.readable or not any(_is_own_output_note(i) for i in d.issues)]
    found_report = found_report + Report.of(own)
    if not data:
        raise _nothing_found(inputs)
    if previous is not None:
        data.append(_previous_as_return(Path(previous)))
    last = None
    if last_year is not None:
        from rag_workbook.returns import read_last_year

        last = read_last_year(last_year)
    merged = merge_returns(data, register, last_year=last, as_of=as_of or _today())
    rated, rag_report = rate_columns(merged.columns, register)
    return RunResult(
        register=register,
        columns={**merged.columns, **rated},
        report=found_report + merged.report + rag_report,
        returns=merged.returns,
        quarter=merged.quarter,
        as_of=as_of or _today(),
    )


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()


def write_chase_csv(result: RunResult, path: str | Path) -> Path:
    """Write the chase list as CSV, one row per lead, ready for a mail merge (UTF-8 with a
    byte-order mark, so Excel opens it right); written to a temporary file and renamed.

    Args:
        result: what `check_returns` or `merge_to_dashboard` gave.
        path: the CSV file to write (its folder is created when missing).

    Returns:
        The path written.

    Raises:
        OutputError: the file cannot be written.

    Example:
        >>> write_chase_csv(result, "chase.csv")  # doctest: +SKIP
    """
    import csv
    import io

    from rag_workbook.merge import CHASE_CSV_HEADER, chase_rows
    from rag_workbook.output import write_atomic

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CHASE_CSV_HEADER)
    writer.writerows(chase_rows(result.report, result.register, result.quarter, result.as_of))
    target = Path(path)
    _make_folder(target.parent)
    return write_atomic(buffer.getvalue().encode("utf-8-sig"), target)


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
    outputs: Sequence[tuple[str, str | Path]] = (),
    writer: str = "auto",
    last_year: str | Path | None = None,
    as_of: str = "",
    chase_csv: str | Path | None = None,
    on_pdf: Callable[[int], None] | None = None,
) -> RunResult:
    """Read, check, merge and rate the returns, then write the dashboard workbook.

    Nothing is read or written when no return file is found, or when an output (`out`,
    its PDF, `outputs`) is an input (see guard_outputs). When files were found but none
    could be read, an existing workbook at `out` is left as it was (`kept`); a new path
    gets the dashboard with its Issues sheet. A missing folder of `out` is created.

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
        outputs: other files the caller will write (a JSON report), as (name, path).
        writer: which writer renders the dashboard (`dashboard.Writer`: auto, plain, fast);
            the workbook's cells are the same either way.
        last_year: last year's dashboard (see `check_returns`).
        as_of: the run's date (ISO) for the chase list's days overdue; "" is today. The
            same inputs and `as_of` give the same bytes.
        chase_csv: also write the chase list as CSV here (see `write_chase_csv`).
        on_pdf: called with the number of measures just before LibreOffice starts on the
            PDF, which takes about a minute for every 1,000 measures.

    Returns:
        The RunResult, with `output` (and `pdf`) set, or `kept` when the existing
        dashboard was left as it was.

    Raises:
        TemplateError: the template cannot be used.
        InputError: no return was found, or an output would replace an input.
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
        outputs=[*_merge_outputs(out, pdf, chase_csv), *outputs],
        last_year=last_year,
        as_of=as_of,
    )
    out_path = Path(out)
    if out_path.exists() and not any(r.readable for r in result.returns if not r.previous):
        # Nothing could be read: the last good dashboard is worth more than a blank one.
        return replace(result, kept=out_path)
    return _write_outputs(
        result, out_path, writer=writer, pdf=pdf, chase_csv=chase_csv, on_pdf=on_pdf
    )


def _merge_outputs(
    out: str | Path, pdf: bool, chase_csv: str | Path | None
) -> list[tuple[str, str | Path]]:
    """The files a merge writes, as (name, path), for guard_outputs."""
    return [
        ("--out", out),
        *([("the PDF", Path(out).with_suffix(".pdf"))] if pdf else []),
        *([("--chase-csv", chase_csv)] if chase_csv is not None else []),
    ]


def _write_outputs(
    result: RunResult,
    out: Path,
    *,
    writer: str,
    pdf: bool,
    chase_csv: str | Path | None,
    on_pdf: Callable[[int], None] | None = None,
) -> RunResult:
    """The dashboard at `out` (its folder made when missing), then the chase list's CSV and
    the PDF when asked for; the result says what was written."""
    from rag_workbook.dashboard import DashboardOptions, InputFile, write_dashboard, writer_note

    _make_folder(out.parent)
    inputs_used = [InputFile.from_return(r) for r in result.returns]
    options = DashboardOptions(writer=writer)
    note = writer_note(options)  # the fast writer cannot be used with this xlsxwriter
    report = result.report + Report.of([note]) if note is not None else result.report
    written = write_dashboard(
        result.columns, result.register, report, out, inputs=inputs_used, options=options
    )
    if chase_csv is not None:
        result = replace(result, chase_csv=write_chase_csv(result, chase_csv))
    if not pdf:
        return replace(result, report=report, output=written)
    if on_pdf is not None:
        on_pdf(len(result.register.measures))
    pdf_path, report = _write_pdf(result, report, written.with_suffix(".pdf"), inputs_used, options)
    return replace(result, report=report, output=written, pdf=pdf_path)


def _write_pdf(
    result: RunResult,
    report: Report,
    target: Path,
    inputs_used: Sequence[InputFile],
    options: DashboardOptions,
) -> tuple[Path | None, Report]:
    """The committee pages (Dashboard, Summary) as a PDF, or why not in the report."""
    from rag_workbook.dashboard import write_dashboard_pdf
    from rag_workbook.render import RenderError

    try:
        pdf_path = write_dashboard_pdf(
            result.columns, result.register, report, target, inputs=inputs_used, options=options
        )
    except RenderError as exc:
        # The workbook is written and good; say plainly why the PDF is not.
        issue = Issue.of(Code.PDF_NOT_WRITTEN, str(exc), fix=exc.fix, file=target.name)
        return None, report + Report.of([issue])
    return pdf_path, report


def _is_own_output_note(issue: object) -> TypeGuard[Issue]:
    return isinstance(issue, Issue) and issue.code == Code.OWN_OUTPUT_SKIPPED


def _without_own_outputs(paths: list[Path], outputs: list[Path]) -> tuple[list[Path], list[Issue]]:
    """The paths found less the tool's own earlier outputs that this run will replace
    (told by their content), with a note for each: rerunning with --out inside the returns
    folder replaces the last dashboard as usual."""
    from rag_workbook.output import file_identity
    from rag_workbook.returns import is_own_output, own_output_issue

    replaced = {i for out in outputs if (i := file_identity(out)) is not None}
    if not replaced:  # no output exists yet: none can be among the returns
        return paths, []
    kept: list[Path] = []
    notes: list[Issue] = []
    for path in paths:
        if file_identity(path) in replaced and is_own_output(path):
            notes.append(own_output_issue(str(path)))
        else:
            kept.append(path)
    return kept, notes


def _make_folder(folder: Path) -> None:
    """Create the output's folder when missing, as `returns issue --out` does."""
    from rag_workbook.errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {folder}: {exc.strerror or exc}; choose another --out"
        ) from exc


def _previous_as_return(previous: Path) -> ReturnData:
    """A previous dashboard's values and notes as the oldest return, so any real return wins."""
    from rag_workbook.returns import read_previous_return

    return read_previous_return(previous, f"{previous.name} (previous dashboard)")
