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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_workbook import columns as c
from rag_workbook.gcpause import collector_paused
from rag_workbook.layout import NO_VALUE_WORDS
from rag_workbook.model import (
    QUARTER_INDEX,
    QUARTERS,
    CellValue,
    Register,
    ReturnData,
    RowNotes,
    Severity,
)
from rag_workbook.report import Issue, Report

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
    """The master frame of merged columns (numbers float64, flags bool, texts str)."""
    import pandas as pd

    frame = pd.DataFrame(dict(columns), columns=list(c.MASTER))
    dtypes = {c.Kind.NUMBER: "float64", c.Kind.FLAG: "bool"}  # as columns.COLUMNS declares
    return frame.astype(
        {
            column.name: dtypes[column.kind]
            for column in c.COLUMNS
            if column.stage is c.Stage.MERGE and column.kind in dtypes
        }
    )


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
            # A worker died (killed, out of memory, or a crash on some file): what it left
            # is read batch by batch in processes of their own, so that a file that kills
            # its reader is reported rather than taking this process down with it.
            for i, batch in enumerate(batches):
                if i not in done:
                    done[i] = _read_alone(batch, register)
                    if progress is not None:
                        progress(len(batch))
            return [data for i in range(len(batches)) for data in done[i]]
    if meanwhile is not None:
        meanwhile()
    from rag_workbook.returns import read_return

    results = []
    for path in paths:
        results.append(read_return(path, register, display=path.name))
        if progress is not None:
            progress(1)
    return results


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


def _pool_context() -> BaseContext | None:
    """'fork' on Linux when this process runs one thread, else the platform's default.

    A forked worker starts in milliseconds with the modules and the register already in
    memory; a spawned or forkserver one imports the package again and is sent the
    register (Python 3.14 makes forkserver the default on Linux). Forking a process
    that runs other threads can deadlock, so then the default is kept.
    """
    import multiprocessing
    import sys
    import threading

    if (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    ):
        return multiprocessing.get_context("fork")
    return None


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


def merge_returns(returns: Sequence[ReturnData], register: Register) -> MergeResult:
    """Merge the returns into the master frame.

    For each measure and quarter the newest submitted value wins (the return's Submitted
    date, else the workbook's saved time, else the file time, as the reader found it);
    every different value it supersedes is reported as `superseded-value`. Comments and
    overrides belong to the quarter the return reports (its Quarter, else the latest
    quarter it gives a value for). Measures no return covers are on the chase list
    (`no-return`, with the lead and e-mail).

    Args:
        returns: what `read_returns` gave, in any order.
        register: the measures and settings.

    Returns:
        A MergeResult; its frame has the columns of columns.MASTER.

    Example:
        >>> result = merge_returns(read_returns(paths, register), register)  # doctest: +SKIP
    """
    issues: list[Issue] = []
    # Measures whose cells the reader already refused: "value missing" would say it twice.
    refused: set[str] = set()
    for data in returns:
        for issue in data.issues:
            if isinstance(issue, Issue):
                issues.append(issue)
                if issue.severity == Severity.ERROR and issue.measure_id:
                    refused.add(issue.measure_id)

    seen_hashes: dict[str, str] = {}
    usable: list[ReturnData] = []
    for data in returns:
        if not data.readable:
            continue
        if data.sha256 and data.sha256 in seen_hashes:
            issues.append(
                Issue(
                    code="duplicate-file",
                    severity=Severity.INFO,
                    message=f"same content as {seen_hashes[data.sha256]}; read once",
                    fix="remove one of the copies",
                    file=data.file,
                )
            )
            continue
        if data.sha256:
            seen_hashes[data.sha256] = data.file
        usable.append(data)

    known = {m.measure_id for m in register.measures}
    quarter_at = QUARTER_INDEX
    winner: dict[tuple[str, str], tuple[CellValue, ReturnData]] = {}
    notes: dict[tuple[str, str], tuple[RowNotes, ReturnData]] = {}
    covered: set[str] = set()
    latest_quarter = -1
    for data in _newest_first(usable):
        per_measure_latest: dict[str, int] = {}
        for cell in data.values:
            measure_id = cell.measure_id
            q = quarter_at.get(cell.quarter, -1)
            if q < 0 or measure_id not in known:
                continue
            if not data.previous:
                covered.add(measure_id)
            if q > latest_quarter:
                latest_quarter = q
            if q > per_measure_latest.get(measure_id, -1):
                per_measure_latest[measure_id] = q
            key = (measure_id, cell.quarter)
            best = winner.get(key)
            if best is None:
                winner[key] = (cell, data)
                continue
            kept, kept_from = best
            if kept.value != cell.value or (kept.value is None and kept.text != cell.text):
                issues.append(
                    Issue(
                        code="superseded-value",
                        severity=Severity.WARNING,
                        message=(
                            f"{cell.quarter} of measure {cell.measure_id} was {_fmt(cell)} here, "
                            f"superseded by {_fmt(kept)} in the newer return {kept_from.file}"
                            f" (submitted {kept_from.submitted or 'unknown'})"
                        ),
                        fix="check which figure is right; the newest return wins",
                        file=data.file,
                        sheet=cell.sheet,
                        cell=cell.cell,
                        value=cell.text,
                        measure_id=cell.measure_id,
                    )
                )
        for note in data.notes:
            if note.measure_id not in known:
                continue
            covered.add(note.measure_id)
            quarter = data.quarter or (
                QUARTERS[per_measure_latest[note.measure_id]]
                if note.measure_id in per_measure_latest
                else ""
            )
            if quarter not in QUARTERS:
                continue
            latest_quarter = max(latest_quarter, _quarter_index(quarter))
            notes.setdefault((note.measure_id, quarter), (note, data))

    current = register.settings.current_quarter
    reporting = _quarter_index(current) if current in QUARTERS else latest_quarter

    measures = register.measures
    per_quarter = len(QUARTERS)
    ids = [m.measure_id for m in measures]
    keys = [(measure_id, quarter) for measure_id in ids for quarter in QUARTERS]
    found = list(map(winner.get, keys))
    given: list[CellValue | None] = [f[0] if f is not None else None for f in found]
    noted: list[RowNotes | None] = [n[0] if n is not None else None for n in map(notes.get, keys)]
    dues = [qi <= reporting for qi in range(per_quarter)]
    due_quarters = [(qi, quarter) for qi, quarter in enumerate(QUARTERS) if dues[qi]]

    # Issues in register order: the chase, then each due quarter with neither value nor reason.
    for index, measure in enumerate(measures):
        measure_id = measure.measure_id
        if measure_id not in covered:
            who = measure.lead or "the theme lead"
            email = f" <{measure.lead_email}>" if measure.lead_email else ""
            issues.append(
                Issue(
                    code="no-return",
                    severity=Severity.WARNING,
                    message=(
                        f"no return gives measure {measure_id} "
                        f"({measure.theme}: {measure.text}); lead {who}{email}"
                    ),
                    fix=f"chase {who}{email} for the {measure.theme} return",
                    measure_id=measure_id,
                )
            )
            continue
        if measure_id in refused:
            continue
        base = index * per_quarter
        for qi, quarter in due_quarters:
            gave = given[base + qi]
            if gave is None or (gave.value is None and not gave.text):
                issues.append(
                    Issue(
                        code="value-missing",
                        severity=Severity.WARNING,
                        message=(
                            f"{quarter} of measure {measure_id} is due but no return "
                            "gives a value or a reason"
                        ),
                        fix=f"ask {measure.lead or 'the lead'} for the {quarter} figure, "
                        "or 'n/a' with a reason",
                        measure_id=measure_id,
                    )
                )

    # The frame, a column at a time (25,000 rows for a national collection).
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
    cols: dict[str, list[Any]] = {
        c.THEME: _each_quarter([m.theme for m in measures]),
        c.MEASURE_ID: _each_quarter(ids),
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
    }

    return MergeResult(
        columns=cols,
        report=Report(tuple(issues)),
        returns=tuple(returns),
        quarter=QUARTERS[reporting] if reporting >= 0 else "",
    )
