"""Merge stage: many returns -> one master frame, superseded values and the chase list.

Input: the ReturnData of every return read (see returns.py) and the Register. Output: a
MergeResult holding the master frame (columns.MASTER, one row per measure and quarter in
register order), the Report of merge problems, and the returns themselves. Reading many
files (optionally over any `concurrent.futures.Executor`) lives here too, so that the CLI
and library callers share one path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_workbook import columns as c
from rag_workbook.cells import can_fork
from rag_workbook.gcpause import collector_paused
from rag_workbook.layout import NO_VALUE_WORDS
from rag_workbook.model import (
    QUARTER_INDEX,
    QUARTERS,
    CellValue,
    LastYear,
    LastYearRow,
    Register,
    ReturnData,
    RowNotes,
    Severity,
)
from rag_workbook.report import Code, Issue, Report

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    import pandas as pd

# Below this many files `jobs` > 1 is ignored: starting worker processes (and handing them
# the register) costs more than it saves. Measured with benchmarks/bench_merge.py
# --crossover on a 2-core machine; read at call time, so tests may lower it.
POOL_THRESHOLD = 200
# Files per task handed to a caller's executor: the register travels with every task, so
# few large batches (a Dask client's executor pays a round trip per task too).
EXECUTOR_BATCHES = 16
# Most files per task in our own pool, whose tasks carry only paths: a task costs well under
# a millisecond, and small tasks keep both workers busy to the end (with 4 tasks a worker, a
# worker slowed by other load finished up to a whole task, ~0.3 s at 2,000 files, late).
POOL_BATCH_FILES = 64


@dataclass(frozen=True)
class MergeResult:
    """The master frame and everything learnt while building it.

    `columns` holds the frame's columns (columns.MASTER) as lists; `frame` is the pandas
    DataFrame of them, made (and pandas imported) when first asked for, so that a run of
    the command line, which never asks, spares both (issue 6).
    """

    columns: dict[str, list[Any]]
    report: Report
    returns: tuple[ReturnData, ...]
    quarter: str  # the reporting quarter: quarters after it are not yet due

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The master frame: one row per measure and quarter, the columns of columns.MASTER."""
        return master_frame(self.columns)


def master_frame(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The master frame of merged columns, typed as pandas users expect.

    `value` float64 (NaN when no number); `due` bool; `quarter` an ordered categorical
    (Q1 < Q2 < Q3 < Q4); `submitted` datetime64 (NaT when unknown); every text column
    the "string" dtype, with pd.NA where the cell is empty.

    Example:
        >>> master_frame(merged.columns).dtypes["quarter"]  # doctest: +SKIP
        CategoricalDtype(categories=['Q1', 'Q2', 'Q3', 'Q4'], ordered=True, ...)
    """
    import pandas as pd

    kinds = {column.name: column.kind for column in c.COLUMNS}  # as columns.COLUMNS declares
    typed: dict[str, Any] = {}
    for name in c.MASTER:
        values, kind = columns[name], kinds[name]
        if name == c.QUARTER:
            typed[name] = pd.Categorical(values, categories=list(QUARTERS), ordered=True)
        elif kind is c.Kind.NUMBER:
            series = pd.Series(values, dtype=object)
            typed[name] = pd.to_numeric(series, errors="coerce").astype("float64")
        elif kind is c.Kind.FLAG:
            typed[name] = pd.Series(values, dtype=object).fillna(False).astype(bool)
        elif kind is c.Kind.DATE:
            typed[name] = _datetimes(values)
        else:
            typed[name] = text_series(values)
    return pd.DataFrame(typed, columns=list(c.MASTER))


def text_series(values: Sequence[Any]) -> pd.Series:
    """Texts as the "string" dtype, an empty text or a missing value as pd.NA."""
    import pandas as pd

    series = pd.Series(
        [None if c.is_missing(v) or v == "" else str(v) for v in values], dtype="string"
    )
    return series


def _datetimes(values: Sequence[Any]) -> pd.Series:
    """ISO dates and datetimes as datetime64; an empty or unreadable one as NaT."""
    import pandas as pd

    texts = pd.Series([v if isinstance(v, str) and v else None for v in values], dtype=object)
    return pd.to_datetime(texts, format="ISO8601", errors="coerce")


def _read_batch(paths: Sequence[Path], register: Register | None = None) -> list[ReturnData]:
    """Read some returns; in a pool worker the register was installed once by `_install`."""
    from rag_workbook.returns import read_return

    use = register if register is not None else _WORKER_REGISTER[0]
    with collector_paused():  # as read_returns, in a worker of any executor
        return [read_return(path, use, display=path.name) for path in paths]


_WORKER_REGISTER: list[Register] = []


def _install(register: Register) -> None:
    """Pool initializer: keep the register in the worker, so tasks carry only paths."""
    _WORKER_REGISTER[:] = [register]


def _batches(paths: Sequence[Path], count: int) -> list[list[Path]]:
    size = max(1, -(-len(paths) // max(1, count)))
    return [list(paths[i : i + size]) for i in range(0, len(paths), size)]


# Reading makes tens of thousands of small objects that form no cycles (values, notes,
# issues): the collector's passes over them were 3-7% of reading 2,000 returns.
@collector_paused()
def read_returns(
    paths: Sequence[Path],
    register: Register,
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[ReturnData]:
    """Read every return, in the order given, in this process or in parallel.

    With `jobs` > 1 and at least `POOL_THRESHOLD` files, a process pool of `jobs` workers
    reads them (below that, starting the pool costs more than it saves; on 2 cores a pool
    of 2 read 2,000 returns 1.3-1.8x faster in benchmarks/bench_merge.py). Any
    `concurrent.futures.Executor` may be given instead and is always used, whatever the
    number of files: a
    `ProcessPoolExecutor` or `ThreadPoolExecutor` of your own, or a Dask distributed
    client's executor (`client.get_executor()`) when one machine is not enough; the
    files must then be readable at the same paths on the workers. Results are the same
    whichever way the files are read. If a worker of the built-in pool dies (killed, out
    of memory, or a crash on some file), the files not yet read are read again, a batch at
    a time in a process of its own; a file whose reading kills that process comes back
    unreadable, with a `file-unreadable` issue that says so.

    Args:
        paths: the return workbooks (see returns.find_returns to expand folders and globs).
        register: the measures the returns are checked against.
        jobs: worker processes to use when no executor is given; 1 reads in this process.
        executor: any concurrent.futures.Executor; overrides `jobs`. It is not shut down.
        progress: called with the number of files just finished, for a progress bar.
        meanwhile: called once in this process while other processes read (after the
            files are handed out), or before reading when they are read here; the
            pipeline imports pandas and xlsxwriter in that time.

    Returns:
        One ReturnData per path, in the same order; unreadable files come back with
        `readable=False` and an issue, never as an exception.

    Example:
        >>> data = read_returns(paths, register, jobs=2)  # doctest: +SKIP
        >>> from dask.distributed import Client  # doctest: +SKIP
        >>> data = read_returns(paths, register, executor=Client().get_executor())  # doctest: +SKIP
    """
    paths = list(paths)
    if executor is not None:
        return _gather(executor, _batches(paths, EXECUTOR_BATCHES), register, progress, meanwhile)
    if jobs > 1 and len(paths) >= POOL_THRESHOLD:
        return _read_in_pool(paths, register, jobs, progress, meanwhile)
    if meanwhile is not None:
        meanwhile()
    from rag_workbook.returns import read_return

    results = []
    for path in paths:
        results.append(read_return(path, register, display=path.name))
        if progress is not None:
            progress(1)
    return results


def _read_in_pool(
    paths: list[Path],
    register: Register,
    jobs: int,
    progress: Callable[[int], None] | None,
    meanwhile: Callable[[], object] | None,
) -> list[ReturnData]:
    """Read in a pool of `jobs` processes; if a worker dies, what it left is read again,
    batch by batch, in processes of their own (see `_read_alone`)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Built once here, so that forked workers inherit the register's lookups.
    register.measure("")
    register.measures_of("")
    # At least a few batches per worker, each at most POOL_BATCH_FILES files.
    batches = _batches(paths, max(jobs * 4, -(-len(paths) // POOL_BATCH_FILES)))
    done: dict[int, list[ReturnData]] = {}
    try:
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=_pool_context(),
            initializer=_install,
            initargs=(register,),
        ) as pool:
            return _gather(pool, batches, None, progress, meanwhile, done)
    except BrokenProcessPool:
        # A worker died (killed, out of memory, or a crash on some file): what it left is
        # read batch by batch in processes of their own, so that a file that kills its
        # reader is reported rather than taking this process down with it.
        for i, batch in enumerate(batches):
            if i not in done:
                done[i] = _read_alone(batch, register)
                if progress is not None:
                    progress(len(batch))
        return [data for i in range(len(batches)) for data in done[i]]


def _read_alone(paths: list[Path], register: Register) -> list[ReturnData]:
    """Read `paths` in one process of their own; a file whose reading kills it is reported."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(
            max_workers=1, mp_context=_pool_context(), initializer=_install, initargs=(register,)
        ) as one:
            return one.submit(_read_batch, paths).result()
    except BrokenProcessPool:
        if len(paths) > 1:
            return [data for path in paths for data in _read_alone([path], register)]
    from rag_workbook.returns import _fail_issue, _unreadable

    shown = paths[0].name
    issue = _fail_issue(
        shown,
        "reading it stopped the reader's process (the file may be damaged, or too large "
        "for this computer's memory)",
    )
    return [_unreadable(paths[0], shown, issue)]


def _pool_context() -> BaseContext:
    """'fork' where `cells.can_fork` allows it, else 'spawn', as on Windows.

    A forked worker starts in milliseconds with the modules and the register already in
    memory; a spawned one imports the package again and is sent the register once (by
    `_install`). Forking a process that runs other threads can deadlock, so then, and
    wherever fork is not safe or not there, workers are spawned: the path Windows always
    takes, which `RAG_WORKBOOK_NO_FORK=1` forces on Linux too (the tests run it).
    """
    import multiprocessing

    return multiprocessing.get_context("fork" if can_fork() else "spawn")


def _gather(
    executor: Executor,
    batches: list[list[Path]],
    register: Register | None,
    progress: Callable[[int], None] | None,
    meanwhile: Callable[[], object] | None = None,
    done: dict[int, list[ReturnData]] | None = None,
) -> list[ReturnData]:
    """Every batch read through `executor`, in order; `done` keeps each batch as it comes."""
    from concurrent.futures import as_completed

    futures = {executor.submit(_read_batch, batch, register): i for i, batch in enumerate(batches)}
    if meanwhile is not None:
        meanwhile()
    if done is None:
        done = {}
    for future in as_completed(futures):
        i = futures[future]
        done[i] = future.result()
        if progress is not None:
            progress(len(batches[i]))
    return [data for i in range(len(batches)) for data in done[i]]


def _says_nothing(text: str) -> bool:
    """True for an empty cell or a bare no-value word ("-", "n/a", "tbc")."""
    word = " ".join(text.split()).lower()
    return word in NO_VALUE_WORDS or word in ("", "\u2013", "\u2014")


def _latest_comment(
    notes: dict[tuple[str, str], tuple[RowNotes, ReturnData]], measure_id: str, from_quarter: int
) -> str:
    """The comment of this quarter, else of the nearest later quarter, else of an earlier one."""
    order = list(range(from_quarter, len(QUARTERS))) + list(range(from_quarter - 1, -1, -1))
    for qi in order:
        found = notes.get((measure_id, QUARTERS[qi]))
        if found and found[0].comment:
            return found[0].comment
    return ""


def _quarter_index(quarter: str) -> int:
    return QUARTER_INDEX.get(quarter, -1)


def _source(found: tuple[CellValue, ReturnData]) -> str:
    """`file!sheet!cell`, leaving out the parts that are empty."""
    cell, data = found
    return "!".join(p for p in (data.file, cell.sheet, cell.cell) if p)


def _each_quarter(values: list[Any]) -> list[Any]:
    """Each value once per quarter, in order: [a, a, a, a, b, b, b, b, ...]."""
    out: list[Any] = [None] * (len(values) * len(QUARTERS))
    for qi in range(len(QUARTERS)):
        out[qi :: len(QUARTERS)] = values
    return out


def _newest_first(returns: Iterable[ReturnData]) -> list[ReturnData]:
    # Newest submission first; ties keep the order given (stable sort on the reverse).
    ordered = list(returns)
    ordered.sort(key=lambda r: r.submitted, reverse=True)
    return ordered


def _fmt(cell: CellValue) -> str:
    if cell.value is not None:
        return f"{cell.value:g}"
    return repr(cell.text) if cell.text else "(empty)"


SUPERSEDED_NOTE = "this return is superseded by the newer"


def _return_issues(returns: Sequence[ReturnData]) -> tuple[list[Issue], set[str]]:
    """Every return's issues, and the measures whose cells a reader refused (for which
    "value missing" would say it twice).

    The issues of a return that a newer submission for the same theme superseded are
    marked as such and become notes: the newer return is the one that counts, and they
    never count as refusals nor put a lead on the chase list.
    """
    newest: dict[str, ReturnData] = {}
    for data in _newest_first(r for r in returns if r.readable and r.theme and not r.previous):
        newest.setdefault(data.theme, data)
    issues: list[Issue] = []
    refused: set[str] = set()
    for data in returns:
        newer = newest.get(data.theme) if data.readable and not data.previous else None
        superseded = newer is not None and newer is not data
        for issue in data.issues:
            if not isinstance(issue, Issue):
                continue
            if superseded and newer is not None:
                issue = replace(
                    issue,
                    severity=Severity.INFO,
                    message=f"{issue.message} ({SUPERSEDED_NOTE} {newer.file}, "
                    f"submitted {newer.submitted or 'unknown'})",
                )
            elif issue.severity == Severity.ERROR and issue.measure_id:
                refused.add(issue.measure_id)
            issues.append(issue)
    return issues, refused


def match_last_year(
    last_year: LastYear, register: Register
) -> tuple[dict[tuple[str, str], tuple[float | None, str]], list[Issue]]:
    """This year's measures matched with last year's: by ID, else by measure text (compared
    case- and space-insensitively) where the ID changed.

    Args:
        last_year: last year's Data rows.
        register: this year's measures.

    Returns:
        `(this year's measure ID, quarter) -> (last year's value, status)`, and a note for
        each measure matched by its text, each measure of this year with no match and each
        of last year's measures that matched none of this year's.

    Example:
        >>> values, notes = match_last_year(last_year, register)  # doctest: +SKIP
    """
    by_id: dict[str, list[LastYearRow]] = {}
    for row in last_year.rows:
        by_id.setdefault(row.measure_id, []).append(row)
    by_text: dict[str, str] = {}
    for measure_id, rows in by_id.items():
        by_text.setdefault(_text_key(rows[0].text), measure_id)
    used: set[str] = set()
    pairs: dict[str, str] = {}
    ids = {m.measure_id for m in register.measures}
    for m in register.measures:
        if m.measure_id in by_id:
            pairs[m.measure_id] = m.measure_id
            used.add(m.measure_id)
    issues: list[Issue] = []
    for m in register.measures:
        if m.measure_id in pairs:
            continue
        old = by_text.get(_text_key(m.text))
        if old is not None and old not in used and old not in ids:
            pairs[m.measure_id] = old
            used.add(old)
            issues.append(
                Issue.of(
                    Code.LAST_YEAR_MATCHED_BY_TEXT,
                    f"measure {m.measure_id} is matched with last year's {old} by its text",
                    file=last_year.file,
                    sheet="Data",
                    cell=by_id[old][0].cell,
                    measure_id=m.measure_id,
                )
            )
        else:
            issues.append(
                Issue.of(
                    Code.LAST_YEAR_UNMATCHED,
                    f"measure {m.measure_id} ({m.text}) is not in last year's dashboard "
                    "(by ID or text); it has no last-year values",
                    file=last_year.file,
                    sheet="Data",
                    measure_id=m.measure_id,
                )
            )
    for old, rows in by_id.items():
        if old not in used:
            issues.append(
                Issue.of(
                    Code.LAST_YEAR_UNMATCHED,
                    f"last year's measure {old} ({rows[0].text}) matches no measure of "
                    "this year's register",
                    file=last_year.file,
                    sheet="Data",
                    cell=rows[0].cell,
                )
            )
    values: dict[tuple[str, str], tuple[float | None, str]] = {}
    for new, old in pairs.items():
        for row in by_id[old]:
            if row.quarter in QUARTER_INDEX:
                values[(new, row.quarter)] = (row.value, row.status)
    return values, issues


def _text_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _overdue(register: Register, as_of: str) -> str:
    """'; due 2012-01-20, 17 days overdue' for the chase list ('' without Returns Due)."""
    due = register.settings.returns_due
    if not due:
        return ""
    days = _days_between(due, as_of)
    if days is None or days <= 0:
        return f"; due {due}"
    return f"; due {due}, {days} day{'s' if days != 1 else ''} overdue"


def _days_between(start: str, end: str) -> int | None:
    """Days from ISO date `start` to ISO date `end` (None if either is not a date)."""
    import datetime as dt

    try:
        return (dt.date.fromisoformat(end[:10]) - dt.date.fromisoformat(start[:10])).days
    except ValueError:
        return None


def days_overdue(register: Register, as_of: str) -> int | None:
    """Days the returns are overdue on `as_of` (an ISO date): 0 when not yet due, None
    when the template gives no Returns Due date.

    Example:
        >>> days_overdue(register, "2012-02-06")  # doctest: +SKIP
        17
    """
    due = register.settings.returns_due
    if not due:
        return None
    days = _days_between(due, as_of)
    return None if days is None else max(days, 0)


CHASE_CSV_HEADER = (
    "Lead",
    "Email",
    "Theme",
    "Missing",
    "Due Date",
    "Days Overdue",
)


def chase_rows(report: Report, register: Register, quarter: str, as_of: str) -> list[list[str]]:
    """The chase list, one row per lead (register order), for a mail merge.

    Each row: lead, e-mail, theme(s), the missing measures with their quarters
    ("4.1 Q1-Q3; 2.2 Q3"), the Returns Due date and the days overdue on `as_of` ("" when
    the template gives no date). Built from the `no-return` and `value-missing` issues.

    Example:
        >>> chase_rows(result.report, register, "Q3", "2012-02-06")[0][:2]  # doctest: +SKIP
        ['Drugs theme lead', 'drugs.lead@example.org']
    """
    reporting = _quarter_index(quarter)
    due_span = "Q1" if reporting == 0 else f"Q1-{QUARTERS[reporting]}" if reporting > 0 else "all"
    missing: dict[str, dict[str, list[str]]] = {}  # measure ID -> quarters, by measure
    for issue in report.issues:
        if issue.code == Code.NO_RETURN:
            missing.setdefault(issue.measure_id, {}).setdefault("q", []).append(due_span)
        elif issue.code == Code.VALUE_MISSING and issue.message[:2] in QUARTER_INDEX:
            missing.setdefault(issue.measure_id, {}).setdefault("q", []).append(issue.message[:2])
    due = register.settings.returns_due
    overdue = days_overdue(register, as_of) if as_of else None
    by_lead: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for measure in register.measures:
        found = missing.get(measure.measure_id)
        if not found:
            continue
        themes, items = by_lead.setdefault(
            (measure.lead or "the theme lead", measure.lead_email), ([], [])
        )
        if measure.theme not in themes:
            themes.append(measure.theme)
        items.append(f"{measure.measure_id} {', '.join(found['q'])}")
    return [
        [
            lead,
            email,
            "; ".join(themes),
            "; ".join(items),
            due,
            "" if overdue is None else str(overdue),
        ]
        for (lead, email), (themes, items) in by_lead.items()
    ]


def _text_of(number: int | None) -> str:
    return "" if number is None else str(number)


def merge_returns(
    returns: Sequence[ReturnData],
    register: Register,
    *,
    last_year: LastYear | None = None,
    as_of: str = "",
) -> MergeResult:
    """Merge the returns into the master frame.

    For each measure and quarter the newest submitted value wins (the return's Submitted
    date, else the workbook's saved time, else the file time, as the reader found it);
    every different value it supersedes is reported as `superseded-value`. Comments and
    overrides belong to the quarter the return reports (its Quarter, else the latest
    quarter it gives a value for). Measures no return covers are on the chase list
    (`no-return`, with the lead and e-mail). The issues of a return that a newer return
    for the same theme superseded become notes saying so (see `_return_issues`).

    Where the Settings require sign-off, a return without both Approved By and Approved
    On gets `return-not-signed-off` naming the cells, and its values are marked
    (`unsigned`). Each chase-list entry gives the Returns Due date and the days overdue on
    `as_of`; a due quarter left blank in a return is chased with its file and cell.

    Args:
        returns: what `read_returns` gave, in any order.
        register: the measures and settings.
        last_year: last year's dashboard rows; their values and statuses fill
            `last_year_value` and `last_year_status` (see `match_last_year`).
        as_of: the run's date (ISO) for the days overdue; "" leaves them out.

    Returns:
        A MergeResult; its frame has the columns of columns.MASTER.

    Example:
        >>> result = merge_returns(read_returns(paths, register), register)  # doctest: +SKIP
    """
    issues, refused = _return_issues(returns)
    usable = _distinct(returns, issues)
    found = _newest_values(usable, {m.measure_id for m in register.measures}, issues)
    current = register.settings.current_quarter
    reporting = _quarter_index(current) if current in QUARTERS else found.latest_quarter
    keys = [(m.measure_id, quarter) for m in register.measures for quarter in QUARTERS]
    winners = list(map(found.winner.get, keys))
    given: list[CellValue | None] = [w[0] if w is not None else None for w in winners]
    dues = [qi <= reporting for qi in range(len(QUARTERS))]
    issues += _signoff_issues(register, usable)
    overdue = _overdue(register, as_of) if as_of else ""
    issues += _chase_list(
        register, found.covered, refused, given, dues, _blank_cells(usable), overdue
    )
    last: dict[tuple[str, str], tuple[float | None, str]] = {}
    if last_year is not None:
        last, notes = match_last_year(last_year, register)
        issues += notes
    columns = _master_columns(register, keys, winners, found.notes, dues)
    columns[c.LAST_YEAR_VALUE] = [
        v if (v := last.get(key, (None, ""))[0]) is not None else float("nan") for key in keys
    ]
    columns[c.LAST_YEAR_STATUS] = [last.get(key, (None, ""))[1] for key in keys]
    return MergeResult(
        columns=columns,
        report=Report(tuple(issues)),
        returns=tuple(returns),
        quarter=QUARTERS[reporting] if reporting >= 0 else "",
    )


def _signoff_issues(register: Register, usable: Sequence[ReturnData]) -> list[Issue]:
    """`return-not-signed-off` for each return without Approved By and Approved On, where
    the Settings require sign-off."""
    if not register.settings.signoff_required:
        return []
    issues: list[Issue] = []
    for data in usable:
        if data.previous or not data.theme or (data.approved_by and data.approved_on):
            continue
        by_cell, on_cell = data.approval_cells
        missing = [
            f"{label} ({cell})" if cell else f"{label} (no such field)"
            for label, cell, value in (
                ("Approved By", by_cell, data.approved_by),
                ("Approved On", on_cell, data.approved_on),
            )
            if not value
        ]
        sheet = next((v.sheet for v in data.values if v.sheet), "")
        cell = by_cell if not data.approved_by else on_cell
        issues.append(
            Issue.of(
                Code.RETURN_NOT_SIGNED_OFF,
                f"the {data.theme} return is not signed off: {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} blank; its values are marked "
                "on the Dashboard",
                file=data.file,
                sheet=sheet,
                cell=cell,
            )
        )
    return issues


def _blank_cells(usable: Sequence[ReturnData]) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(measure ID, quarter) -> (file, sheet, cell) of the newest return's blank cell."""
    blanks: dict[tuple[str, str], tuple[str, str, str]] = {}
    for data in _newest_first(r for r in usable if not r.previous):
        for measure_id, quarter, sheet, cell in data.blanks:
            blanks.setdefault((measure_id, quarter), (data.file, sheet, cell))
    return blanks


def _distinct(returns: Sequence[ReturnData], issues: list[Issue]) -> list[ReturnData]:
    """The readable returns, each content once (a copy is reported as `duplicate-file`)."""
    seen_hashes: dict[str, str] = {}
    usable: list[ReturnData] = []
    for data in returns:
        if not data.readable:
            continue
        if data.sha256 and data.sha256 in seen_hashes:
            issues.append(
                Issue.of(
                    Code.DUPLICATE_FILE,
                    f"same content as {seen_hashes[data.sha256]}; read once",
                    file=data.file,
                )
            )
            continue
        if data.sha256:
            seen_hashes[data.sha256] = data.file
        usable.append(data)
    return usable


@dataclass
class _Found:
    """What the returns give, newest first: the winning value and notes of each measure
    and quarter, the measures covered, and the latest quarter any return reports."""

    winner: dict[tuple[str, str], tuple[CellValue, ReturnData]]
    notes: dict[tuple[str, str], tuple[RowNotes, ReturnData]]
    covered: set[str]
    latest_quarter: int = -1


def _newest_values(usable: Iterable[ReturnData], known: set[str], issues: list[Issue]) -> _Found:
    """The newest submitted value of each measure and quarter wins; each different value
    it supersedes is reported as `superseded-value`."""
    found = _Found({}, {}, set())
    winner = found.winner
    for data in _newest_first(usable):
        per_measure_latest: dict[str, int] = {}
        for cell in data.values:
            measure_id = cell.measure_id
            q = QUARTER_INDEX.get(cell.quarter, -1)
            if q < 0 or measure_id not in known:
                continue
            if not data.previous:
                found.covered.add(measure_id)
            found.latest_quarter = max(found.latest_quarter, q)
            if q > per_measure_latest.get(measure_id, -1):
                per_measure_latest[measure_id] = q
            key = (measure_id, cell.quarter)
            best = winner.get(key)
            if best is None:
                winner[key] = (cell, data)
            elif best[0].value != cell.value or (
                best[0].value is None and best[0].text != cell.text
            ):
                issues.append(_superseded(cell, data, *best))
        _keep_notes(found, data, known, per_measure_latest)
    return found


def _superseded(cell: CellValue, data: ReturnData, kept: CellValue, kept_from: ReturnData) -> Issue:
    return Issue.of(
        Code.SUPERSEDED_VALUE,
        f"{cell.quarter} of measure {cell.measure_id} was {_fmt(cell)} here, "
        f"superseded by {_fmt(kept)} in the newer return {kept_from.file}"
        f" (submitted {kept_from.submitted or 'unknown'})",
        file=data.file,
        sheet=cell.sheet,
        cell=cell.cell,
        value=cell.text,
        measure_id=cell.measure_id,
    )


def _keep_notes(
    found: _Found, data: ReturnData, known: set[str], per_measure_latest: dict[str, int]
) -> None:
    """Comments and overrides belong to the quarter the return reports (its Quarter, else
    the latest quarter it gives a value for); the newest return's notes win."""
    for note in data.notes:
        if note.measure_id not in known:
            continue
        if not data.previous:
            found.covered.add(note.measure_id)
        quarter = (
            note.quarter
            or data.quarter
            or (
                QUARTERS[per_measure_latest[note.measure_id]]
                if note.measure_id in per_measure_latest
                else ""
            )
        )
        if quarter not in QUARTERS:
            continue
        found.latest_quarter = max(found.latest_quarter, _quarter_index(quarter))
        found.notes.setdefault((note.measure_id, quarter), (note, data))


def _chase_list(
    register: Register,
    covered: set[str],
    refused: set[str],
    given: list[CellValue | None],
    dues: list[bool],
    blanks: Mapping[tuple[str, str], tuple[str, str, str]],
    overdue: str,
) -> list[Issue]:
    """In register order: measures no return covers (`no-return`, with the lead and
    e-mail), then each due quarter with neither value nor reason (`value-missing`, with
    the file and cell a return left blank); `overdue` ends each message ('; due ...')."""
    issues: list[Issue] = []
    due_quarters = [(qi, quarter) for qi, quarter in enumerate(QUARTERS) if dues[qi]]
    for index, measure in enumerate(register.measures):
        measure_id = measure.measure_id
        if measure_id not in covered:
            who = measure.lead or "the theme lead"
            email = f" <{measure.lead_email}>" if measure.lead_email else ""
            issues.append(
                Issue.of(
                    Code.NO_RETURN,
                    f"no return gives measure {measure_id} "
                    f"({measure.theme}: {measure.text}); lead {who}{email}{overdue}",
                    fix=f"chase {who}{email} for the {measure.theme} return",
                    measure_id=measure_id,
                )
            )
            continue
        if measure_id in refused:
            continue
        base = index * len(QUARTERS)
        for qi, quarter in due_quarters:
            gave = given[base + qi]
            if gave is None or (gave.value is None and not gave.text):
                file, sheet, cell = blanks.get((measure_id, quarter), ("", "", ""))
                where = f"is blank in {file}" if file else "is given by no return"
                who = measure.lead or "the lead"
                email = f" <{measure.lead_email}>" if measure.lead_email else ""
                issues.append(
                    Issue.of(
                        Code.VALUE_MISSING,
                        f"{quarter} of measure {measure_id} is due but {where}: no value "
                        f"or reason; lead {who}{email}{overdue}",
                        fix=f"ask {who} for the {quarter} figure, or 'n/a' with a reason",
                        file=file,
                        sheet=sheet,
                        cell=cell,
                        measure_id=measure_id,
                    )
                )
    return issues


def _master_columns(
    register: Register,
    keys: list[tuple[str, str]],
    found: list[tuple[CellValue, ReturnData] | None],
    notes: dict[tuple[str, str], tuple[RowNotes, ReturnData]],
    dues: list[bool],
) -> dict[str, list[Any]]:
    """The frame, a column at a time (25,000 rows for a national collection)."""
    measures = register.measures
    required = register.settings.signoff_required
    given: list[CellValue | None] = [f[0] if f is not None else None for f in found]
    noted: list[RowNotes | None] = [n[0] if n is not None else None for n in map(notes.get, keys)]
    nan = float("nan")
    raws = [gave.text if gave is not None else "" for gave in given]
    reasons = [
        ""
        if gave is None or gave.value is not None
        else (
            (_latest_comment(notes, key[0], QUARTERS.index(key[1])) or raw)
            if _says_nothing(raw)
            else raw
        )
        for gave, raw, key in zip(given, raws, keys, strict=True)
    ]
    return {
        c.THEME: _each_quarter([m.theme for m in measures]),
        c.MEASURE_ID: _each_quarter([m.measure_id for m in measures]),
        c.MEASURE_TEXT: _each_quarter([m.text for m in measures]),
        c.LEAD: _each_quarter([m.lead for m in measures]),
        c.QUARTER: list(QUARTERS) * len(measures),
        c.DUE: dues * len(measures),
        c.VALUE: [
            gave.value if gave is not None and gave.value is not None else nan for gave in given
        ],
        c.RAW: raws,
        c.REASON: reasons,
        c.OVERRIDE: [str(n.override) if n is not None and n.override else "" for n in noted],
        c.OVERRIDE_REASON: [n.override_reason if n is not None else "" for n in noted],
        c.COMMENT: [n.comment if n is not None else "" for n in noted],
        c.SOURCE: [
            (
                f"{f[1].file}!{cell.sheet}!{cell.cell}"
                if (cell := f[0]).sheet and cell.cell and f[1].file
                else _source(f)
            )
            if f is not None
            else ""
            for f in found
        ],
        c.SUBMITTED: [f[1].submitted if f is not None else "" for f in found],
        c.ACTION: [n.action if n is not None else "" for n in noted],
        c.APPROVAL: [_approval(f[1]) if f is not None else "" for f in found],
        c.UNSIGNED: [
            required and f is not None and not f[1].previous and not _approval(f[1]) for f in found
        ],
    }


def _approval(data: ReturnData) -> str:
    """'Jane Smith on 2012-01-20' when the return is signed off, else ''."""
    if data.approved_by and data.approved_on:
        return f"{data.approved_by} on {data.approved_on}"
    return ""
