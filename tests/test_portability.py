"""Portable to the analyst's own machine (issue 16 item 9): what Windows does, run on Linux.

Windows cannot fork: the process pool's workers are spawned there, which
`RAG_WORKBOOK_NO_FORK=1` forces here, and must read exactly as forked ones. Windows also
refuses to replace a file Excel holds open; the refusal (a PermissionError from
os.replace) is simulated in a real `rag-workbook merge` process.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rag_workbook import merge
from rag_workbook.cells import can_fork
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.merge import merge_returns, read_returns
from rag_workbook.rag import apply_rag
from rag_workbook.returns import find_returns
from rag_workbook.template import read_template


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return copy_demo_inputs(tmp_path_factory.mktemp("demo"))


def _merged(template: Path, folder: Path, jobs: int) -> tuple[object, pd.DataFrame, list[str]]:
    register = read_template(template)
    paths, _ = find_returns([folder])
    data = read_returns(paths, register, jobs=jobs)
    merged = merge_returns(data, register)
    frame, report = apply_rag(merged.frame, register)
    return data, frame, [str(i) for i in (merged.report + report).issues]


def test_spawned_workers_read_as_forked_ones_and_as_one_process(
    demo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    template, folder = demo
    serial = _merged(template, folder, jobs=1)
    monkeypatch.setattr(merge, "POOL_THRESHOLD", 1)
    methods: list[str] = []
    chosen = merge._pool_context

    def recording() -> object:
        context = chosen()
        methods.append(context.get_start_method())
        return context

    monkeypatch.setattr(merge, "_pool_context", recording)
    monkeypatch.setenv("RAG_WORKBOOK_NO_FORK", "1")
    assert not can_fork()
    spawned = _merged(template, folder, jobs=2)
    monkeypatch.delenv("RAG_WORKBOOK_NO_FORK")
    forked = _merged(template, folder, jobs=2)
    assert methods == ["spawn", "fork" if can_fork() else "spawn"]
    for other in (spawned, forked):
        assert other[0] == serial[0]
        pd.testing.assert_frame_equal(other[1], serial[1])
        assert other[2] == serial[2]


# Runs the real command line with os.replace refusing the dashboard, as Windows refuses
# to replace a workbook that Excel holds open (ERROR_SHARING_VIOLATION -> PermissionError).
_EXCEL_HOLDS_IT_OPEN = """
import os, sys
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if os.path.basename(os.fspath(dst)) == "dashboard.xlsx":
        raise PermissionError(13, "The process cannot access the file because it is "
                              "being used by another process", os.fspath(dst))
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from rag_workbook.cli import main
main(sys.argv[1:])
"""


def test_a_dashboard_open_in_excel_gives_the_close_message_and_exit_2(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    template, folder = demo
    out = tmp_path / "dashboard.xlsx"
    out.write_bytes(b"last quarter's dashboard, open in Excel")
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    done = subprocess.run(
        [sys.executable, "-c", _EXCEL_HOLDS_IT_OPEN, "merge", str(folder),
         "--template", str(template), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "error: close dashboard.xlsx in Excel and run again" in done.stderr
    assert "Traceback" not in done.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.xlsx"]
