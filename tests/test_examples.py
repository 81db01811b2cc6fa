"""The runnable examples run, and do what the README says they do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stockton_dashboard_example(tmp_path: Path) -> None:
    proc = run("stockton_dashboard.py", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "0 issues" in proc.stdout
    assert (tmp_path / "out" / "dashboard.xlsx").is_file()


def test_quarter_cycle_example_names_the_bad_cell(tmp_path: Path) -> None:
    proc = run("quarter_cycle.py", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "value-not-a-number" in proc.stdout
    assert "'twelve'" in proc.stdout
    wb = openpyxl.load_workbook(tmp_path / "dashboard.xlsx", read_only=True)
    codes = {row[4] for row in wb["Issues"].iter_rows(values_only=True)}
    assert "no-return" in codes or any("no-return" in str(c) for c in codes)
