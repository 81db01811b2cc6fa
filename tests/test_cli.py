"""The real command line, end to end: the Stockton demo (SPEC §7), merge, check, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest
from cli_run import run

from rag_workbook import __version__
from rag_workbook.forms import write_return
from rag_workbook.model import RowNotes
from rag_workbook.template import read_template

# SPEC §7: the seed's icons. G/A/R, N = No data; Q4 is not yet due.
EXPECTED = {
    "1.1": "AGG", "1.2": "NNN", "1.3": "RRR",
    "2.1": "GRG", "2.2": "NNN", "2.3": "NNN",
    "3.1": "ARR", "3.2": "AAA", "3.3": "GGN", "3.4": "NNN",
    "4.1": "AAN", "4.2": "GGG", "4.3": "GGG", "4.4": "GGG",
    "5.1": "GGG", "5.2": "AAA", "5.3": "GGG",
    "6.1": "GGG", "6.2": "AAA",
}  # fmt: skip
LETTER = {"Green": "G", "Amber": "A", "Red": "R", "No data": "N", None: "", "": ""}


def data_rows(path: Path) -> list[dict[str, object]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Data"].iter_rows(values_only=True))
    top = next(i for i, row in enumerate(rows) if row[0] == "Theme")  # under the title rows
    header = [str(h) for h in rows[top]]
    return [dict(zip(header, row, strict=True)) for row in rows[top + 1 :]]


def status_matrix(path: Path) -> dict[str, str]:
    matrix: dict[str, dict[str, str]] = {}
    for row in data_rows(path):
        letter = LETTER[row["Status"]]  # type: ignore[index]
        matrix.setdefault(str(row["Measure ID"]), {})[str(row["Quarter"])] = letter
    return {
        mid: "".join(q.get(k, "") for k in ("Q1", "Q2", "Q3", "Q4")) for mid, q in matrix.items()
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "stockton"
    proc = run("demo", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Dashboard:" in proc.stdout
    return out


def test_demo_reproduces_the_stockton_statuses(demo: Path) -> None:
    assert status_matrix(demo / "dashboard.xlsx") == EXPECTED


def test_demo_data_sheet_has_the_spec_labels_and_sources(demo: Path) -> None:
    rows = data_rows(demo / "dashboard.xlsx")
    assert list(rows[0])[:10] == [
        "Theme", "Measure ID", "Performance Measure", "Quarter", "Value",
        "Target", "Status", "Explanation", "Comment", "Source",
    ]  # fmt: skip
    q3 = {(r["Measure ID"], r["Quarter"]): r for r in rows}[("3.1", "Q3")]
    assert (q3["Theme"], q3["Value"], q3["Status"]) == ("Violence", 60, "Red")
    assert str(q3["Source"]).startswith("Violence_Q3_return.xlsx!Return!")
    assert "Red" in str(q3["Explanation"])
    assert {r["Theme"] for r in rows} == {
        "ASB", "Alcohol", "Violence", "Drugs", "Criminal Damage", "Emerging Issue",
    }  # fmt: skip


def test_demo_dashboard_quarters_are_icon_only_icon_sets(demo: Path) -> None:
    with zipfile.ZipFile(demo / "dashboard.xlsx") as z:
        wb_xml = z.read("xl/workbook.xml").decode()
        assert 'name="Dashboard"' in wb_xml
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<iconSet" in sheet
    assert 'showValue="0"' in sheet
    # Shapes must differ, not only colours: no traffic lights.
    assert "TrafficLights" not in sheet


def test_demo_exceptions_are_the_seeds_q3_reds_ambers_and_no_data(demo: Path) -> None:
    ws = openpyxl.load_workbook(demo / "dashboard.xlsx")["Exceptions"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5, values_only=False)]
    listed = [(str(r[1]), r[4].split("; ")[0]) for r in rows if r[1] is not None]
    want = {"R": "Red", "A": "Amber", "N": "No data"}
    seed = [
        (mid, want[q3])
        for mid, q3 in ((m, s[2]) for m, s in status_matrix(demo / "dashboard.xlsx").items())
        if q3 in want
    ]
    assert listed == seed
    assert sorted(m for m, _ in listed) == [
        "1.2",
        "1.3",
        "2.2",
        "2.3",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "4.1",
        "5.2",
        "6.2",
    ]  # fmt: skip  (SPEC §7: Q3's Reds, Ambers and No data)


def test_demo_dashboard_names_the_theme_on_each_row_without_merging(demo: Path) -> None:
    wb = openpyxl.load_workbook(demo / "dashboard.xlsx")
    ws = wb["Dashboard"]
    assert not ws.merged_cells.ranges
    themes = [ws.cell(r, 1).value for r in range(5, 24)]
    counts = {t: themes.count(t) for t in dict.fromkeys(themes)}
    assert counts == {
        "ASB": 3, "Alcohol": 3, "Violence": 4, "Drugs": 4, "Criminal Damage": 3,
        "Emerging Issue": 2,
    }  # fmt: skip


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path, demo: Path) -> None:
    register = read_template(demo / "template.xlsx")
    returns = tmp_path / "returns"
    returns.mkdir()
    write_return(
        returns / "asb.xlsx",
        register,
        "ASB",
        values={("1.1", "Q1"): 120, ("1.2", "Q1"): "-", ("1.3", "Q1"): 700},
        notes={"1.1": RowNotes("1.1", comment='=HYPERLINK("http://evil.example","x")'),
               "1.3": RowNotes("1.3", comment="=1+1")},
        quarter="Q1",
        submitted="2012-04-20",
    )  # fmt: skip
    out = tmp_path / "dashboard.xlsx"
    proc = run("merge", returns, "--template", demo / "template.xlsx", "--out", out)
    assert proc.returncode in (0, 1), proc.stderr
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>" not in z.read(name).decode(), name
    wb = openpyxl.load_workbook(out)
    found = [
        (ws.title, cell.data_type)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value in ("=1+1", '=HYPERLINK("http://evil.example","x")')
    ]  # fmt: skip
    assert found and all(dtype == "s" for _, dtype in found), found


def test_check_reports_and_writes_nothing(tmp_path: Path, demo: Path) -> None:
    report = tmp_path / "report.json"
    proc = run("check", demo / "returns", "--template", demo / "template.xlsx",
               "--report-json", report, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Returns read: 6" in proc.stdout
    payload = json.loads(report.read_text())
    assert len(payload["returns"]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_bad_inputs_exit_1_and_name_the_file(tmp_path: Path, demo: Path) -> None:
    returns = tmp_path / "returns"
    returns.mkdir()
    (returns / "broken.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip")
    for src in (demo / "returns").iterdir():
        (returns / src.name).write_bytes(src.read_bytes())
    out = tmp_path / "dashboard.xlsx"
    proc = run("merge", returns, "--template", demo / "template.xlsx", "--out", out)
    assert proc.returncode == 1, proc.stderr
    assert "broken.xlsx" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert status_matrix(out) == EXPECTED


def test_missing_template_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = run(
        "merge", tmp_path, "--template", tmp_path / "nope.xlsx", "--out", tmp_path / "d.xlsx"
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "nope.xlsx" in proc.stderr


def test_usage_error_exits_2() -> None:
    proc = run("merge")
    assert proc.returncode == 2
    assert "Usage" in proc.stderr


def test_help_does_not_import_pandas() -> None:
    code = (
        "import sys\n"
        "from rag_workbook.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'pandas' not in sys.modules and 'xlsxwriter' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('pandas', 'xlsxwriter')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "merge" in proc.stdout


def test_returns_issue_writes_one_workbook_per_theme(tmp_path: Path, demo: Path) -> None:
    out = tmp_path / "to-send"
    proc = run("returns", "issue", "--template", demo / "template.xlsx", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert len(list(out.glob("*.xlsx"))) == 6


def test_previous_dashboard_fills_quarters_no_return_gives(tmp_path: Path, demo: Path) -> None:
    returns = tmp_path / "returns"
    returns.mkdir()
    asb = demo / "returns" / "ASB_Q3_return.xlsx"
    (returns / asb.name).write_bytes(asb.read_bytes())
    out = tmp_path / "dashboard.xlsx"
    proc = run("merge", returns, "--template", demo / "template.xlsx", "--out", out,
               "--previous", demo / "dashboard.xlsx")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {(r["Measure ID"], r["Quarter"]): r for r in data_rows(out)}
    assert (rows[("3.1", "Q2")]["Value"], rows[("3.1", "Q2")]["Status"]) == (38, "Red")
    # cited by the previous dashboard's Data cell
    assert rows[("3.1", "Q2")]["Source"] == "dashboard.xlsx (previous dashboard)!Data!E30"
    assert str(rows[("1.1", "Q3")]["Source"]).startswith("ASB_Q3_return.xlsx!Return!")
    # The previous dashboard fills gaps but chases no one off the hook.
    assert "3.1, 3.2, 3.3, 3.4" in proc.stderr
    assert status_matrix(out) == EXPECTED


def test_merge_pdf_prints_the_committee_pages(tmp_path: Path, demo: Path) -> None:
    import shutil

    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = tmp_path / "dashboard.xlsx"
    proc = run("merge", demo / "returns", "--template", demo / "template.xlsx", "--out", out,
               "--pdf")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pdf = tmp_path / "dashboard.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert f"PDF: {pdf}" in proc.stdout


def test_merge_pdf_without_libreoffice_says_so_and_keeps_the_workbook(
    tmp_path: Path, demo: Path
) -> None:
    out = tmp_path / "dashboard.xlsx"
    env = {"PATH": str(Path(sys.executable).parent)}  # no soffice on this PATH
    proc = subprocess.run(
        [sys.executable, "-m", "rag_workbook", "merge", str(demo / "returns"),
         "--template", str(demo / "template.xlsx"), "--out", str(out), "--pdf"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "pdf-not-written" in proc.stderr and "LibreOffice" in proc.stderr
    assert status_matrix(out) == EXPECTED
    assert not (tmp_path / "dashboard.pdf").exists()


def test_written_files_get_a_new_files_usual_permissions(demo: Path) -> None:
    import os

    umask = os.umask(0)
    os.umask(umask)
    expected = 0o666 & ~umask
    assert (demo / "dashboard.xlsx").stat().st_mode & 0o777 == expected


def test_native_stderr_is_silenced_while_parsing_but_progress_still_shows(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import os

    from rag_workbook.cli import _native_stderr_silenced

    with _native_stderr_silenced() as real:
        os.write(2, b"thread '<unnamed>' panicked at cfb.rs\nstack backtrace:\n")
        real.write("Reading returns: 100%\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "panicked" not in err and "backtrace" not in err
    assert "Reading returns: 100%" in err and "after" in err


def test_an_internal_failure_is_one_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag_workbook import cli, pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("something we did not foresee")

    monkeypatch.delenv("RAG_WORKBOOK_DEBUG", raising=False)
    monkeypatch.setattr(pipeline, "check_returns", broken)
    with pytest.raises(SystemExit) as exited:
        cli.main(["check", "returns/", "--template", "t.xlsx"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "bug in rag-workbook" in err and "something we did not foresee" in err
    assert "Traceback" not in err


def test_package_exports_the_workflow_without_importing_pandas_up_front() -> None:
    code = (
        "import sys, rag_workbook\n"
        "assert 'pandas' not in sys.modules\n"
        "from rag_workbook import check_returns, merge_to_dashboard, Status, TemplateError\n"
        "assert callable(check_returns) and callable(merge_to_dashboard)\n"
        "assert Status.GREEN == 'Green' and issubclass(TemplateError, ValueError)\n"
        "assert set(rag_workbook.__all__) <= set(dir(rag_workbook))\n"
        "for name in rag_workbook.__all__: getattr(rag_workbook, name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_merge_on_the_command_line_never_imports_pandas(demo: Path, tmp_path: Path) -> None:
    # The pipeline hands the dashboard lists; pandas (0.4 s to import) is for library
    # callers who ask a result for its frame (issue 6).
    code = (
        "import atexit, os, sys\n"
        "atexit.register(lambda: print('pandas' in sys.modules))\n"
        f"sys.argv = ['rag-workbook', 'merge', {str(demo / 'returns')!r}, '--template',"
        f" {str(demo / 'template.xlsx')!r}, '--out', {str(tmp_path / 'd.xlsx')!r}, '--quiet']\n"
        "from rag_workbook.cli import script\n"
        "script()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False"
    assert (tmp_path / "d.xlsx").is_file()


def test_the_pipelines_columns_make_the_frame_apply_rag_makes(demo: Path) -> None:
    import pandas as pd

    from rag_workbook.dashboard import build_dashboard
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.pipeline import check_returns
    from rag_workbook.rag import apply_rag
    from rag_workbook.returns import find_returns
    from rag_workbook.template import read_template

    result = check_returns([demo / "returns"], demo / "template.xlsx")
    register = read_template(demo / "template.xlsx")
    paths, _ = find_returns([demo / "returns"])
    merged = merge_returns(read_returns(paths, register), register)
    rated, _ = apply_rag(merged.frame, register)
    pd.testing.assert_frame_equal(result.frame, rated)
    assert list(result.frame.dtypes) == list(rated.dtypes)
    assert set(rated["status"]) >= {"Green", "Amber", "Red", "No data"}
    # the dashboard is the same whether it is given the frame or the lists; the frame's
    # `submitted` is datetime64 (issue 16 item 8), which the dashboard writes as its
    # str(), so it is handed over as the lists hold it (ISO dates)
    as_text = rated.assign(submitted=rated["submitted"].dt.strftime("%Y-%m-%d").fillna(""))
    assert build_dashboard(result.columns, register, result.report) == build_dashboard(
        as_text, register, result.report
    )


def test_the_pipeline_restores_the_garbage_collector_as_it_found_it(demo: Path) -> None:
    import gc

    from rag_workbook.pipeline import check_returns

    assert gc.isenabled()
    result = check_returns([demo / "returns"], demo / "template.xlsx")
    assert gc.isenabled() and len(result.frame) == 76
    gc.disable()
    try:
        check_returns([demo / "returns"], demo / "template.xlsx")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_console_script_ends_with_the_commands_status_and_flushed_output(tmp_path: Path) -> None:
    # script() leaves through os._exit after the exit handlers: the output must be complete
    # and the status the command's own, for a clean run, a usage error and a bad template.
    ok = run("demo", "--out", tmp_path / "demo")
    assert ok.returncode == 0 and "Dashboard:" in ok.stdout
    usage = run("merge")
    assert usage.returncode == 2 and "Usage:" in usage.stderr
    missing = run("check", tmp_path, "--template", tmp_path / "none.xlsx")
    assert missing.returncode == 2 and "template not found" in missing.stderr
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "sys.argv = ['rag-workbook', '--version']\n"
        "from rag_workbook.cli import script\n"
        "script()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [f"rag-workbook, version {__version__}", "exit handler ran"]


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("3", "3")])
def test_console_script_keeps_openblas_to_one_thread_unless_told(
    given: str | None, expected: str
) -> None:
    # numpy's OpenBLAS threads would spin at import, taking processor time from the
    # workers reading returns; a user's own setting is kept.
    code = (
        "import os, sys\n"
        "sys.argv = ['rag-workbook', '--version']\n"
        "from rag_workbook import cli\n"
        "cli.main = lambda: print(os.environ['OPENBLAS_NUM_THREADS'])\n"
        "cli.script()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_starts_no_thread() -> None:
    # tqdm's monitor thread would outlive the bar and keep the dashboard from forking the
    # writer of its Data rows (a fork beside other threads can deadlock).
    from rag_workbook import cli

    before = threading.active_count()
    shown = _Terminal()
    progress = cli._Progress(quiet=False, stream=shown)
    progress.found(cli.PROGRESS_MIN_FILES + 5)
    progress.advance(cli.PROGRESS_MIN_FILES + 5)
    assert threading.active_count() == before
    progress.close()
    assert "Reading returns" in shown.getvalue()


def test_the_pdf_stage_is_announced_on_a_terminal_with_its_wait_when_large() -> None:
    from rag_workbook import cli

    def said(measures: int, *, quiet: bool = False, stream: io.StringIO | None = None) -> str:
        shown = _Terminal() if stream is None else stream
        progress = cli._Progress(quiet=quiet, stream=shown)
        progress.found(cli.PROGRESS_MIN_FILES + 5)
        progress.advance(cli.PROGRESS_MIN_FILES + 5)
        progress.pdf(measures)
        progress.close()
        return shown.getvalue()

    big = said(6_333)
    # the bar is closed first, so the line stands below it
    assert big.index("Reading returns") < big.index(
        "Writing the PDF with LibreOffice (6,333 measures: about 6 minutes)..."
    )
    assert "Writing the PDF with LibreOffice...\n" in said(57)
    assert "PDF" not in said(6_333, quiet=True)
    assert said(6_333, stream=io.StringIO()) == ""  # not a terminal: a log stays clean
