"""Pre-flight checks on an input file before any parser touches it.

Input: a path. Output: None when the file may be parsed, else one Issue saying what is
wrong and what the lead should do. Never raises.

The check is cheap on purpose: it runs on every file of a merge (2,000 returns for a
national collection), so it reads only the first bytes of the file, the zip's central
directory and the first KB of each XML part that carries the lead's content (workbook,
sheets, shared strings, styles; ODF content) or, for an old `.xls`, the compound file's
allocation table and directory. It decompresses a whole part only when it is small and the
caller wants it whole anyway (`check_and_unpack`: the reader's Return sheet): about 0.16-0.18 ms
of CPU for a small return on a busy 2-core machine (515,000 instructions; 0.06 ms for an
`.xls`). What it catches is what would make a parser hang, eat memory, crash or misread:

- missing, unreadable, empty or oversized files;
- files that are not workbooks at all (a CSV, PDF, web page or Word document renamed
  `.xlsx`), named as what they look like;
- truncated or corrupt zips and compound files;
- zip bombs and huge sheets (declared uncompressed size in total and per part,
  compression ratio, number of parts);
- XML with a document type declaration (billion laughs, external entities);
- password-protected (encrypted) workbooks of every kind: OOXML, `.xls` and `.ods`.

The limits live in `Limits`; `LIMITS` holds the defaults, which every message quotes.
`Limits.max_rows_per_sheet` and `Limits.max_cell_chars` are not checked here (they need
the parsed sheet) but are the reader's caps, kept beside the others so there is one
place that says how much of a file the tool will look at.
"""

from __future__ import annotations

import functools
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO, NamedTuple

from rag_workbook.report import CATALOGUE, Code, Issue

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """How much of one input file the tool is willing to read.

    A return has a few dozen measures on one sheet and is tens of KB on disk, so every
    default is orders of magnitude above a real return and far below what would strain
    a 2-core machine with a few GB of memory.

    Attributes:
        max_file_bytes: largest file accepted, on disk (50 MB).
        max_uncompressed_bytes: largest total size of a zip's parts once unpacked, as the
            zip declares it (200 MB).
        max_part_bytes: largest single part once unpacked (25 MB, about 500,000 rows of a
            sheet). This bounds time rather than memory: python-calamine parses a whole sheet
            before the reader sees a row, at roughly 10 MB of XML a second on a busy 2-core
            machine, so a 25 MB sheet costs a few seconds and a 1,000,000-row one is refused.
        max_ratio: largest compression ratio of one part (100:1) ...
        ratio_floor_bytes: ... checked only for parts that unpack to more than this (4 MB),
            since small XML parts routinely compress 50:1 or better.
        max_members: most parts in a zip (5,000); a return has about a dozen.
        max_issues_per_file: most issues the reader should list for one file (200); the
            rest are counted in one closing issue, so a sheet of junk cannot flood the
            Issues sheet.
        xml_scan_bytes: how much of the start of each XML part is unpacked to look for a
            document type declaration (1 KB); the declaration must come before the root
            element, so a part whose root element does not start within this window is
            refused too.
        max_cfb_sectors: most sectors walked in an old `.xls` (compound file) allocation
            chain before it is called corrupt (bounded by the file size anyway).
        max_rows_per_sheet: most rows the reader reads from one sheet (10,000).
        max_cell_chars: longest text the reader keeps from one cell (32,767, Excel's own
            limit); longer text is cut and reported.
    """

    max_file_bytes: int = 50 * _MB
    max_uncompressed_bytes: int = 200 * _MB
    max_part_bytes: int = 25 * _MB
    max_ratio: int = 100
    ratio_floor_bytes: int = 4 * _MB
    max_members: int = 5_000
    max_issues_per_file: int = 200
    xml_scan_bytes: int = 1_024
    max_cfb_sectors: int = 1_000_000
    max_rows_per_sheet: int = 10_000
    max_cell_chars: int = 32_767


LIMITS = Limits()

# The issues check_file gives have the codes of report.Code; each one's fix is the
# catalogue's unless a check words a more particular one.
_FIX_RESEND = CATALOGUE[Code.FILE_CORRUPT].fix

_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"
_ZIP_EOCD = b"PK\x05\x06"
_ZIP_CENTRAL = b"PK\x01\x02"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EOCD_SIZE = 22
# The fields of a 46-byte central directory entry that the check uses: signature, flags,
# method, sizes, name/extra/comment lengths and the local header's offset.
_CENTRAL_FIELDS = struct.Struct("<4s4x2H8x2I3H8xI")
_LOCAL_LENGTHS = struct.Struct("<2H")  # name and extra lengths, at 26 in a local header
_WHOLE_FILE_BYTES = 1 * _MB  # files up to this size are read in one go
_MANIFEST_BYTES = 256 * 1024  # most of an ODF manifest unpacked to look for encryption

_XML_DANGER = re.compile(rb"<!\s*(?:doctype|entity)", re.IGNORECASE)
_XML_ROOT = re.compile(rb"<[A-Za-z_]")
# The XML parts a cell reader parses that carry the lead's content: the workbook, sheets,
# shared strings and styles (OOXML), content/styles/meta/settings (ODF). Relationship and
# content-type parts, document properties, themes, drawings and charts are not scanned:
# each scan costs ~10 us (setting up an inflater), and the check runs on every file.
_SCANNED_PART = re.compile(
    r"(?:^|/)(?:workbook\.xml|sharedstrings\.xml|styles\.xml|worksheets/[^/]+\.xml"
    r"|content\.xml|meta\.xml|settings\.xml)$"
)


@functools.lru_cache(maxsize=1024)
def _is_scanned(name: str) -> bool:
    """Whether a part (lower-case name) is scanned; cached, as every return has the same."""
    return _SCANNED_PART.search(name) is not None


def check_file(path: Path, display: str, *, limits: Limits = LIMITS) -> Issue | None:
    """Return an Issue when `path` must not be parsed, else None.

    `check_and_unpack` does the same check and also hands back what it read.

    Args:
        path: the file to check.
        display: the file name to use in the issue.
        limits: the size limits to apply (the defaults in `LIMITS` unless testing).

    Returns:
        None when the file looks like a workbook we may parse, else one Issue of code
        `file-unreadable`, `file-empty`, `file-too-large`, `file-corrupt`,
        `file-encrypted`, `file-unsafe-xml`, `not-a-workbook` or `format-unsupported`.

    Example:
        >>> check_file(Path("returns/ASB.xlsx"), "ASB.xlsx") is None
        True
    """
    found = check_and_unpack(path, display, limits=limits)
    return found if isinstance(found, Issue) else None


class Checked(NamedTuple):
    """A file the check passed, and what the check read that the reader can use again.

    Attributes:
        data: the whole file, or None for a file too large to have been read whole.
        parts: the names of a zip's parts, as stored (empty for any other file).
        unpacked: the parts the caller wanted that the check unpacked whole (by name as
            stored): those it scans anyway, deflated, of a file read whole, up to
            `UNPACKED_PART_BYTES`, complete and of their declared size.
    """

    data: bytes | None
    parts: tuple[str, ...]
    unpacked: dict[str, bytes]


def check_and_unpack(
    path: Path,
    display: str,
    *,
    limits: Limits = LIMITS,
    wanted: frozenset[str] = frozenset(),
) -> Issue | Checked:
    """Check `path` as `check_file` does; also hand back what the check read (see `Checked`).

    A part the check scans and the caller will read whole is unpacked whole once, here,
    instead of its head here and the whole of it again by the caller.

    Args:
        path: the file to check.
        display: the file name to use in the issue.
        limits: the size limits to apply (the defaults in `LIMITS` unless testing).
        wanted: the zip parts (names as stored) the caller will read whole.

    Returns:
        The Issue when the file must not be parsed (as `check_file` gives it), else what
        the check read.

    Example:
        >>> sheet = "xl/worksheets/sheet1.xml"
        >>> checked = check_and_unpack(Path("returns/ASB.xlsx"), "ASB.xlsx", wanted={sheet})
        >>> sheet in checked.unpacked
        True
    """
    try:
        return _check(path, display, limits, wanted)
    except _Refused as refused:
        return refused.issue(display)
    except OSError as exc:
        return _issue(
            Code.FILE_UNREADABLE,
            display,
            f"cannot read the file ({exc.strerror or exc})",
            "check the file exists, is not open elsewhere and that you may read it",
        )
    except (struct.error, zlib.error, EOFError):
        # A structure cut short where the check reads it: the file is damaged.
        return _corrupt("a structure in it is cut short").issue(display)
    except MemoryError:
        return _issue(
            Code.FILE_TOO_LARGE,
            display,
            "the file needs more memory to check than this computer has free",
        )
    except Exception as exc:  # a bug of ours, not the lead's: say so, and go on
        return _issue(
            Code.INTERNAL_ERROR,
            display,
            f"rag-workbook failed while checking this file ({type(exc).__name__}); this is a "
            "bug in rag-workbook, not in the file",
        )


def _issue(code: Code, display: str, message: str, fix: str = "") -> Issue:
    return Issue.of(code, message, fix=fix, file=display)


class _Refused(Exception):
    """Raised inside the checks to stop at the first problem; never leaves this module."""

    def __init__(self, code: Code, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fix = fix

    def issue(self, display: str) -> Issue:
        return _issue(self.code, display, self.message, self.fix)


def _corrupt(what: str) -> _Refused:
    return _Refused(
        Code.FILE_CORRUPT, f"the file is damaged or cut short ({what}), so it cannot be read"
    )


def _encrypted(kind: str) -> _Refused:
    return _Refused(
        Code.FILE_ENCRYPTED, f"the workbook is password-protected ({kind}), so it cannot be read"
    )


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:,.0f} MB"
    if n >= 1024:
        return f"{n / 1024:,.0f} KB"
    return f"{n:,} bytes"


class _Source:
    """Random access to the file: the whole of a small file in memory, else seeks."""

    def __init__(self, size: int, *, data: bytes = b"", handle: BinaryIO | None = None) -> None:
        self.size = size
        self._handle = handle
        self._data = data
        self.data = data  # the whole file when small, else b""

    def rfind(self, needle: bytes, start: int) -> int:
        """Offset of the last `needle` at or after `start`, or -1."""
        if self._data:
            return self._data.rfind(needle, start)
        at = self.read(start, self.size - start).rfind(needle)
        return at if at < 0 else start + at

    def read(self, offset: int, count: int) -> bytes:
        if offset < 0 or count < 0 or offset > self.size:
            raise _corrupt("a pointer leads outside the file")
        if self._data or self._handle is None:
            return self._data[offset : offset + count]
        self._handle.seek(offset)
        return self._handle.read(count)


def _check(path: Path, display: str, limits: Limits, wanted: frozenset[str]) -> Checked:
    """Raise _Refused when the file must not be parsed; else return what the check read."""
    stat = path.stat()
    if not S_ISREG(stat.st_mode):
        raise _Refused(
            Code.FILE_UNREADABLE,
            "this is not a regular file (a folder or device)",
            "give the path of the return workbook itself",
        )
    size = stat.st_size
    if size == 0:
        raise _Refused(
            Code.FILE_EMPTY,
            "the file is empty (0 bytes)",
            "ask the lead to send the return again; the attachment may have failed",
        )
    if size > limits.max_file_bytes:
        raise _Refused(
            Code.FILE_TOO_LARGE,
            f"the file is {_size(size)}, more than the limit of "
            f"{_size(limits.max_file_bytes)} for one return",
        )
    if size <= _WHOLE_FILE_BYTES:
        data = _read_whole(path, size)
        return Checked(data, *_check_source(_Source(size, data=data), limits, wanted))
    with path.open("rb") as handle:
        return Checked(None, *_check_source(_Source(size, handle=handle), limits, wanted))


# Looked up once: getattr with a default raises and formats an AttributeError on POSIX.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_whole(path: Path, size: int) -> bytes:
    """The file's bytes, in as few system calls as Python allows (a return is tens of KB)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        chunks: list[bytes] = []
        got = 0
        while got <= size:
            chunk = os.read(fd, size + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    if got != size:
        raise _corrupt("it changed while being read")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _check_source(
    source: _Source, limits: Limits, wanted: frozenset[str]
) -> tuple[tuple[str, ...], dict[str, bytes]]:
    """Check a file's content; a zip's part names and the wanted parts unpacked whole."""
    head = source.read(0, 512)
    if head.startswith((_ZIP_LOCAL, _ZIP_EMPTY)):
        return _check_zip(source, limits, wanted)
    if head.startswith(_CFB_MAGIC):
        _check_cfb(source, limits)
        return (), {}
    _refuse_other(head)
    return (), {}


# --- zip packages: xlsx, xlsm, xlsb, ods ---------------------------------------------


class _Member(NamedTuple):
    name: str
    flags: int
    method: int
    compressed: int
    uncompressed: int
    offset: int


def _check_zip(
    source: _Source, limits: Limits, wanted: frozenset[str]
) -> tuple[tuple[str, ...], dict[str, bytes]]:
    members = _read_central_directory(source, limits)
    # One pass over the directory; the refusals keep their order of precedence
    # (encryption, then the first part too large, then the total).
    names: dict[str, _Member] = {}
    flags = total = 0
    too_large: _Member | None = None
    max_part, ratio_floor, max_ratio = (
        limits.max_part_bytes,
        limits.ratio_floor_bytes,
        limits.max_ratio,
    )
    for m in members:
        name, m_flags, _, compressed, uncompressed, _ = m
        names[name.replace("\\", "/").lower()] = m
        flags |= m_flags
        total += uncompressed
        if too_large is None and (
            uncompressed > max_part
            or (uncompressed > ratio_floor and uncompressed > max_ratio * max(compressed, 1))
        ):
            too_large = m
    if flags & 0x1:
        raise _encrypted("the zip itself is password-protected")
    if too_large is not None:
        m = too_large
        if m.uncompressed > max_part:
            raise _Refused(
                Code.FILE_TOO_LARGE,
                f"part {m.name} unpacks to {_size(m.uncompressed)}, more than the limit of "
                f"{_size(limits.max_part_bytes)} for one part (a return sheet is well under 1 MB)",
            )
        raise _Refused(
            Code.FILE_TOO_LARGE,
            f"part {m.name} unpacks from {_size(m.compressed)} to {_size(m.uncompressed)}, "
            f"a ratio over the limit of {limits.max_ratio}:1 (a zip bomb or a huge sheet)",
        )
    if total > limits.max_uncompressed_bytes:
        raise _Refused(
            Code.FILE_TOO_LARGE,
            f"the workbook unpacks to {_size(total)}, more than the limit of "
            f"{_size(limits.max_uncompressed_bytes)}",
        )
    odf = _odf_mimetype(source, names)
    if odf is not None:
        _check_odf(source, names, odf)
    else:
        _check_ooxml(names)
    unpacked: dict[str, bytes] = {}
    for key, m in names.items():
        if _is_scanned(key):
            _scan_xml(source, m, limits, unpacked if m.name in wanted else None)
    return tuple(m.name for m in members), unpacked


def _read_central_directory(source: _Source, limits: Limits) -> list[_Member]:
    eocd_pos = source.rfind(_ZIP_EOCD, max(0, source.size - (_EOCD_SIZE + 0xFFFF)))
    eocd = source.read(eocd_pos, _EOCD_SIZE) if eocd_pos >= 0 else b""
    if len(eocd) < _EOCD_SIZE:
        raise _corrupt("the zip directory at the end of the file is missing")
    (_, disk, cd_disk, _, count, cd_size, cd_offset, _) = struct.unpack("<4s4H2IH", eocd)
    if disk != 0 or cd_disk != 0:
        raise _corrupt("it is one part of a split zip")
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        count, cd_size, cd_offset = _zip64_directory(source, eocd_pos)
    if count > limits.max_members:
        raise _Refused(
            Code.FILE_TOO_LARGE,
            f"the workbook has {count:,} parts, more than the limit of {limits.max_members:,}",
        )
    if cd_offset + cd_size > eocd_pos:
        raise _corrupt("the zip directory points past its own end")
    directory = source.read(cd_offset, cd_size)
    if len(directory) != cd_size:
        raise _corrupt("the zip directory is cut short")
    members: list[_Member] = []
    append = members.append
    new_member = tuple.__new__  # _Member(...) without its Python-level __new__: 12 a file
    pos = 0
    unpack = _CENTRAL_FIELDS.unpack_from
    for _ in range(count):
        if pos + 46 > cd_size:
            raise _corrupt("the zip directory is cut short")
        (sig, flags, method, compressed, uncompressed, name_len, extra_len, comment_len,
         offset) = unpack(directory, pos)  # fmt: skip
        if sig != _ZIP_CENTRAL:
            raise _corrupt("the zip directory is garbled")
        start = pos + 46
        raw_name = directory[start : start + name_len]
        if compressed == 0xFFFFFFFF or uncompressed == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            extra = directory[start + name_len : start + name_len + extra_len]
            uncompressed, compressed, offset = _zip64_sizes(extra, uncompressed, compressed, offset)
        if offset + 30 > cd_offset:
            raise _corrupt(f"part {raw_name.decode('cp437')} points past the zip data")
        name = raw_name.decode(
            "utf-8" if flags & 0x800 or raw_name.isascii() else "cp437", "replace"
        )
        append(new_member(_Member, (name, flags, method, compressed, uncompressed, offset)))
        pos = start + name_len + extra_len + comment_len
    return members


def _zip64_directory(source: _Source, eocd_pos: int) -> tuple[int, int, int]:
    locator = source.read(eocd_pos - 20, 20)
    if len(locator) != 20 or not locator.startswith(_ZIP64_LOCATOR):
        raise _corrupt("the zip64 directory locator is missing")
    (record_pos,) = struct.unpack_from("<Q", locator, 8)
    record = source.read(record_pos, 56)
    if len(record) != 56 or not record.startswith(_ZIP64_EOCD):
        raise _corrupt("the zip64 directory is missing")
    count, cd_size, cd_offset = struct.unpack_from("<3Q", record, 32)
    return count, cd_size, cd_offset


def _zip64_sizes(
    extra: bytes, uncompressed: int, compressed: int, offset: int
) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 0x0001:
            values = [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            wanted = [uncompressed, compressed, offset]
            for i, current in enumerate(wanted):
                if current == 0xFFFFFFFF:
                    if not values:
                        raise _corrupt("a zip64 size is missing")
                    wanted[i] = values.pop(0)
            return wanted[0], wanted[1], wanted[2]
        pos += 4 + length
    raise _corrupt("a zip64 size is missing")


def _member_head(source: _Source, member: _Member, limit: int) -> bytes:
    """Unpack at most `limit` bytes from the start of one part."""
    name, _, method, compressed, _, offset = member
    data = source.data
    if data and method == 8 and offset + 30 <= len(data):
        # The usual part of a small file, straight from its bytes: what the reads below
        # give, without their calls (a check scans about six parts).
        if not data.startswith(_ZIP_LOCAL, offset):
            raise _corrupt(f"part {name} is missing from the zip data")
        name_len, extra_len = _LOCAL_LENGTHS.unpack_from(data, offset + 26)
        start = offset + 30 + name_len + extra_len
        if start > len(data):
            raise _corrupt("a pointer leads outside the file")
        raw = data[start : start + min(compressed, limit + 1024)]
    else:
        header = source.read(offset, 30)
        if len(header) != 30 or not header.startswith(_ZIP_LOCAL):
            raise _corrupt(f"part {name} is missing from the zip data")
        name_len, extra_len = _LOCAL_LENGTHS.unpack_from(header, 26)
        start = offset + 30 + name_len + extra_len
        if method == 0:
            return source.read(start, min(limit, compressed))
        if method != 8:
            return b""  # unusual compression: the parser reports it if it cannot read it
        # Deflate reaches at most ~1032:1, so this much input gives `limit` bytes or the part.
        raw = source.read(start, min(compressed, limit + 1024))
    try:
        # A window no larger than the output cap is enough (no back-reference can reach
        # further) and halves the cost of setting up the inflater.
        return zlib.decompressobj(-max(9, min(15, (limit - 1).bit_length()))).decompress(raw, limit)
    except zlib.error as exc:
        raise _corrupt(f"part {name} does not unpack") from exc


# The largest part the check unpacks whole for its caller (see check_and_unpack): a
# return's sheet is a few KB.
UNPACKED_PART_BYTES = 64 * 1024


def _member_whole(source: _Source, member: _Member) -> bytes | None:
    """A small deflated part of a file in memory, unpacked whole; None unless it unpacks
    completely to its declared size (the caller then unpacks it its own way)."""
    data, offset, size = source.data, member.offset, member.uncompressed
    if (
        not 0 < size <= UNPACKED_PART_BYTES
        or member.method != 8
        or offset + 30 > len(data)
        or not data.startswith(_ZIP_LOCAL, offset)
    ):
        return None
    name_len, extra_len = _LOCAL_LENGTHS.unpack_from(data, offset + 26)
    start = offset + 30 + name_len + extra_len
    inflater = zlib.decompressobj(-max(9, min(15, (size - 1).bit_length())))
    try:
        whole = inflater.decompress(data[start : start + member.compressed], size + 1)
    except zlib.error:
        return None
    return whole if inflater.eof and len(whole) == size else None


def _scan_xml(
    source: _Source, member: _Member, limits: Limits, unpacked: dict[str, bytes] | None
) -> None:
    """Refuse a part with a document type declaration; unpacked whole into `unpacked`
    (when given and it can be, see `_member_whole`), else only its head."""
    whole = _member_whole(source, member) if unpacked is not None else None
    if whole is not None and unpacked is not None:
        unpacked[member.name] = whole
        head = whole[: limits.xml_scan_bytes]
    else:
        head = _member_head(source, member, limits.xml_scan_bytes)
    # bytes.find, not `in`: on Python 3.11 `bytes in bytes` first tries the needle as an
    # integer, raising and clearing a TypeError each time. One byte is a memchr.
    if head.find(b"\x00", 0, 64) >= 0 or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.replace(b"\x00", b"")
    if head.find(b"!") >= 0 and head.find(b"<!") >= 0 and _XML_DANGER.search(head):
        raise _Refused(
            Code.FILE_UNSAFE_XML,
            f"part {member.name} declares a document type or entities, which a workbook "
            "never needs and which can be used to exhaust memory (an XML bomb)",
        )
    if member.uncompressed > limits.xml_scan_bytes and _XML_ROOT.search(head) is None:
        raise _Refused(
            Code.FILE_UNSAFE_XML,
            f"part {member.name} does not start its content within the first "
            f"{_size(limits.xml_scan_bytes)} checked",
        )


def _odf_mimetype(source: _Source, names: dict[str, _Member]) -> str | None:
    member = names.get("mimetype")
    if member is None:
        return "" if "content.xml" in names else None
    return _member_head(source, member, 200).decode("ascii", "replace").strip()


_ODF_KINDS = {
    "text": "an OpenDocument text document (Writer)",
    "presentation": "an OpenDocument presentation (Impress)",
    "graphics": "an OpenDocument drawing",
}


def _check_odf(source: _Source, names: dict[str, _Member], mimetype: str) -> None:
    if mimetype and "spreadsheet" not in mimetype:
        kind = mimetype.rsplit(".", 1)[-1]
        what = _ODF_KINDS.get(kind, f"an OpenDocument file of type {mimetype}")
        raise _Refused(Code.NOT_A_WORKBOOK, f"this is {what}, not a workbook")
    manifest = names.get("meta-inf/manifest.xml")
    if manifest is not None and b"encryption-data" in _member_head(
        source, manifest, _MANIFEST_BYTES
    ):
        raise _encrypted("an encrypted OpenDocument spreadsheet")
    if "content.xml" not in names:
        raise _Refused(
            Code.NOT_A_WORKBOOK,
            "this OpenDocument file has no content.xml, so it holds no sheets",
            _FIX_RESEND,
        )


def _check_ooxml(names: dict[str, _Member]) -> None:
    if "xl/workbook.xml" in names:  # the usual workbook: no need to list the base names
        return
    basenames = {key.rsplit("/", 1)[-1] for key in names}
    if basenames & {"workbook.xml", "workbook.bin"}:
        return
    if "word/document.xml" in names:
        what = "a Word document"
    elif "ppt/presentation.xml" in names:
        what = "a PowerPoint presentation"
    elif "[content_types].xml" in names:
        what = "an Office file with no workbook part (xl/workbook.xml)"
    elif not names:
        what = "an empty zip archive"
    else:
        what = "a zip archive, not a workbook"
    raise _Refused(Code.NOT_A_WORKBOOK, f"this is {what}")


# --- compound files: xls, and encrypted OOXML ------------------------------------------

_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_CFB_SPECIAL = 0xFFFFFFFA  # ids at or above this are markers, not sectors


def _check_cfb(source: _Source, limits: Limits) -> None:
    cfb = _Cfb(source, limits)
    streams = cfb.streams()
    if "encryptioninfo" in streams and "encryptedpackage" in streams:
        raise _encrypted("an encrypted Office workbook")
    book = streams.get("workbook") or streams.get("book")
    if book is None:
        if "worddocument" in streams:
            what = "a Word 97-2003 document"
        elif "powerpoint document" in streams:
            what = "a PowerPoint 97-2003 presentation"
        else:
            what = "an Office compound file with no workbook inside"
        raise _Refused(Code.NOT_A_WORKBOOK, f"this is {what}")
    start, size = book
    if size > limits.max_part_bytes:
        raise _Refused(
            Code.FILE_TOO_LARGE,
            f"the workbook stream is {_size(size)}, more than the limit of "
            f"{_size(limits.max_part_bytes)}",
        )
    if size > source.size:
        raise _corrupt("the workbook stream claims to be larger than the file")
    head = cfb.stream_head(start, size, 1024)
    if _biff_filepass(head):
        raise _encrypted("an encrypted Excel 97-2003 workbook")


class _Cfb:
    """The little of the compound file format needed to list streams and read a head."""

    def __init__(self, source: _Source, limits: Limits) -> None:
        header = source.read(0, 512)
        if len(header) < 512:
            raise _corrupt("the compound file header is cut short")
        shift, mini_shift = struct.unpack_from("<2H", header, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise _corrupt("the compound file header is garbled")
        self.source = source
        self.sector_size = 1 << shift
        self.base = 512 if shift == 9 else 4096
        self.sectors = max(0, (source.size - self.base + self.sector_size - 1) // self.sector_size)
        self.max_chain = min(limits.max_cfb_sectors, self.sectors + 1)
        (
            fat_count,
            self.dir_start,
            _,
            self.mini_cutoff,
            self.minifat_start,
            _,
            difat_start,
            difat_count,
        ) = struct.unpack_from("<8I", header, 0x2C)
        if fat_count > self.sectors:
            raise _corrupt("the compound file allocation table is larger than the file")
        fat_ids = [v for (v,) in struct.iter_unpack("<I", header[0x4C:0x200])][:fat_count]
        next_difat = difat_start
        hops = 0
        per_sector = self.sector_size // 4
        while len(fat_ids) < fat_count:
            hops += 1
            if next_difat >= _CFB_SPECIAL or hops > difat_count + 1 or hops > self.max_chain:
                raise _corrupt("the compound file allocation table list is broken")
            block = self._sector(next_difat)
            ids = [v for (v,) in struct.iter_unpack("<I", block)]
            fat_ids.extend(ids[: per_sector - 1])
            next_difat = ids[-1]
        fat_ids = fat_ids[:fat_count]
        self.fat: list[int] = []
        for sid in fat_ids:
            self.fat.extend(v for (v,) in struct.iter_unpack("<I", self._sector(sid)))
        self._minifat: list[int] | None = None
        self._root: tuple[int, int] = (_END_OF_CHAIN, 0)

    def _sector(self, sid: int) -> bytes:
        if sid >= self.sectors:
            raise _corrupt(f"sector {sid} is past the end of the compound file")
        data = self.source.read(self.base + sid * self.sector_size, self.sector_size)
        if len(data) < self.sector_size:
            data += b"\x00" * (self.sector_size - len(data))  # last sector may be short
        return data

    def _chain(self, start: int, table: list[int], limit: int) -> list[int]:
        chain: list[int] = []
        sid = start
        seen: set[int] = set()
        while sid < _CFB_SPECIAL and len(chain) < limit:
            if sid in seen or sid >= len(table):
                raise _corrupt("a compound file allocation chain is broken")
            seen.add(sid)
            chain.append(sid)
            sid = table[sid]
        return chain

    def streams(self) -> dict[str, tuple[int, int]]:
        """Stream name (lower case) -> (start sector, size), from the directory."""
        found: dict[str, tuple[int, int]] = {}
        for sid in self._chain(self.dir_start, self.fat, self.max_chain):
            block = self._sector(sid)
            for pos in range(0, self.sector_size, 128):
                entry = block[pos : pos + 128]
                name_len, kind = struct.unpack_from("<HB", entry, 0x40)
                start, size = struct.unpack_from("<IQ", entry, 0x74)
                if self.sector_size == 512:
                    size &= 0xFFFFFFFF  # version 3 files leave the high half undefined
                if kind == 5:
                    self._root = (start, size)
                if kind != 2 or not 2 <= name_len <= 64:
                    continue
                name = entry[: name_len - 2].decode("utf-16-le", "replace").lower()
                found.setdefault(name, (start, size))
        return found

    def stream_head(self, start: int, size: int, count: int) -> bytes:
        """The first `count` bytes of a stream (fewer if the stream is shorter)."""
        want = min(size, count)
        if size >= self.mini_cutoff:
            sids = self._chain(start, self.fat, (want + self.sector_size - 1) // self.sector_size)
            return b"".join(self._sector(s) for s in sids)[:want]
        if self._minifat is None:
            self._minifat = []
            for sid in self._chain(self.minifat_start, self.fat, self.max_chain):
                self._minifat.extend(v for (v,) in struct.iter_unpack("<I", self._sector(sid)))
        mini_ids = self._chain(start, self._minifat, (want + 63) // 64)
        root_start, _ = self._root
        root_sids = self._chain(root_start, self.fat, self.max_chain)
        parts = []
        per_sector = self.sector_size // 64
        for mid in mini_ids:
            index, within = divmod(mid, per_sector)
            if index >= len(root_sids):
                raise _corrupt("a small stream points past the compound file's mini stream")
            sector = self._sector(root_sids[index])
            parts.append(sector[within * 64 : within * 64 + 64])
        return b"".join(parts)[:want]


def _biff_filepass(head: bytes) -> bool:
    """True when the workbook globals begin with a FILEPASS record (the file is encrypted)."""
    pos = 0
    for _ in range(8):  # FILEPASS follows BOF directly; allow a few records of slack
        if pos + 4 > len(head):
            return False
        kind, length = struct.unpack_from("<2H", head, pos)
        if kind == 0x002F:
            return True
        pos += 4 + length
    return False


# --- anything else: say what it looks like ---------------------------------------------


def _refuse_other(head: bytes) -> None:
    if head[:2] in (b"\x09\x00", b"\x09\x02", b"\x09\x04") and head[3:4] == b"\x00":
        raise _Refused(
            Code.FORMAT_UNSUPPORTED,
            "this is an Excel 2.x-4.0 worksheet, a format too old to read",
            "ask the lead to open it in Excel or LibreOffice and save it as .xlsx",
        )
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        raise _Refused(
            Code.FORMAT_UNSUPPORTED,
            "this is an Excel 2003 XML spreadsheet, a format not read",
            "ask the lead to open it in Excel and save it as .xlsx",
        )
    raise _Refused(Code.NOT_A_WORKBOOK, f"this is {_describe(head, stripped)}, not a workbook")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"{\\rtf", "an RTF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a bitmap image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
)


def _describe(head: bytes, stripped: bytes) -> str:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if stripped.startswith((b"<!doctype html", b"<html", b"<table", b"<head", b"<body")):
        return "a web page (HTML)"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "an XML or HTML file"
    text = _as_text(head)
    if text is None:
        return "a file of unknown type"
    first = text.splitlines()[0] if text.strip() else ""
    if any(sep in first for sep in (",", ";", "\t")):
        return "a CSV or text file"
    return "a text file"


def _as_text(head: bytes) -> str | None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head[2 : len(head) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
    head = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the window's end is fine
            text = head.decode("cp1252", "replace")
        else:
            text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * max(len(text), 1) else None
