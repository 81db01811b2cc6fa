"""Issue 15: never lose an analyst's work. Each guard on the real command line, on real
files in a temporary folder: exit codes, file hashes before and after, issue codes."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from cli_run import run

from rag_workbook import __version__
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.forms import return_file_name, write_return
from rag_workbook.model import RowNotes
from rag_workbook.output import remove_stale_temporaries, write_atomic
from rag_workbook.template import read_template


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, Path]:
    """The Stockton template and its six returns, in a folder of this test's own."""
    return copy_demo_inputs(tmp_path / "demo")


def issues_of(report: Path) -> list[tuple[str, str, str]]:
    return [
        (i["code"], i["severity"], Path(i["file"]).name)
        for i in json.loads(report.read_text())["issues"]
    ]


# --- 1. no output over an input -------------------------------------------------------


def test_an_output_that_aliases_an_input_is_refused_before_anything_is_read(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    asb = returns / "ASB_Q3_return.xlsx"
    hard = tmp_path / "hard.xlsx"
    os.link(asb, hard)
    soft = tmp_path / "soft.xlsx"
    soft.symlink_to(asb)
    before = hashes(tmp_path)
    cases = [
        ("--out", hard, ()),  # a hard link to a return
        ("--out", soft, ()),  # a symlink to a return
        ("--out", Path("demo/returns/ASB_Q3_return.xlsx"), ()),  # relative, from tmp_path
        ("--out", returns / ".." / "returns" / asb.name, ()),
        ("--out", template, ()),
        ("--out", tmp_path / "d.xlsx", ("--report-json", asb)),
        ("--out", tmp_path / "d.xlsx", ("--report-json", tmp_path / "d.xlsx")),
        ("--out", tmp_path / "d.xlsx", ("--report-json", template)),
    ]
    for _, out, extra in cases:
        proc = run("merge", returns, "-t", template, "--out", out, *extra, cwd=tmp_path)
        assert proc.returncode == 2, (out, extra, proc.stderr)
        assert "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
        assert hashes(tmp_path) == before, (out, extra)
    # --previous, and check --report-json
    previous = tmp_path / "previous.xlsx"
    assert run("merge", returns, "-t", template, "--out", previous).returncode == 0
    before = hashes(tmp_path)
    proc = run(
        "merge", returns, "-t", template, "--out", tmp_path / "new.xlsx",
        "--previous", previous, "--report-json", previous,
    )  # fmt: skip
    assert proc.returncode == 2 and "the previous dashboard" in proc.stderr
    proc = run("check", returns, "-t", template, "--report-json", soft)
    assert proc.returncode == 2 and "the return" in proc.stderr
    assert hashes(tmp_path) == before


def test_returns_issue_refuses_to_write_over_its_template(tmp_path: Path) -> None:
    template, _ = copy_demo_inputs(tmp_path / "demo")
    register = read_template(template)
    out = tmp_path / "to-send"
    out.mkdir()
    inside = out / return_file_name(register, register.themes[0])
    shutil.copyfile(template, inside)
    before = hashes(tmp_path)
    proc = run("returns", "issue", "-t", inside, "--out", out)
    assert proc.returncode == 2 and "the template" in proc.stderr
    assert hashes(tmp_path) == before


def test_a_case_insensitive_twin_is_the_same_file_only_where_case_is_ignored(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    probe = tmp_path / "Probe.txt"
    probe.write_text("x")
    ignores_case = (tmp_path / "probe.txt").exists()
    probe.unlink()
    before = hashes(tmp_path)
    twin = returns / "asb_q3_RETURN.xlsx"  # ASB_Q3_return.xlsx, by another case
    proc = run("merge", returns, "-t", template, "--out", twin)
    # Two outputs that do not exist yet, named apart only by case.
    pair = run("merge", returns, "-t", template, "--out", tmp_path / "new" / "D.xlsx",
               "--report-json", tmp_path / "new" / "d.xlsx")  # fmt: skip
    if ignores_case:
        assert proc.returncode == 2 and pair.returncode == 2
        assert hashes(tmp_path) == before
    else:  # different files here: written as asked
        assert proc.returncode == 0 and pair.returncode == 0
        assert digest(returns / "ASB_Q3_return.xlsx") == before["demo/returns/ASB_Q3_return.xlsx"]
        assert zipfile.is_zipfile(twin) and (tmp_path / "new" / "d.xlsx").exists()


# --- 2. nothing to merge, nothing written ---------------------------------------------


def test_nothing_found_exits_2_and_leaves_the_dashboard(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    out = tmp_path / "out" / "dashboard.xlsx"
    assert run("merge", returns, "-t", template, "--out", out).returncode == 0
    good = digest(out)
    (tmp_path / "empty").mkdir()
    for missing in (tmp_path / "retruns", str(tmp_path / "nothing*.xlsx"), tmp_path / "empty"):
        proc = run("merge", missing, "-t", template, "--out", out, "--report-json", tmp_path / "r")
        assert proc.returncode == 2, proc.stderr
        assert f"no returns found in {missing}; nothing written" in proc.stderr
        assert digest(out) == good
        assert not (tmp_path / "r").exists()


def test_none_readable_keeps_the_last_dashboard_and_reports_every_issue(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    out = tmp_path / "dashboard.xlsx"
    assert run("merge", returns, "-t", template, "--out", out).returncode == 0
    good = digest(out)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ASB.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (broken / "Drugs.xlsx").write_text("Measure,Q1\n1.1,12\n")
    report = tmp_path / "report.json"
    proc = run("merge", broken, "-t", template, "--out", out, "--report-json", report)
    assert proc.returncode == 1
    assert digest(out) == good
    assert "is left as it was" in proc.stdout
    found = issues_of(report)
    assert ("file-corrupt", "error", "ASB.xlsx") in found
    assert ("not-a-workbook", "error", "Drugs.xlsx") in found
    # A new path gets the dashboard with its Issues sheet, and both refused files on About.
    new = tmp_path / "new.xlsx"
    assert run("merge", broken, "-t", template, "--out", new).returncode == 1
    wb = openpyxl.load_workbook(new, read_only=True)
    codes = {row[4] for row in wb["Issues"].iter_rows(values_only=True)}
    assert {"file-corrupt", "not-a-workbook"} <= codes
    about = [[str(v) for v in row if v] for row in wb["About"].iter_rows(values_only=True)]
    for name in ("ASB.xlsx", "Drugs.xlsx"):
        row = next(r for r in about if name in r)
        assert digest(broken / name) in row


# --- 3. filled returns are never replaced ---------------------------------------------


def test_returns_issue_keeps_a_filled_return_unless_forced(tmp_path: Path) -> None:
    template, _ = copy_demo_inputs(tmp_path / "demo")
    register = read_template(template)
    out = tmp_path / "to-send"
    proc = run("returns", "issue", "-t", template, "--out", out)
    assert proc.returncode == 0
    blank = hashes(out)
    # Issuing again over the same blank forms is fine.
    assert run("returns", "issue", "-t", template, "--out", out).returncode == 0
    assert hashes(out) == blank
    theme = register.themes[0]
    filled = out / return_file_name(register, theme)
    mid = register.measures_of(theme)[0].measure_id
    write_return(filled, register, theme, values={(mid, "Q1"): 42.0}, notes={
        mid: RowNotes(mid, None, "", "a lead's words", "Return", "", "")
    })  # fmt: skip
    kept = digest(filled)
    proc = run("returns", "issue", "-t", template, "--out", out)
    assert proc.returncode == 1
    assert str(filled) in proc.stderr and "--force" in proc.stderr
    assert digest(filled) == kept
    assert "--force" in run("returns", "issue", "--help").stdout
    assert run("returns", "issue", "-t", template, "--out", out, "--force").returncode == 0
    assert hashes(out) == blank


# --- 4. every output atomic -----------------------------------------------------------


def test_a_temporary_file_never_outlives_the_next_run(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    out = tmp_path / "dashboard.xlsx"
    stale = tmp_path / ".dashboard.xlsx.k2j4h6g8.tmp"  # what a run killed mid-write leaves
    stale.write_bytes(b"half a dashboard")
    other = tmp_path / ".report.json.abcd1234.tmp"
    other.write_bytes(b"{")
    proc = run("merge", returns, "-t", template, "--out", out, "--report-json", "report.json",
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.xlsx", "demo", "report.json"]


def test_a_temporary_file_being_written_by_another_run_is_left_alone(tmp_path: Path) -> None:
    live = tmp_path / ".dashboard.xlsx.abcdefgh.tmp"
    live.write_bytes(b"being written")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'rb+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)",
            str(live),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert remove_stale_temporaries(tmp_path) == []
        assert live.exists()
    finally:
        holder.kill()
        holder.wait()
    assert remove_stale_temporaries(tmp_path) == [live]


def test_a_temporary_file_just_made_and_not_yet_locked_is_left_alone(tmp_path: Path) -> None:
    # Between mkstemp and its lock a writer's file is empty and unlocked: a cleaner in
    # another process must not take it (it did: 2,000 returns written by 2 processes lost one).
    fresh = tmp_path / ".dashboard.xlsx.abcdefgh.tmp"
    fresh.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path) == []
    old = time.time() - 120
    os.utime(fresh, (old, old))  # an empty one a killed run left a while ago goes
    assert remove_stale_temporaries(tmp_path) == [fresh]


def test_writers_in_one_folder_at_once_lose_nothing(tmp_path: Path) -> None:
    payloads = {tmp_path / f"r{i:03}.xlsx": f"file {i}".encode() * 1000 for i in range(120)}
    with concurrent.futures.ProcessPoolExecutor(max_workers=4) as pool:
        list(pool.map(write_atomic, payloads.values(), payloads.keys()))
    assert {p: p.read_bytes() for p in payloads} == payloads
    assert sorted(tmp_path.iterdir()) == sorted(payloads)


def test_names_up_to_the_file_systems_limit_work(tmp_path: Path, demo: tuple[Path, Path]) -> None:
    template, returns = demo
    for length in (245, 250, 255):
        out = tmp_path / ("d" * (length - len(".xlsx")) + ".xlsx")
        report = tmp_path / ("r" * (length - len(".json")) + ".json")
        proc = run("merge", returns, "-t", template, "--out", out, "--report-json", report)
        assert proc.returncode == 0, proc.stderr
        assert zipfile.is_zipfile(out) and json.loads(report.read_text())["output"] == str(out)
    # Multi-byte characters are cut whole.
    name = "é" * 125 + ".json"  # 255 bytes
    assert write_atomic(b"{}", tmp_path / name).read_bytes() == b"{}"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_report_json_is_written_atomically_in_a_missing_folder(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    report = tmp_path / "reports" / "q3.json"
    proc = run("check", returns, "-t", template, "--report-json", report)
    assert proc.returncode == 0
    assert json.loads(report.read_text())["issues"] == []


# --- 5. every input accounted for -----------------------------------------------------


def test_subfolders_are_read_and_every_skipped_file_is_named(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    late = returns / "late"
    late.mkdir()
    shutil.move(returns / "Drugs_Q3_return.xlsx", late / "Drugs_Q3_return.xlsx")
    (returns / ".old").mkdir()
    shutil.copyfile(late / "Drugs_Q3_return.xlsx", returns / ".old" / "Drugs.xlsx")
    (returns / "~$ASB_Q3_return.xlsx").write_bytes(b"\x00" * 165)
    (returns / "notes.txt").write_text("to do")
    out = tmp_path / "dashboard.xlsx"
    report = tmp_path / "report.json"
    proc = run("merge", returns, "-t", template, "--out", out, "--report-json", report)
    assert proc.returncode == 0, proc.stderr
    assert "no-return" not in report.read_text()
    assert sorted(issues_of(report)) == [
        ("file-skipped", "info", ".old"),
        ("file-skipped", "info", "~$ASB_Q3_return.xlsx"),
        ("not-a-spreadsheet", "info", "notes.txt"),
    ]
    wb = openpyxl.load_workbook(out, read_only=True)
    sources = {str(row[9]) for row in wb["Data"].iter_rows(min_row=2, values_only=True)}
    assert any(s.startswith("Drugs_Q3_return.xlsx!") for s in sources)


def test_the_tools_own_outputs_among_the_returns_are_skipped_not_read(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    # The dashboard and the JSON report saved into the returns folder, under any name.
    inside = returns / "final submission.xlsx"
    proc = run("merge", returns, "-t", template, "--out", inside, "--report-json",
               returns / "q3.json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shutil.copyfile(inside, returns / "Copy of ASB.xlsx")
    out = tmp_path / "dashboard.xlsx"
    report = tmp_path / "report.json"
    proc = run("merge", returns, "-t", template, "--out", out, "--report-json", report)
    assert proc.returncode == 0, proc.stderr
    assert sorted(issues_of(report)) == [
        ("own-output-skipped", "info", "Copy of ASB.xlsx"),
        ("own-output-skipped", "info", "final submission.xlsx"),
        ("own-output-skipped", "info", "q3.json"),
    ]
    assert [r["file"] for r in json.loads(report.read_text())["returns"]] == sorted(
        p.name for p in returns.glob("*_Q3_return.xlsx")
    )
    # Rerunning with --out inside the returns folder replaces the last dashboard as usual.
    proc = run("merge", returns, "-t", template, "--out", inside)
    assert proc.returncode == 0, proc.stderr


def test_issues_of_a_superseded_return_are_notes_that_chase_no_one(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    register = read_template(template)
    theme = "ASB"
    mid = register.measures_of(theme)[0].measure_id
    # An older ASB return with a word where a number goes; the newer demo return fixes it.
    write_return(
        returns / "ASB early.xlsx", register, theme, values={(mid, "Q1"): "twelve"},
        submitted="2011-07-01",
    )  # fmt: skip
    report = tmp_path / "report.json"
    proc = run("check", returns, "-t", template, "--report-json", report)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(report.read_text())["issues"]
    early = [i for i in found if i["file"] == "ASB early.xlsx"]
    assert [(i["code"], i["severity"], i["cell"]) for i in early] == [
        ("value-not-a-number", "info", early[0]["cell"])
    ]
    assert "superseded by the newer ASB_Q3_return.xlsx" in early[0]["message"]
    assert [i for i in found if i["code"] == "no-return"] == []


# --- 6. read what others read ---------------------------------------------------------


def _utf16(data: bytes) -> bytes:
    """The same workbook with every XML part encoded as UTF-16 (big-endian, with a BOM)."""
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.endswith((".xml", ".rels")):
                text = part.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
                part = text.encode("utf-16-be")
                part = b"\xfe\xff" + part
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_a_utf16_return_is_read_through_openpyxl_with_the_same_values(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    report_a, report_b = tmp_path / "a.json", tmp_path / "b.json"
    out_a, out_b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert run("merge", returns, "-t", template, "--out", out_a, "--report-json", report_a)
    for path in returns.glob("*.xlsx"):
        path.write_bytes(_utf16(path.read_bytes()))
    proc = run("merge", returns, "-t", template, "--out", out_b, "--report-json", report_b)
    assert proc.returncode == 0, proc.stderr

    def data(path: Path) -> list[tuple[object, ...]]:
        wb = openpyxl.load_workbook(path, read_only=True)
        return list(wb["Data"].iter_rows(values_only=True))

    assert data(out_b) == data(out_a)  # values, statuses and sources (file!sheet!cell)
    assert json.loads(report_b.read_text())["issues"] == []


# --- 7. bugs are ours -----------------------------------------------------------------


def test_a_bug_while_reading_one_file_is_an_internal_error_and_the_merge_goes_on(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import rag_workbook.returns as r\n"
        "_real = r._find_header\n"
        "def _buggy(rows):\n"
        "    if any('Drugs' in str(v) for row in rows[:12] for v in row):\n"
        "        raise ZeroDivisionError('a bug of ours')\n"
        "    return _real(rows)\n"
        "r._find_header = _buggy\n"
    )
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rag_workbook", "merge", str(returns), "-t", str(template),
         "--out", str(tmp_path / "d.xlsx"), "--report-json", str(report)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), *sys.path])},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    found = json.loads(report.read_text())["issues"]
    bug = [i for i in found if i["code"] == "internal-error"]
    assert [(i["file"], i["severity"]) for i in bug] == [("Drugs_Q3_return.xlsx", "error")]
    assert "ZeroDivisionError" in bug[0]["message"] and "please report" in bug[0]["fix"]
    assert "send" not in bug[0]["fix"]
    assert sum(r["readable"] for r in json.loads(report.read_text())["returns"]) == 5


# --- 10. the command line speaks one language -----------------------------------------


def test_the_terminal_lists_worst_first_with_one_word_per_severity(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    template, returns = demo
    register = read_template(template)
    (returns / "Drugs_Q3_return.xlsx").unlink()  # Drugs' lead goes on the chase list
    (returns / "notes.txt").write_text("to do")  # a note
    (returns / "broken.xlsx").write_bytes(b"PK\x03\x04 cut short")  # an error
    proc = run("check", returns, "-t", template)
    assert proc.returncode == 1
    lines = [line.split()[0] for line in proc.stderr.splitlines() if line.startswith("  ")]
    order = {"error": 0, "warning": 1, "info": 2}
    assert lines == sorted(lines, key=order.__getitem__)
    assert set(lines) == {"error", "warning", "info"}
    chase = [line for line in proc.stderr.splitlines() if "chase" in line]
    drugs = [m for m in register.measures if m.theme == "Drugs"]
    assert len(chase) == 1 and drugs[0].lead in chase[0]
    assert ", ".join(m.measure_id for m in drugs) in chase[0]
    assert "Issues: 1 error, " in proc.stdout


def test_version_help_and_output_folders(tmp_path: Path, demo: tuple[Path, Path]) -> None:
    template, returns = demo
    assert run("-V").stdout.strip() == f"rag-workbook, version {__version__}"
    top = run("--help").stdout
    commands = top.split("Commands:")[1]
    assert "..." not in commands
    # merge --out into a missing folder creates it, as returns issue --out does.
    out = tmp_path / "new" / "folder" / "dashboard.xlsx"
    assert run("merge", returns, "-t", template, "--out", out).returncode == 0
    assert zipfile.is_zipfile(out)
    issued = tmp_path / "also" / "new"
    assert run("returns", "issue", "-t", template, "--out", issued).returncode == 0
    assert len(list(issued.glob("*.xlsx"))) == 6


# --- 9. interrupts end promptly -------------------------------------------------------


def _session(leader: int) -> list[tuple[int, str]]:
    """(pid, state) of every process of the session `leader` started, zombies included."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == leader:
                found.append((int(entry), fields[0]))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("how", ["terminal", "twice"])
def test_ctrl_c_ends_a_merge_within_2_s_leaving_the_dashboard_and_no_process(
    tmp_path: Path, demo: tuple[Path, Path], how: str
) -> None:
    import signal
    import time

    template, returns = demo
    out = tmp_path / "dashboard.xlsx"
    assert run("merge", returns, "-t", template, "--out", out).returncode == 0
    good = digest(out)
    # 240 returns (a worker pool) that take the slower openpyxl path: a merge of ~30 s.
    big = tmp_path / "big"
    big.mkdir()
    sources = sorted(returns.glob("*.xlsx"))
    for i in range(240):
        src = sources[i % len(sources)]
        (big / f"{i:03d}_{src.name}").write_bytes(_utf16(src.read_bytes()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag_workbook", "merge", str(big), "-t", str(template),
         "--out", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(_session(proc.pid)) < 4 and time.monotonic() < deadline:  # workers reading
            time.sleep(0.1)
        time.sleep(1.0)
        start = time.monotonic()
        if how == "terminal":  # Ctrl-C at a terminal signals the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        else:  # pressed twice, the second time at once
            os.kill(proc.pid, signal.SIGINT)
            time.sleep(0.05)
            os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert took < 2.0
    assert proc.returncode in ((130,) if how == "terminal" else (130, -signal.SIGINT))
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert digest(out) == good
    time.sleep(0.5)  # a fallback reader whose worker was killed ends within 0.2 s
    # Zombies are dead processes waiting for init (some containers' init never reaps).
    assert [p for p, state in _session(proc.pid) if state != "Z"] == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.requires("soffice")
def test_a_dashboard_resaved_by_libreoffice_is_still_told_by_its_content(
    tmp_path: Path, demo: tuple[Path, Path], soffice: str
) -> None:
    template, returns = demo
    out = tmp_path / "dashboard.xlsx"
    assert run("merge", returns, "-t", template, "--out", out).returncode == 0
    lo = tmp_path / "lo"
    subprocess.run(
        [soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--convert-to", "xlsx", "--outdir", str(lo), str(out)],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    shutil.copyfile(lo / "dashboard.xlsx", returns / "Q3 dashboard (final).xlsx")
    report = tmp_path / "report.json"
    proc = run("check", returns, "-t", template, "--report-json", report)
    assert proc.returncode == 0, proc.stderr
    assert issues_of(report) == [("own-output-skipped", "info", "Q3 dashboard (final).xlsx")]


def test_the_openpyxl_path_is_bounded_in_time_and_memory(
    tmp_path: Path, demo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_workbook import returns as r

    template, returns = demo
    register = read_template(template)
    path = tmp_path / "ASB.xlsx"
    path.write_bytes(_utf16((returns / "ASB_Q3_return.xlsx").read_bytes()))
    assert r.read_return(path, register, display=path.name).readable
    monkeypatch.setattr(r, "FALLBACK_SECONDS", 0.01)
    slow = r.read_return(path, register, display=path.name)
    assert [(i.code, i.file) for i in slow.issues] == [("file-unreadable", "ASB.xlsx")]
    assert "within 0.01 s" in slow.issues[0].message  # type: ignore[attr-defined]
    assert slow.sha256 == digest(path)
    monkeypatch.setattr(r, "FALLBACK_SECONDS", 30.0)
    monkeypatch.setattr(r, "FALLBACK_MEMORY", 16 << 20)  # too little to start Python
    big = r.read_return(path, register, display=path.name)
    assert [(i.code, i.file) for i in big.issues] == [("file-unreadable", "ASB.xlsx")]
    assert "more than 16 MB of memory" in big.issues[0].message  # type: ignore[attr-defined]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file size limits")
def test_a_full_disk_leaves_the_last_dashboard_and_report_whole(
    tmp_path: Path, demo: tuple[Path, Path]
) -> None:
    import resource
    import signal

    template, returns = demo
    out, report = tmp_path / "dashboard.xlsx", tmp_path / "report.json"
    args = ["merge", returns, "-t", template, "--out", out, "--report-json", report]
    assert run(*args).returncode == 0
    before = hashes(tmp_path)
    size = report.stat().st_size

    def small_disk() -> None:  # no file may grow past a few KB: a full disk, as writes see it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    check = ["check", returns, "-t", template, "--report-json", report]
    for command in (args, check):  # the dashboard cannot be written; then the report alone
        proc = subprocess.run(
            [sys.executable, "-m", "rag_workbook", *map(str, command)],
            capture_output=True, text=True, timeout=300, preexec_fn=small_disk,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
        assert hashes(tmp_path) == before
