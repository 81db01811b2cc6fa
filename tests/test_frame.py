"""The API's frames as pandas users expect them (issue 16 item 8), and the README's Dask
example run against a real dask.distributed local cluster (skipped without the `dask`
extra: `pip install -e '.[test,dask]'`)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rag_workbook import columns as col
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.pipeline import RunResult, check_returns


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return copy_demo_inputs(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def result(demo: tuple[Path, Path]) -> RunResult:
    template, folder = demo
    return check_returns([folder], template)


def test_the_frames_columns_have_the_types_pandas_users_expect(result: RunResult) -> None:
    frame = result.frame
    kinds = {name: str(frame[name].dtype) for name in frame.columns}
    assert {name for name, kind in kinds.items() if kind == "string"} == {
        col.THEME, col.MEASURE_ID, col.MEASURE_TEXT, col.LEAD, col.RAW, col.REASON,
        col.OVERRIDE, col.OVERRIDE_REASON, col.COMMENT, col.SOURCE, col.EXPLANATION,
        col.ACTION, col.APPROVAL, col.LAST_YEAR_STATUS, col.FORECAST_STATUS,
        col.FORECAST_EXPLANATION,
    }  # fmt: skip
    assert (kinds[col.VALUE], kinds[col.TARGET], kinds[col.DUE], kinds[col.IS_OVERRIDE]) == (
        "float64",
        "float64",
        "bool",
        "bool",
    )
    assert pd.api.types.is_datetime64_any_dtype(frame[col.SUBMITTED])
    quarter, status = frame[col.QUARTER].dtype, frame[col.STATUS].dtype
    assert (list(quarter.categories), quarter.ordered) == (["Q1", "Q2", "Q3", "Q4"], True)
    assert (list(status.categories), status.ordered) == (
        ["Green", "Amber", "Red", "No data"],
        True,
    )
    assert [frame[name].dtype.name for name in (col.POLARITY, col.BASIS, col.DIRECTION)] == [
        "category"
    ] * 3


def test_missing_values_are_missing_not_empty_text(result: RunResult) -> None:
    frame = result.frame.set_index([col.MEASURE_ID, col.QUARTER])
    not_due = frame.loc[("1.1", "Q4")]  # Stockton reports Q3: Q4 is not yet due
    assert pd.isna(not_due[col.STATUS]) and pd.isna(not_due[col.EXPLANATION])
    assert pd.isna(not_due[col.VALUE]) and pd.isna(not_due[col.SUBMITTED])
    assert pd.isna(not_due[col.RAW]) and pd.isna(not_due[col.SOURCE])
    # no "" left anywhere: every empty text became pd.NA
    texts = result.frame.select_dtypes("string")
    assert not (texts == "").any().any()
    given = frame.loc[("1.1", "Q1")]
    assert given[col.SUBMITTED] == pd.Timestamp("2012-01-27")
    assert isinstance(given[col.VALUE], float) and given[col.STATUS] in ("Green", "Amber", "Red")


def test_statuses_and_quarters_sort_and_compare_in_their_order(result: RunResult) -> None:
    frame = result.frame
    due = frame[frame[col.QUARTER] <= "Q3"]
    assert set(due[col.QUARTER]) == {"Q1", "Q2", "Q3"}
    worst_first = frame.dropna(subset=[col.STATUS]).sort_values(col.STATUS, ascending=False)
    assert worst_first[col.STATUS].iloc[0] == "No data"
    counts = frame[col.STATUS].value_counts(sort=False)
    assert list(counts.index) == ["Green", "Amber", "Red", "No data"]
    assert counts.sum() == frame[col.STATUS].notna().sum() == int(frame[col.DUE].sum())


def test_the_merge_results_frame_is_the_master_part_of_the_rated_one(
    demo: tuple[Path, Path], result: RunResult
) -> None:
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.returns import find_returns
    from rag_workbook.template import read_template

    template, folder = demo
    register = read_template(template)
    paths, _ = find_returns([folder])
    master = merge_returns(read_returns(paths, register), register).frame
    pd.testing.assert_frame_equal(master, result.frame[list(col.MASTER)])


# The README's example, in a process of its own: a Dask client leaves threads running
# behind it, and a process with other threads must not fork (cells.can_fork), which
# would change how the tests after this one read.
_DASK_EXAMPLE = """
import json, sys
from dask.distributed import Client, LocalCluster
from rag_workbook.pipeline import check_returns

with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    result = check_returns([sys.argv[1]], sys.argv[2], executor=client.get_executor())
frame = result.frame
print(json.dumps({
    "statuses": frame["status"].astype(object).where(frame["status"].notna(), "").tolist(),
    "values": frame["value"].fillna(-1).tolist(),
    "issues": [str(i) for i in result.report.issues],
}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="the dask extra is not installed"
)
def test_the_readmes_dask_executor_example_runs_on_a_local_cluster(
    demo: tuple[Path, Path], result: RunResult
) -> None:
    template, folder = demo
    done = subprocess.run(
        [sys.executable, "-c", _DASK_EXAMPLE, str(folder), str(template)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    frame = result.frame
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "statuses": ["" if pd.isna(s) else s for s in frame[col.STATUS]],
        "values": frame[col.VALUE].fillna(-1).tolist(),
        "issues": [str(i) for i in result.report.issues],
    }
