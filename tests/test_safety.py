"""Tests for safety.check_file: each hostile file gives exactly one issue, fast; good files pass.

The hostile corpus is generated once per session by tests/hostile/make_corpus.py. The real
third-party corpus (../shared/corpus/real) is used when present, else those tests skip.
"""

from __future__ import annotations

import os
import shutil
import statistics
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from hostile.make_corpus import CASES, Case, ensure_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag_workbook.model import Severity
from rag_workbook.report import Issue
from rag_workbook.safety import (
    LIMITS,
    Checked,
    Limits,
    check_and_unpack,
    check_file,
)

# ../shared/corpus/real beside the repository
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"

# What check_file says about the real corpus's deliberately bad files; every other file
# there must pass (None), since python-calamine reads it.
REAL_EXPECTED = {
    "calamine__OOM_alloc3.xls": "file-corrupt",
    "calamine__issue_385.xls": "file-encrypted",
    "calamine__pass_protected.ods": "file-encrypted",
    "calamine__pass_protected.xlsb": "file-encrypted",
    "calamine__pass_protected.xlsx": "file-encrypted",
    "calamine__too_small.xls": "not-a-workbook",
    "exceldatareader__EmptyZipFile.xlsx": "not-a-workbook",
    "exceldatareader__TestFail_Binary.xls": "not-a-workbook",
    # python-calamine panics on this one (a BaseException, not an Exception)
    "exceldatareader__Test_Issue_12556_corrupt.xls": "file-corrupt",
    # python-calamine aborts the whole process on this one (allocation failure)
    "exceldatareader__Test_git_issue_382_oom.xls": "file-corrupt",
    "exceldatareader__agile_AES256_SHA512_CBC_pwd_password.xlsx": "file-encrypted",
    "exceldatareader__standard_AES128_SHA1_ECB_pwd_password.xlsx": "file-encrypted",
    "exceldatareader__as3xls_BIFF2.xls": "format-unsupported",
    "exceldatareader__as3xls_BIFF3.xls": "format-unsupported",
    "xlrd__biff4_no_format_no_window2.xls": "format-unsupported",
    "sheetjs__crlf_CRLFX5_2.XLS": "format-unsupported",
    "exceldatareader__csv_cp1252.csv": "not-a-workbook",
    "exceldatareader__csv_escaped_quotes.csv": "not-a-workbook",
    "exceldatareader__csv_utf16le_bom.csv": "not-a-workbook",
    "exceldatareader__csv_utf8_bom.csv": "not-a-workbook",
    "python-calamine__empty_file.xlsx": "file-empty",
    "python-calamine__password.xls": "file-encrypted",
    "sheetjs__biff5_password_2002_40_xor.xls": "file-encrypted",
    "sheetjs__password_2002_128_strong.xls": "file-encrypted",
    "sheetjs__password_2002_40_basecrypto.xls": "file-encrypted",
    "sheetjs__password_2002_40_xor.xls": "file-encrypted",
    # a 54 MB sheet part (a stress test, not a return): over the 25 MB part limit
    "sheetjs__large_strings.xlsx": "file-too-large",
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return ensure_corpus(tmp_path_factory.getbasetemp() / "hostile_corpus")


@pytest.fixture(scope="session")
def good_return(corpus: dict[str, Path]) -> Path:
    return next(iter(corpus.values())).parents[1] / "good" / "good_ASB.xlsx"


def _timed(path: Path, display: str, limits: Limits = LIMITS) -> tuple[Issue | None, float]:
    start = time.perf_counter()
    issue = check_file(path, display, limits=limits)
    return issue, time.perf_counter() - start


def _shape(issue: Issue | None) -> tuple[str, str, str] | None:
    return None if issue is None else (issue.code, str(issue.severity), issue.file)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_gives_one_expected_issue_quickly(corpus: dict[str, Path], case: Case) -> None:
    issue, seconds = _timed(corpus[case.name], f"returns/{case.name}")
    expected = (
        None if case.check_code is None else (case.check_code, "error", f"returns/{case.name}")
    )
    assert _shape(issue) == expected
    assert seconds < 2.0
    if issue is not None:
        assert issue.message and issue.fix
        assert "could not be checked" not in issue.message  # no internal failure path
        if issue.code == "file-too-large":
            assert "limit" in issue.message


def test_good_returns_pass(corpus: dict[str, Path], good_return: Path) -> None:
    good = sorted(good_return.parent.glob("*.xlsx"))
    assert [(p.name, check_file(p, p.name)) for p in good] == [(p.name, None) for p in good]


def test_check_and_unpack_gives_the_checked_bytes_or_the_same_issue(
    corpus: dict[str, Path], good_return: Path
) -> None:
    good = sorted(good_return.parent.glob("*.xlsx"))
    passed = [(p.name, check_and_unpack(p, p.name)) for p in good]
    assert [(name, getattr(found, "data", found)) for name, found in passed] == [
        (p.name, p.read_bytes()) for p in good
    ]
    found = {c.name: check_and_unpack(corpus[c.name], c.name) for c in CASES}
    assert [
        (c.name, found[c.name] if isinstance(found[c.name], Issue) else None) for c in CASES
    ] == [(c.name, check_file(corpus[c.name], c.name)) for c in CASES]
    no_data = [isinstance(f, Issue) or f.data is None for f in (found[c.name] for c in CASES)]
    assert no_data == [c.check_code is not None for c in CASES]


def test_check_and_unpack_leaves_a_large_file_to_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "large.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = wb.add_worksheet("Return")
    for r in range(60_000):  # incompressible-ish numbers: well over 1 MB on disk
        sheet.write_row(r, 0, [r * 7919 % 104729 / 7, r * 31 % 997 / 3, f"x{r * 17}"])
    wb.close()
    assert path.stat().st_size > 1024 * 1024
    found = check_and_unpack(path, "large.xlsx")
    assert isinstance(found, Checked) and found.data is None


def test_check_and_unpack_gives_the_wanted_parts_it_scans_whole(
    corpus: dict[str, Path], good_return: Path, tmp_path: Path
) -> None:
    sheet, styles, props = "xl/worksheets/sheet1.xml", "xl/styles.xml", "docProps/core.xml"
    wanted = frozenset({sheet, styles, props, "xl/missing.xml"})
    with zipfile.ZipFile(good_return) as zf:
        names = tuple(i.filename for i in zf.infolist())
        whole = {name: zf.read(name) for name in (sheet, styles)}
    # Only the parts the check scans (not the properties, not a missing part) come back.
    assert check_and_unpack(good_return, "r.xlsx", wanted=wanted) == Checked(
        good_return.read_bytes(), names, whole
    )
    assert check_and_unpack(good_return, "r.xlsx") == Checked(good_return.read_bytes(), names, {})
    # A stored (not deflated) part is left to the caller; refusals are the same issues.
    stored = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(good_return) as src, zipfile.ZipFile(stored, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename), zipfile.ZIP_STORED)
    found = check_and_unpack(stored, "stored.xlsx", wanted=wanted)
    assert isinstance(found, Checked) and found.unpacked == {}
    assert [
        (c.name, check_and_unpack(corpus[c.name], c.name, wanted=wanted))
        for c in CASES
        if c.check_code is not None
    ] == [(c.name, check_file(corpus[c.name], c.name)) for c in CASES if c.check_code is not None]


def test_plain_xlsxwriter_workbook_passes(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("Return").write_row(0, 0, ["ID", "Q1", "Comment"])
    wb.close()
    assert check_file(path, "plain.xlsx") is None


def test_missing_file_and_folder_are_unreadable(tmp_path: Path) -> None:
    got = [
        _shape(check_file(tmp_path / "nope.xlsx", "nope.xlsx")),
        _shape(check_file(tmp_path, "folder")),
    ]
    assert got == [
        ("file-unreadable", "error", "nope.xlsx"),
        ("file-unreadable", "error", "folder"),
    ]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path, good_return: Path) -> None:
    path = tmp_path / "locked.xlsx"
    shutil.copy(good_return, path)
    path.chmod(0)
    try:
        assert _shape(check_file(path, "locked.xlsx")) == (
            "file-unreadable",
            "error",
            "locked.xlsx",
        )
    finally:
        path.chmod(0o644)


def test_limits_are_applied_and_quoted(good_return: Path) -> None:
    cases = [
        (Limits(max_file_bytes=1000), "1,000 bytes"),
        (Limits(max_uncompressed_bytes=2048), "2 KB"),
        (Limits(max_members=3), "limit of 3"),
    ]
    got = []
    for limits, quoted in cases:
        issue = check_file(good_return, "g.xlsx", limits=limits)
        got.append((issue.code if issue else None, quoted in (issue.message if issue else "")))
    assert got == [("file-too-large", True)] * 3


def test_limits_defaults_documented() -> None:
    assert (
        LIMITS.max_file_bytes,
        LIMITS.max_uncompressed_bytes,
        LIMITS.max_part_bytes,
        LIMITS.max_ratio,
        LIMITS.max_rows_per_sheet,
        LIMITS.max_cell_chars,
    ) == (50 << 20, 200 << 20, 25 << 20, 100, 10_000, 32_767)


@pytest.mark.parametrize(
    ("head", "code", "words"),
    [
        (b"%PDF-1.7\n", "not-a-workbook", "PDF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "not-a-workbook", "PNG image"),
        (b"\xef\xbb\xbfID;Q1;Q2\n1.1;3;4\n", "not-a-workbook", "CSV"),
        (b"<html><body><table></table></body></html>", "not-a-workbook", "web page"),
        (b"Dear analyst, please find the figures below.\n", "not-a-workbook", "text file"),
        (bytes(range(256)) * 4, "not-a-workbook", "unknown type"),
        (
            b'<?xml version="1.0"?>\n'
            b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
            "format-unsupported",
            "Excel 2003 XML",
        ),
        (b"\x09\x00\x04\x00\x07\x00\x10\x00" + bytes(32), "format-unsupported", "Excel 2.x"),
    ],
)
def test_other_files_named_by_what_they_are(
    tmp_path: Path, head: bytes, code: str, words: str
) -> None:
    path = tmp_path / "return.xlsx"
    path.write_bytes(head)
    issue = check_file(path, "return.xlsx")
    assert (issue.code if issue else None, words in (issue.message if issue else "")) == (
        code,
        True,
    )


def test_zip_level_encryption_and_odf_text(tmp_path: Path, good_return: Path) -> None:
    data = bytearray(good_return.read_bytes())
    # set the "encrypted" flag of the first part, in its local and central headers
    data[6] |= 1
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    first_cd = bytes(data).find(b"PK\x01\x02")
    assert cd >= first_cd >= 0
    data[first_cd + 8] |= 1
    encrypted = tmp_path / "zipcrypto.xlsx"
    encrypted.write_bytes(bytes(data))
    odt = tmp_path / "letter.ods"
    with zipfile.ZipFile(odt, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", '<?xml version="1.0"?><office:document-content/>')
    assert [_shape(check_file(p, p.name)) for p in (encrypted, odt)] == [
        ("file-encrypted", "error", "zipcrypto.xlsx"),
        ("not-a-workbook", "error", "letter.ods"),
    ]


def test_doctype_after_a_long_prolog_is_still_found(tmp_path: Path, good_return: Path) -> None:
    """A DOCTYPE pushed beyond the scan window by a comment: the root element is not found
    within the window, so the part is refused rather than passed unread."""
    path = tmp_path / "padded.xlsx"
    with zipfile.ZipFile(good_return) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = (
                    b'<?xml version="1.0"?>\n<!--'
                    + b" " * 5000
                    + b"-->"
                    + b'<!DOCTYPE x [<!ENTITY a "a">]>'
                    + data.split(b"?>", 1)[1]
                )
            dst.writestr(info, data, zipfile.ZIP_DEFLATED)
    assert _shape(check_file(path, "padded.xlsx")) == ("file-unsafe-xml", "error", "padded.xlsx")


def test_check_is_fast_on_a_small_return(good_return: Path) -> None:
    """The pre-flight runs on every file of a 2,000-file merge. Measured ~0.1-0.2 ms on a
    busy 2-core machine; the bound here only catches a regression such as decompressing
    whole parts."""
    for _ in range(20):
        check_file(good_return, "g.xlsx")
    times = []
    for _ in range(200):
        start = time.perf_counter()
        check_file(good_return, "g.xlsx")
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.002


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b""]),
    st.binary(max_size=3000),
)
def test_random_bytes_never_hit_an_internal_failure(
    tmp_path_factory: pytest.TempPathFactory, magic: bytes, tail: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "random.xlsx"
    path.write_bytes(magic + tail)
    issue = check_file(path, "random.xlsx")
    assert issue is None or "could not be checked" not in issue.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_return_never_hits_an_internal_failure(
    tmp_path_factory: pytest.TempPathFactory, good_return: Path, data: st.DataObject
) -> None:
    raw = bytearray(good_return.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    path = tmp_path_factory.getbasetemp() / "mutated.xlsx"
    path.write_bytes(bytes(raw[:cut]))
    issue = check_file(path, "mutated.xlsx")
    assert issue is None or "could not be checked" not in issue.message


def test_central_directory_pointing_past_itself(tmp_path: Path, good_return: Path) -> None:
    raw = bytearray(good_return.read_bytes())
    eocd = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<I", raw, eocd + 12, len(raw))  # directory size: the whole file
    path = tmp_path / "liar.xlsx"
    path.write_bytes(bytes(raw))
    assert _shape(check_file(path, "liar.xlsx")) == ("file-corrupt", "error", "liar.xlsx")


# --- other formats, made by LibreOffice ------------------------------------------------


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory, good_return: Path) -> dict[str, Path]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("soffice is not installed")
    out = tmp_path_factory.mktemp("converted")
    profile = tmp_path_factory.mktemp("lo_profile")
    made = {}
    for fmt in ("ods", "xls"):
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--convert-to",
                fmt,
                "--outdir",
                str(out),
                str(good_return),
            ],
            check=False,
            capture_output=True,
            timeout=120,
        )
        path = out / f"{good_return.stem}.{fmt}"
        if not path.exists():
            pytest.skip(f"soffice could not convert to {fmt}")
        made[fmt] = path
    return made


def test_libreoffice_ods_and_xls_pass(converted: dict[str, Path]) -> None:
    assert {fmt: check_file(p, p.name) for fmt, p in converted.items()} == {
        "ods": None,
        "xls": None,
    }


# --- the real third-party corpus ------------------------------------------------------


def _real_files() -> list[Path]:
    if not REAL.is_dir():
        return []
    return sorted(p for p in REAL.iterdir() if p.name not in ("MANIFEST.tsv", "README.md"))


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/corpus/real is not present")
def test_real_corpus_verdicts() -> None:
    got = {}
    slow = []
    for path in _real_files():
        issue, seconds = _timed(path, path.name)
        if issue is not None:
            got[path.name] = issue.code
            assert issue.severity == Severity.ERROR and issue.file == path.name
            assert "could not be checked" not in issue.message
        if seconds > 0.5:
            slow.append((path.name, round(seconds, 3)))
    assert got == {k: v for k, v in REAL_EXPECTED.items() if (REAL / k).exists()}
    assert slow == []
