"""Every file of ../shared/corpus/real and ../shared/corpus/more (issue 15): alone and mixed
with good returns, each is read or named in one issue in the lead's words, never a
traceback, never exit 2, never a parser's raw message, within 10 s and 1 GB each; the good
returns' values land exactly. Skipped when ../shared is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest

from rag_workbook.demo import copy_demo_inputs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPORA = [SHARED / "real", SHARED / "more"]
pytestmark = pytest.mark.skipif(
    not all(c.is_dir() for c in CORPORA), reason="../shared/corpus is not present"
)

# Words of the parsers' own messages (python-calamine, its Rust panics, openpyxl, zipfile):
# none may reach a lead.
RAW_WORDS = (
    "Cannot detect",
    "no entry found",
    "range end index",
    "out of range",
    "panicked",
    "Range is missing",
    "Error",
    "Exception",
    "does not support",
    "There is no item",
    "Bad CRC",
    "Traceback",
)
# The issues that name a file which is not read (and is not the lead's table).
REFUSALS = {
    "file-unreadable",
    "file-empty",
    "file-too-large",
    "file-corrupt",
    "file-encrypted",
    "file-unsafe-xml",
    "not-a-workbook",
    "format-unsupported",
    "no-return-table",
}

_ALONE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from rag_workbook.returns import find_returns, read_return
    from rag_workbook.template import read_template
    register = read_template(sys.argv[1])
    results = []
    for name in sys.argv[3:]:
        path = Path(sys.argv[2]) / name
        start = time.perf_counter()
        paths, found = find_returns([path])
        issues = [i for i in found.issues]
        readable = None
        for p in paths:
            data = read_return(p, register, display=p.name)
            issues += list(data.issues)
            readable = data.readable
        seconds = time.perf_counter() - start
        results.append({
            "name": name, "seconds": seconds, "readable": readable,
            "issues": [[i.code, str(i.severity), i.file, i.message, i.fix] for i in issues],
        })
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"results": results, "peak_kb": peak_kb, "children_kb": children_kb}))
    """
)


def _corpus_files() -> list[Path]:
    return sorted(p for c in CORPORA for p in c.iterdir() if p.is_file())


def test_every_corpus_file_alone_is_read_or_named_in_the_leads_words(tmp_path: Path) -> None:
    template, _ = copy_demo_inputs(tmp_path / "demo")
    results: list[dict[str, object]] = []
    for corpus in CORPORA:
        names = sorted(p.name for p in corpus.iterdir() if p.is_file())
        done = subprocess.run(
            [sys.executable, "-c", _ALONE, str(template), str(corpus), *names],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        found = json.loads(done.stdout)
        # The most memory one process held at once, reading every file in turn (and the
        # openpyxl reader's processes, each also capped at 1 GB of address space).
        assert found["peak_kb"] < 1 << 20
        assert found["children_kb"] < 1 << 20
        results += found["results"]
    assert len(results) == len(_corpus_files())
    slow = [(r["name"], r["seconds"]) for r in results if float(r["seconds"]) > 10]  # type: ignore[arg-type]
    assert slow == []
    unnamed, raw, internal = [], [], []
    for r in results:
        issues = r["issues"]
        assert isinstance(issues, list)
        if r["readable"] is not True:
            # Refused, or not a spreadsheet: named in an issue of its own.
            if not any(i[2].endswith(str(r["name"])) for i in issues):
                unnamed.append(r["name"])
            for code, _, _, message, fix in issues:
                refusal = code in REFUSALS or code.startswith("file-")
                if refusal and any(word in message or word in fix for word in RAW_WORDS):
                    raw.append((r["name"], message))
        internal += [(r["name"], i[3]) for i in issues if i[0] == "internal-error"]
    assert unnamed == []
    assert raw == []
    assert internal == []
    # The workbooks python-calamine cannot open but openpyxl can are read (issue 15 item 6).
    by_name = {str(r["name"]): r for r in results}
    for name in (
        "phpspreadsheet__tests_data_Reader_XLSX_utf16be.xlsx",
        "phpspreadsheet__tests_data_Reader_XLSX_utf16be.bom.xlsx",
        "roo__test_files_Pfand_from_windows_phone.xlsm",
        "poi__test-data_spreadsheet_64420.xlsm",
        "poi__test-data_spreadsheet_xlmmacro.xlsm",
    ):
        codes = [i[0] for i in by_name[name]["issues"]]  # type: ignore[union-attr]
        assert codes == ["no-return-table"], (name, codes)  # opened; not a return


def test_every_corpus_file_mixed_with_good_returns(tmp_path: Path) -> None:
    template, returns = copy_demo_inputs(tmp_path / "demo")
    alone = tmp_path / "alone.xlsx"
    proc = subprocess.run(
        [sys.executable, "-m", "rag_workbook", "merge", str(returns), "-t", str(template),
         "--out", str(alone)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    mixed = tmp_path / "mixed"  # the good returns, and each corpus in a sub-folder
    files = _corpus_files()
    for path in files:
        folder = mixed / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        if _same_device(path, folder):
            os.link(path, folder / path.name)
        else:
            _copy(path, folder)
    for path in returns.iterdir():
        _copy(path, mixed)
    out, report = tmp_path / "mixed.xlsx", tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rag_workbook", "merge", str(mixed), "-t", str(template),
         "--out", str(out), "--report-json", str(report), "--jobs", "2", "--quiet"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    found = json.loads(report.read_text())
    named = {r["file"] for r in found["returns"]} | {Path(i["file"]).name for i in found["issues"]}
    assert sorted(p.name for p in files if p.name not in named) == []
    assert [i for i in found["issues"] if i["code"] == "internal-error"] == []

    def data(path: Path) -> list[tuple[object, ...]]:
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = wb["Data"].iter_rows(values_only=True)
        header = next(row for row in rows if row[0] == "Theme")  # under the title rows
        keep = [header.index(c) for c in ("Measure ID", "Quarter", "Value", "Status", "Source")]
        return [tuple(row[k] for k in keep) for row in rows]

    assert data(out) == data(alone)


def _same_device(path: Path, folder: Path) -> bool:
    return path.stat().st_dev == folder.stat().st_dev


def _copy(path: Path, folder: Path) -> None:
    (folder / path.name).write_bytes(path.read_bytes())
