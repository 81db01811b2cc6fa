"""Build the hostile-input corpus: broken, malicious and wrong files posing as returns.

Input: a folder. Output: the files below, written deterministically (same bytes on every
run), plus the small register they are returns for. Nothing here is committed as a
binary; the tests build the corpus once per session into a temporary folder:

    python tests/hostile/make_corpus.py OUT_DIR      # to look at the files by hand

Every case is a `Case`: file name, what it exercises, the issue code `safety.check_file`
must give (None when the file is a well-formed workbook and the reader must judge it), and
the code the reader must give for it (`read_return`), when it differs.
"""

from __future__ import annotations

import datetime
import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from rag_workbook.forms import write_return, write_template
from rag_workbook.model import (
    Basis,
    Measure,
    Polarity,
    Register,
    RowNotes,
    Settings,
    Status,
)
from rag_workbook.template import register_fingerprint

# Text that must stay text wherever it lands in the dashboard.
INJECTIONS = (
    '=HYPERLINK("http://example.invalid/x","click")',
    "=1+1",
    "+1+2",
    "-3+4",
    "@SUM(A1:A2)",
    "=cmd|' /C calc'!A0",
)

_FIXED_TIME = (2012, 1, 1, 0, 0, 0)
_ZEROS = b"\x00" * (1 << 20)


@dataclass(frozen=True)
class Case:
    """One hostile file: its name, what it is, and the codes it must give."""

    name: str
    what: str
    check_code: str | None  # safety.check_file's code, None when the file passes
    read_code: str  # a code read_return must give among its issues


def _measure(theme: str, mid: str, text: str, lead: str, target: float) -> Measure:
    return Measure(
        theme=theme,
        measure_id=mid,
        text=text,
        polarity=Polarity.REDUCE,
        basis=Basis.SNAPSHOT,
        lead=lead,
        baseline=target * 1.1,
        target=target,
        tolerance=5.0,
    )


def build_register(*, extra_theme: bool = False, old: bool = False) -> Register:
    """The small register the corpus's returns are for.

    Args:
        extra_theme: add an "Arson" theme (for a return of a theme the analyst lacks).
        old: change a target, as an earlier version of the template would have.
    """
    settings = Settings(partnership="Hostile Test Partnership", year="2011/12")
    measures = [
        _measure("ASB", "1.1", "Reduce reported ASB incidents", "Ann Lead", 1000.0),
        _measure("ASB", "1.2", "Reduce repeat ASB callers", "Ann Lead", 50.0),
        _measure("Violence", "2.1", "Reduce violent crime", "Vic Lead", 300.0),
        _measure("Violence", "2.2", "Reduce domestic abuse repeats", "Vic Lead", 40.0),
    ]
    if old:
        measures[0] = _measure("ASB", "1.1", "Reduce reported ASB incidents", "Ann Lead", 900.0)
    if extra_theme:
        measures.append(_measure("Arson", "9.1", "Reduce deliberate fires", "Ash Lead", 20.0))
    return Register(
        settings=settings,
        measures=tuple(measures),
        fingerprint=register_fingerprint(settings, measures),
    )


# Values of the two good returns; the CLI test looks for them in the Data sheet.
GOOD_VALUES: Mapping[str, Mapping[tuple[str, str], float | str]] = {
    "ASB": {("1.1", "Q1"): 251.0, ("1.1", "Q2"): 497.0, ("1.2", "Q1"): 13.0, ("1.2", "Q2"): "-"},
    "Violence": {("2.1", "Q1"): 71.0, ("2.1", "Q2"): 143.0, ("2.2", "Q1"): 9.0},
}
GOOD_NOTES: Mapping[str, Mapping[str, RowNotes]] = {
    "ASB": {
        "1.1": RowNotes("1.1", comment=INJECTIONS[0]),
        "1.2": RowNotes("1.2", override=Status.GREEN, override_reason=INJECTIONS[1]),
    },
    "Violence": {
        "2.1": RowNotes("2.1", comment=INJECTIONS[2]),
        "2.2": RowNotes(
            "2.2", override=Status.AMBER, override_reason=INJECTIONS[4], comment=INJECTIONS[3]
        ),
    },
}


def write_good_returns(folder: Path, register: Register) -> list[Path]:
    """Two well-formed returns (ASB and Violence) whose text fields try formula injection."""
    paths = []
    for theme in ("ASB", "Violence"):
        values = dict(GOOD_VALUES[theme])
        if theme == "Violence":
            values[("2.2", "Q2")] = INJECTIONS[5]  # text in a value cell: reported, as text
        paths.append(
            write_return(
                folder / f"good_{theme}.xlsx",
                register,
                theme,
                values=values,
                notes=GOOD_NOTES[theme],
                quarter="Q2",
                submitted="2011-10-10",
            )
        )
    return paths


# --- zip helpers -----------------------------------------------------------------------


def _members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def _write_zip(path: Path, members: list[tuple[str, bytes]], *, level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, _FIXED_TIME), data, zipfile.ZIP_DEFLATED)
    return path


def _rewrite(src: Path, dst: Path, edits: Mapping[str, Callable[[bytes], bytes]]) -> Path:
    members = [(n, edits[n](d) if n in edits else d) for n, d in _members(src)]
    return _write_zip(dst, members)


_LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n"
)


def _with_laughs(xml: bytes) -> bytes:
    """Put a billion-laughs DTD in front of the root element, and use it in the first cell."""
    body = xml.split(b"?>", 1)[1].lstrip()
    return _LAUGHS + body.replace(b"<t>", b"<t>&lol9;", 1).replace(b"<v>", b"<v>&lol9;", 1)


# --- compound files (old .xls, encrypted OOXML) ---------------------------------------


def _cfb(streams: Mapping[str, bytes]) -> bytes:
    """A minimal version 3 compound file holding `streams` (each padded to >= 4,096 bytes,
    so that no mini stream is needed)."""
    sector = 512
    blobs = []
    for name, data in streams.items():
        padded = data + b"\x00" * (max(4096, -(-len(data) // sector) * sector) - len(data))
        blobs.append((name, data, padded))
    fat: list[int] = []
    starts = []
    # sector 0: FAT, sector 1: directory, then the streams
    fat += [0xFFFFFFFD, 0xFFFFFFFE]
    for _, _, padded in blobs:
        count = len(padded) // sector
        start = len(fat)
        starts.append(start)
        fat += [start + i + 1 for i in range(count - 1)] + [0xFFFFFFFE]
    if len(fat) > sector // 4:
        raise ValueError("streams too large for this minimal writer")
    fat += [0xFFFFFFFF] * (sector // 4 - len(fat))

    def entry(
        name: str, kind: int, left: int, right: int, child: int, start: int, size: int
    ) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00"
        return (
            raw.ljust(64, b"\x00")
            + struct.pack("<HBB3I", len(raw), kind, 1, left, right, child)
            + b"\x00" * 16  # CLSID
            + b"\x00" * 4  # state bits
            + b"\x00" * 16  # times
            + struct.pack("<IQ", start, size)
        )

    none = 0xFFFFFFFF
    entries = [entry("Root Entry", 5, none, none, 1 if blobs else none, 0xFFFFFFFE, 0)]
    for i, ((name, _data, padded), start) in enumerate(zip(blobs, starts, strict=True)):
        right = i + 2 if i + 1 < len(blobs) else none
        entries.append(entry(name, 2, none, right, none, start, len(padded)))
    directory = b"".join(entries)
    directory += b"\x00" * (-len(directory) % sector)
    if len(directory) > sector:
        raise ValueError("too many streams for this minimal writer")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16  # CLSID
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)  # version 3, 512-byte sectors
        + b"\x00" * 6
        # directory sectors, FAT sectors (1), first directory sector (1), transaction,
        # mini stream cutoff, first mini FAT sector, mini FAT sectors, first DIFAT, DIFATs
        + struct.pack("<9I", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<I", 0)  # the FAT is sector 0
        + b"\xff" * (108 * 4)
    )
    body = struct.pack(f"<{sector // 4}I", *fat) + directory
    return header + body + b"".join(padded for _, _, padded in blobs)


def _biff_record(kind: int, data: bytes) -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _encrypted_xls() -> bytes:
    bof = _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0))
    filepass = _biff_record(0x002F, struct.pack("<HHH", 1, 1, 2) + b"\x11" * 48)
    eof = _biff_record(0x000A, b"")
    return _cfb({"Workbook": bof + filepass + eof})


def _encrypted_ooxml() -> bytes:
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    package = struct.pack("<Q", 4096) + bytes(range(256)) * 16
    return _cfb({"EncryptionInfo": info, "EncryptedPackage": package})


def _encrypted_ods() -> list[tuple[str, bytes]]:
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="/" '
        b'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        b'<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AA==">'
        b'<manifest:algorithm manifest:algorithm-name="Blowfish CFB" '
        b'manifest:initialisation-vector="AA=="/></manifest:encryption-data>'
        b"</manifest:file-entry></manifest:manifest>"
    )
    return [
        ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", bytes(range(256)) * 8),
    ]


# --- big ones, built fast --------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """A zip part given as raw deflate data (so huge parts need not be compressed)."""

    name: str
    deflated: bytes
    crc: int
    size: int


def _raw(name: str, data: bytes) -> _Raw:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return _Raw(name, packer.compress(data) + packer.flush(), zlib.crc32(data), len(data))


def _repeated(name: str, prefix: bytes, block: bytes, times: int, suffix: bytes) -> _Raw:
    """A part of `prefix + block * times + suffix`, deflating `block` only once: after a
    full flush a deflate block refers to nothing before it, so its bytes can be repeated."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    packed_block = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.compress(suffix) + packer.flush()
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + len(block) * times + len(suffix)
    return _Raw(name, head + packed_block * times + end, crc, size)


def _write_raw_zip(path: Path, parts: list[_Raw]) -> Path:
    """A plain zip (no zip64: parts stay under 4 GB) of already deflated parts."""
    out = io.BytesIO()
    central = []
    dos_time, dos_date = 0, (2012 - 1980) << 9 | 1 << 5 | 1
    for part in parts:
        offset = out.tell()
        name = part.name.encode()
        fields = (20, 0, 8, dos_time, dos_date, part.crc, len(part.deflated), part.size)
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", *fields, len(name), 0))
        out.write(name)
        out.write(part.deflated)
        central.append(
            struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, *fields, len(name), 0, 0, 0, 0, 0, offset)
            + name
        )
    cd_offset = out.tell()
    cd = b"".join(central)
    out.write(cd)
    out.write(
        struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(cd), cd_offset, 0)
    )
    path.write_bytes(out.getvalue())
    return path


def _zip_bomb(path: Path, good: Path, *, total: int, member: str) -> Path:
    """A valid return plus one part that unpacks to `total` bytes of zeros, honestly
    declared: about 1,000:1, written in a few milliseconds."""
    parts = [_raw(n, d) for n, d in _members(good) if n != member]
    return _write_raw_zip(path, [*parts, _repeated(member, b"", _ZEROS, total // len(_ZEROS), b"")])


def _million_rows(path: Path, good: Path, blocks: int) -> Path:
    """The good return with a Return sheet of a table header and 10,000 x `blocks` rows
    of numbers below it. Rows and cells carry no `r` attribute (it is optional), so one
    10,000-row block repeats; 270 KB apart, the repeats are beyond deflate's 32 KB window,
    so the part compresses only ~10:1, like a real sheet, and passes the pre-flight."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>"
        b'<row><c t="inlineStr"><is><t>ID</t></is></c><c t="inlineStr"><is><t>Q1</t></is></c>'
        b'<c t="inlineStr"><is><t>Comment</t></is></c></row>'
    )
    block = b"".join(
        b"<row><c><v>%d</v></c><c><v>%d</v></c></row>" % (i, i % 97) for i in range(10_000)
    )
    tail = b"</sheetData></worksheet>"
    sheet = _repeated("xl/worksheets/sheet1.xml", head, block, blocks, tail)
    parts = [_raw(n, d) for n, d in _members(good) if n != "xl/worksheets/sheet1.xml"]
    return _write_raw_zip(path, [*parts, sheet])


def _huge_cell(path: Path, register: Register, folder: Path, size: int) -> Path:
    marker = "HUGE-CELL-MARKER"
    tmp = write_return(
        folder / "_huge_cell_src.xlsx",
        register,
        "ASB",
        values={("1.1", "Q1"): 250.0},
        notes={"1.1": RowNotes("1.1", comment=marker)},
        quarter="Q1",
        submitted="2011-07-10",
    )
    huge = ("A long comment. " * (size // 16 + 1))[:size].encode()
    _rewrite(tmp, path, {"xl/sharedStrings.xml": lambda d: d.replace(marker.encode(), huge)})
    tmp.unlink()
    return path


def _no_table(path: Path) -> Path:
    """A workbook whose sheets are called Sheet1/Sheet2 and hold no return table."""
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": datetime.datetime(2012, 1, 1)})
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, ["Quarterly figures", "", "see attached"])
    ws.write_row(2, 0, ["Incidents", 251, 497])
    wb.add_worksheet("Sheet2").write(0, 0, "nothing here")
    wb.close()
    return path


# --- the corpus ------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    Case("empty.xlsx", "an empty file (0 bytes)", "file-empty", "file-empty"),
    Case("truncated.xlsx", "a return cut at half its length", "file-corrupt", "file-corrupt"),
    Case(
        "corrupt_zip.xlsx",
        "a return whose zip directory is garbled",
        "file-corrupt",
        "file-corrupt",
    ),
    Case(
        "zip_bomb_total.xlsx",
        "a part that unpacks to 256 MB of zeros",
        "file-too-large",
        "file-too-large",
    ),
    Case(
        "zip_bomb_ratio.xlsx",
        "a 16 MB sharedStrings part compressed about 1000:1",
        "file-too-large",
        "file-too-large",
    ),
    Case(
        "many_parts.xlsx", "a return with 6,000 extra zip parts", "file-too-large", "file-too-large"
    ),
    Case(
        "laughs_sheet.xlsx",
        "billion laughs in the Return sheet XML",
        "file-unsafe-xml",
        "file-unsafe-xml",
    ),
    Case(
        "laughs_strings.xlsx",
        "billion laughs in sharedStrings.xml",
        "file-unsafe-xml",
        "file-unsafe-xml",
    ),
    Case(
        "encrypted.xlsx",
        "a password-protected (encrypted OOXML) workbook",
        "file-encrypted",
        "file-encrypted",
    ),
    Case(
        "encrypted.xls",
        "a password-protected Excel 97-2003 workbook (FILEPASS)",
        "file-encrypted",
        "file-encrypted",
    ),
    Case(
        "encrypted.ods",
        "a password-protected OpenDocument spreadsheet",
        "file-encrypted",
        "file-encrypted",
    ),
    Case("csv_renamed.xlsx", "a CSV file renamed .xlsx", "not-a-workbook", "not-a-workbook"),
    Case("pdf_renamed.xlsx", "a PDF renamed .xlsx", "not-a-workbook", "not-a-workbook"),
    Case("html_renamed.xls", "a web page saved as .xls", "not-a-workbook", "not-a-workbook"),
    Case("docx_renamed.xlsx", "a Word document renamed .xlsx", "not-a-workbook", "not-a-workbook"),
    Case(
        "no_workbook_part.xlsx",
        "an OOXML zip without xl/workbook.xml",
        "not-a-workbook",
        "not-a-workbook",
    ),
    Case(
        "million_rows.xlsx",
        "a Return sheet with 1,000,000 used rows (40 MB of sheet XML)",
        "file-too-large",
        "file-too-large",
    ),
    Case("many_rows.xlsx", "a Return sheet with 100,000 rows of unknown IDs", None, ""),
    Case("huge_cell.xlsx", "a comment cell holding 1 MB of text", None, ""),
    Case("no_table.xlsx", "sheets named Sheet1/Sheet2, no return table", None, "no-return-table"),
    Case(
        "unknown_theme.xlsx",
        "a return for a theme the register does not have",
        None,
        "unknown-theme",
    ),
    Case(
        "old_template.xlsx",
        "a return issued from an earlier version of the template",
        None,
        "template-mismatch",
    ),
)


def build_corpus(folder: Path) -> dict[str, Path]:
    """Write every case of `CASES` into `folder`; return name -> path.

    Also writes `good_ASB.xlsx` and `good_Violence.xlsx` (under "good/"), valid returns
    for `build_register()`, and `template.xlsx`, the register as the analyst's template.
    """
    folder.mkdir(parents=True, exist_ok=True)
    hostile = folder / "hostile"
    good_dir = folder / "good"
    work = folder / "work"
    for d in (hostile, good_dir, work):
        d.mkdir(exist_ok=True)
    register = build_register()
    write_template(register, folder / "template.xlsx")
    good_asb, _good_violence = write_good_returns(good_dir, register)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        (hostile / name).write_bytes(data)
        out[name] = hostile / name

    def done(path: Path) -> None:
        out[path.name] = path

    raw = good_asb.read_bytes()
    put("empty.xlsx", b"")
    put("truncated.xlsx", raw[: len(raw) // 2])
    cd_at = raw.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", raw, cd_at + 16)
    garbled = bytes((b * 7 + 13) & 0xFF for b in raw[cd_offset:cd_at])
    put("corrupt_zip.xlsx", raw[:cd_offset] + garbled + raw[cd_at:])
    done(
        _zip_bomb(
            hostile / "zip_bomb_total.xlsx",
            good_asb,
            total=256 << 20,
            member="xl/worksheets/sheet1.xml",
        )
    )
    done(
        _zip_bomb(
            hostile / "zip_bomb_ratio.xlsx", good_asb, total=16 << 20, member="xl/sharedStrings.xml"
        )
    )
    extra = [_raw(f"xl/media/pad{i:05d}.bin", b"") for i in range(6000)]
    parts = [_raw(n, d) for n, d in _members(good_asb)]
    done(_write_raw_zip(hostile / "many_parts.xlsx", [*parts, *extra]))
    done(
        _rewrite(
            good_asb, hostile / "laughs_sheet.xlsx", {"xl/worksheets/sheet1.xml": _with_laughs}
        )
    )
    done(
        _rewrite(good_asb, hostile / "laughs_strings.xlsx", {"xl/sharedStrings.xml": _with_laughs})
    )
    put("encrypted.xlsx", _encrypted_ooxml())
    put("encrypted.xls", _encrypted_xls())
    done(_write_zip(hostile / "encrypted.ods", _encrypted_ods()))
    put("csv_renamed.xlsx", b"ID,Measure,Q1,Q2\r\n1.1,Reduce reported ASB incidents,251,497\r\n")
    put(
        "pdf_renamed.xlsx",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n",
    )
    put(
        "html_renamed.xls",
        b"<!DOCTYPE html>\n<html><body><table><tr><td>ID</td><td>Q1</td></tr>"
        b"<tr><td>1.1</td><td>251</td></tr></table></body></html>\n",
    )
    done(
        _write_zip(
            hostile / "docx_renamed.xlsx",
            [
                ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
                ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>'),
                ("word/document.xml", b'<?xml version="1.0"?><w:document xmlns:w="w"/>'),
            ],
        )
    )
    done(
        _write_zip(
            hostile / "no_workbook_part.xlsx",
            [(n, d) for n, d in _members(good_asb) if n != "xl/workbook.xml"],
        )
    )
    done(_million_rows(hostile / "million_rows.xlsx", good_asb, 100))
    done(_million_rows(hostile / "many_rows.xlsx", good_asb, 10))
    done(_huge_cell(hostile / "huge_cell.xlsx", register, work, 1 << 20))
    done(_no_table(hostile / "no_table.xlsx"))
    arson = build_register(extra_theme=True)
    done(
        write_return(
            hostile / "unknown_theme.xlsx",
            arson,
            "Arson",
            values={("9.1", "Q1"): 4.0},
            quarter="Q1",
            submitted="2011-07-10",
        )
    )
    old = build_register(old=True)
    done(
        write_return(
            hostile / "old_template.xlsx",
            old,
            "Violence",
            values={("2.1", "Q1"): 70.0},
            quarter="Q1",
            submitted="2011-07-09",
        )
    )
    missing = {c.name for c in CASES} - set(out)
    if missing:
        raise AssertionError(f"cases not built: {sorted(missing)}")
    return out


def iter_cases() -> Iterator[Case]:
    """The cases in a stable order (for parametrised tests)."""
    yield from CASES


def ensure_corpus(folder: Path) -> dict[str, Path]:
    """Build the corpus into `folder` unless an earlier call in this session did.

    Test modules share one corpus per session through this (each has its own
    session-scoped fixture, since the project's conftest.py is not theirs to extend).
    """
    stamp = folder / ".built"
    if stamp.exists():
        return {c.name: folder / "hostile" / c.name for c in CASES}
    built = build_corpus(folder)
    stamp.write_text("ok\n")
    return built


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_corpus")
    for case_name, case_path in sorted(build_corpus(target).items()):
        print(f"{case_path.stat().st_size:>12,}  {case_name}")
