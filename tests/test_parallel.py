"""merge.read_returns in parallel: the same returns, frame and issues however files are read.

The set is small (the Stockton returns, late and revised copies, a messy one, a duplicate,
a damaged file), so the pool is forced by lowering `merge.POOL_THRESHOLD`, or by handing
read_returns an executor, which is always used.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rag_workbook import merge
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.forms import write_return
from rag_workbook.merge import merge_returns, read_returns
from rag_workbook.model import Register, ReturnData, RowNotes, Status
from rag_workbook.pipeline import check_returns
from rag_workbook.rag import apply_rag
from rag_workbook.returns import find_returns
from rag_workbook.template import read_template


@pytest.fixture(scope="module")
def returns_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Stockton template and a folder of 11 returns that give issues of several kinds."""
    base = tmp_path_factory.mktemp("parallel")
    template, folder = copy_demo_inputs(base)
    register = read_template(template)
    # A revised ASB return, newer than the original: supersedes two values.
    write_return(
        folder / "ASB_revised.xlsx",
        register,
        "ASB",
        values={("1.1", "Q1"): 130.0, ("1.1", "Q2"): 241.0, ("1.1", "Q3"): 355.0},
        quarter="Q3",
        submitted="2012-02-01",
    )
    # A late Drugs return from before the original: loses to it, listed as superseded.
    write_return(
        folder / "Drugs_late.xlsx",
        register,
        "Drugs",
        values={("4.2", "Q3"): 37.0},
        quarter="Q3",
        submitted="2012-01-02",
    )
    # Messy values: text numbers, a word that is not a number, an override without reason.
    write_return(
        folder / "Violence_messy.xlsx",
        register,
        "Violence",
        values={("3.1", "Q3"): "60", ("3.2", "Q3"): "seven hundred", ("3.3", "Q3"): "n/a"},
        notes={"3.1": RowNotes("3.1", override=Status.GREEN)},
        quarter="Q3",
        submitted="2012-02-02",
    )
    shutil.copyfile(folder / "Alcohol_Q3_return.xlsx", folder / "Alcohol copy.xlsx")
    (folder / "damaged.xlsx").write_bytes(b"PK\x03\x04 this is not a whole zip")
    return template, folder


def _read(
    returns_set: tuple[Path, Path], how: Callable[[list[Path], Register], list[ReturnData]]
) -> tuple[list[ReturnData], pd.DataFrame, list[tuple[str, ...]]]:
    template, folder = returns_set
    register = read_template(template)
    paths, _ = find_returns([folder])
    data = how(paths, register)
    merged = merge_returns(data, register)
    frame, report = apply_rag(merged.frame, register)
    issues = [
        (i.code, str(i.severity), i.file, i.sheet, i.cell, i.message)
        for i in (merged.report + report).issues
    ]
    return data, frame, issues


def test_the_set_exercises_issues(returns_set: tuple[Path, Path]) -> None:
    data, frame, issues = _read(returns_set, lambda p, r: read_returns(p, r))
    codes = {code for code, *_ in issues}
    assert len(data) == 11
    assert {"superseded-value", "duplicate-file", "value-not-a-number", "file-corrupt"} <= codes
    assert len(frame) == 19 * 4


def test_reading_pauses_the_collector_and_restores_it(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from rag_workbook import returns

    seen: list[bool] = []
    read_one = returns.read_return

    def recording(*args: Any, **kwargs: Any) -> ReturnData:
        seen.append(gc.isenabled())
        return read_one(*args, **kwargs)

    monkeypatch.setattr(returns, "read_return", recording)
    template, folder = returns_set
    paths, _ = find_returns([folder])
    assert gc.isenabled()
    read_returns(paths, read_template(template))
    assert gc.isenabled() and seen == [False] * len(paths)
    # through a caller's executor, as well
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        seen.clear()
        read_returns(paths, read_template(template), executor=pool)
    assert gc.isenabled() and seen == [False] * len(paths)


@pytest.mark.parametrize(
    "name",
    [
        "jobs=2 (pool forced)",
        "ProcessPoolExecutor",
        "ThreadPoolExecutor",
        "jobs=2 (below threshold)",
    ],
)
def test_parallel_reads_equal_serial(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    serial = _read(returns_set, lambda p, r: read_returns(p, r, jobs=1))

    def parallel(paths: list[Path], register: Register) -> list[ReturnData]:
        if name == "jobs=2 (pool forced)":
            monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
            return read_returns(paths, register, jobs=2)
        if name == "jobs=2 (below threshold)":
            return read_returns(paths, register, jobs=2)
        pool_class = (
            concurrent.futures.ProcessPoolExecutor
            if name == "ProcessPoolExecutor"
            else concurrent.futures.ThreadPoolExecutor
        )
        with pool_class(max_workers=2) as pool:
            return read_returns(paths, register, executor=pool)

    data, frame, issues = _read(returns_set, parallel)
    assert data == serial[0]
    pd.testing.assert_frame_equal(frame, serial[1])
    assert issues == serial[2]


def test_no_pool_below_the_threshold(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process pool was started for a handful of files")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refuse)
    template, folder = returns_set
    paths, _ = find_returns([folder])
    assert len(read_returns(paths, read_template(template), jobs=2)) == len(paths)


def test_progress_counts_every_file(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
    template, folder = returns_set
    paths, _ = find_returns([folder])
    ticks: list[int] = []
    read_returns(paths, read_template(template), jobs=2, progress=ticks.append)
    assert sum(ticks) == len(paths)


def test_pipeline_jobs_1_and_2_agree(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    template, folder = returns_set
    one = check_returns([folder], template, jobs=1)
    monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
    two = check_returns([folder], template, jobs=2)
    pd.testing.assert_frame_equal(one.frame, two.frame)
    assert one.report == two.report
    assert one.returns == two.returns


@pytest.mark.parametrize("how", ["here", "pool", "executor"])
def test_meanwhile_runs_once_while_the_files_are_read(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    template, folder = returns_set
    register = read_template(template)
    paths, _ = find_returns([folder])
    calls: list[int] = []
    done: list[int] = []

    def meanwhile() -> None:
        calls.append(len(done))  # how many files were finished when it ran

    def read(executor: concurrent.futures.Executor | None = None, jobs: int = 1) -> None:
        data = read_returns(
            paths, register, jobs=jobs, executor=executor, progress=done.append, meanwhile=meanwhile
        )
        assert data == read_returns(paths, register)

    if how == "pool":
        monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
        read(jobs=2)
    elif how == "executor":
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            read(executor=pool)
    else:
        read()
    assert len(calls) == 1
    assert calls[0] == 0  # before any result was taken in


def test_a_worker_killed_once_leaves_the_same_results(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A worker killed mid-read (by the out-of-memory killer, say) breaks the whole pool;
    # the files not yet read are read again, and the result is what jobs=1 gives.
    serial = _read(returns_set, lambda p, r: read_returns(p, r, jobs=1))
    monkeypatch.setattr(merge, "_read_batch", _dies_in_a_worker)
    monkeypatch.setattr(_DEATH, "parent", os.getpid())
    monkeypatch.setattr(_DEATH, "once", tmp_path / "died")
    monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
    ticks: list[int] = []

    def jobs_2(paths: list[Path], register: Register) -> list[ReturnData]:
        return read_returns(paths, register, jobs=2, progress=ticks.append)

    data, frame, issues = _read(returns_set, jobs_2)
    assert (tmp_path / "died").exists()
    assert data == serial[0]
    pd.testing.assert_frame_equal(frame, serial[1])
    assert issues == serial[2]
    assert sum(ticks) == len(data)


def test_a_file_that_kills_its_reader_is_reported_and_the_rest_read(
    returns_set: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = _read(returns_set, lambda p, r: read_returns(p, r, jobs=1))
    monkeypatch.setattr(merge, "_read_batch", _dies_in_a_worker)
    monkeypatch.setattr(_DEATH, "parent", os.getpid())
    monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
    data, _, issues = _read(returns_set, lambda p, r: read_returns(p, r, jobs=2))
    killers = [d for d in data if d.file.startswith("Alcohol")]
    assert killers and all(not d.readable for d in killers)
    assert {(i.code, i.file, i.message) for d in killers for i in d.issues} == {
        (
            "file-unreadable",
            d.file,
            "reading it stopped the reader's process (the file may be damaged, or too large "
            "for this computer's memory)",
        )
        for d in killers
    }
    assert [d for d in data if d not in killers] == [
        d for d in serial[0] if not d.file.startswith("Alcohol")
    ]
    assert sum(code == "file-unreadable" for code, *_ in issues) == len(killers)


class _DEATH:
    """Who may die in `_dies_in_a_worker`: any process but `parent`; only once if `once`."""

    parent = 0
    once: Path | None = None


_READ_BATCH = merge._read_batch


def _dies_in_a_worker(paths: list[Path], register: Register | None = None) -> list[ReturnData]:
    """merge._read_batch, except that a worker given an Alcohol return dies at once."""
    worker = os.getpid() != _DEATH.parent
    if worker and any(p.name.startswith("Alcohol") for p in paths):
        if _DEATH.once is None:
            os._exit(9)
        if not _DEATH.once.exists():
            _DEATH.once.touch()
            os._exit(9)
    return _READ_BATCH(paths, register)
