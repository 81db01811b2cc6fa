"""Packaging: the parts zipped on a thread as xlsxwriter writes them, at a lower level."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import xlsxwriter
import xlsxwriter.packager

from rag_workbook.dashboard.fast.notes import NotesComments, NotesVml
from rag_workbook.dashboard.fast.rows import BulkSheet, FastSheet
from rag_workbook.dashboard.fast.strings import Strings
from rag_workbook.dashboard.plain import core_with_language
from rag_workbook.errors import OutputError

if TYPE_CHECKING:
    from rag_workbook.dashboard.fast.forked import Elsewhere


def _deflate_library() -> tuple[Any, int]:
    """The deflate implementation and its level for the parts: ISA-L's (the isal package)
    at its level 1, else the standard library's zlib at level 2.

    Measured on the 51 MB of XML of a national dashboard: zlib at level 6 (its default,
    xlsxwriter's) about 0.6 s and 4.9 MB; zlib at 2, 0.18 s and 5.7 MB; ISA-L at 1,
    0.04 s and 5.8 MB. Its CRC-32 is five times zlib's speed too. isal has wheels for
    Windows, macOS and Linux; where it is not installed, zlib writes the same workbook
    (other deflate bytes, the same parts).
    """
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib, 2
    return isal_zlib, 1


_ZLIB, ZIP_LEVEL = _deflate_library()


class Segment(NamedTuple):
    """A piece of a zip part, deflated: its CRC-32, its length unpacked, its deflate data."""

    crc: int
    length: int
    packed: bytes

    @classmethod
    def of(cls, data: bytes, level: int, *, last: bool) -> Segment:
        """`data` deflated; a segment other than the `last` ends on a byte (sync flush)."""
        packer = _ZLIB.compressobj(level, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return cls(_ZLIB.crc32(data), len(data), packed)

    def then(self, other: Segment) -> Segment:
        """This segment followed by `other`."""
        crc = crc32_combine(self.crc, other.crc, other.length)
        return Segment(crc, self.length + other.length, self.packed + other.packed)

    def to_bytes(self) -> bytes:
        return _SEGMENT_HEAD.pack(self.crc, self.length) + self.packed

    @classmethod
    def from_bytes(cls, data: bytes) -> Segment:
        crc, length = _SEGMENT_HEAD.unpack_from(data)
        return cls(crc, length, data[_SEGMENT_HEAD.size :])


_SEGMENT_HEAD = struct.Struct("<LQ")


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from those of A and B and B's length (zlib's crc32_combine,
    which Python's zlib does not offer): crc1 is run through length2 zero bytes, by the
    32x32 bit matrices for 2**k zero bytes of each bit k set in length2."""
    power = 0
    while length2 > 0:
        if length2 & 1:
            crc1 = _gf2_times(_zero_bytes_operator(power), crc1)
        length2 >>= 1
        power += 1
    return crc1 ^ crc2


@functools.cache
def _zero_bytes_operator(power: int) -> list[int]:
    """The matrix that runs a CRC-32 through 2**power zero bytes."""
    if power == 0:
        matrix = [0xEDB88320, *(1 << n for n in range(31))]  # one zero bit
        for _ in range(3):
            matrix = _gf2_square(matrix)
        return matrix
    return _gf2_square(_zero_bytes_operator(power - 1))


def _gf2_times(matrix: Sequence[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: Sequence[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def deflated(payload: str | bytes, level: int) -> Segment:
    """A whole part deflated: its CRC-32, its length unpacked, its deflate data."""
    data = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    return Segment.of(data, level, last=True)


class _Around(NamedTuple):
    """A part deflated in the two pieces around its inserted segment."""

    head: Segment
    tail: Segment


class Deflater:
    """Zip parts deflated on a worker thread, laid out as zipfile lays them out.

    zlib compresses without holding the interpreter lock, so the 39 MB of XML of a
    national dashboard is compressed while the later parts are being written (issue 6).
    The archive is byte for byte what `zipfile.ZipFile.writestr` writes for a ZipInfo
    dated 1 January 1980 on a Unix system (mode 0600): local headers with the sizes, no
    extras, a central directory, no comment. A part still being written when it was handed over
    (not seen with xlsxwriter 3.x) is compressed again from its final text. A part with a
    segment inserted (the Data rows, deflated by a forked copy) holds the same text, but
    deflated in three pieces put end to end.
    """

    _LOCAL = struct.Struct("<4s2B4HL2L2H")
    _CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
    _END = struct.Struct("<4s4H2LH")
    _DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, time 00:00:00
    _ATTRIBUTES = 0o600 << 16  # rw------- as zipfile gives a part written without them

    def __init__(self, level: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.level = level
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag_workbook_zip")
        self.parts: list[tuple[str, Any, bool, int, Any, Any]] = []

    def add(
        self,
        name: str,
        data: Any,
        is_binary: bool,
        insert: tuple[int, Callable[[], Segment]] | None = None,
    ) -> None:
        """Deflate a part; `insert` is (offset, segment): a segment deflated elsewhere, to
        go at that offset of the part's text."""
        size = data.tell() if not is_binary else -1
        future = self.pool.submit(self._deflate, data, insert)
        self.parts.append((name, data, is_binary, size, insert, future))

    def add_made(self, name: str, made: Callable[[], Segment]) -> None:
        """A part deflated elsewhere: `made()` gives its (crc, length, packed)."""
        self.parts.append((name, None, True, -1, None, made))

    def _deflate(
        self, data: Any, insert: tuple[int, Callable[[], Segment]] | None = None
    ) -> tuple[int, int, bytes] | _Around:
        """The part deflated as (crc, length, packed); for a part with an insert, the
        pieces before and after it, which `_joined` puts around the inserted segment
        (so that this thread goes on with the next parts while the segment is made)."""
        payload = data.getvalue()
        if insert is not None:
            # Deflate streams put end to end make one, when all but the last end on a
            # byte (a sync flush) and none refers back past its own start.
            offset, _ = insert
            head = Segment.of(payload[:offset].encode("utf-8"), self.level, last=False)
            tail = Segment.of(payload[offset:].encode("utf-8"), self.level, last=True)
            return _Around(head, tail)
        return deflated(payload, self.level)

    @staticmethod
    def _joined(
        deflated: tuple[int, int, bytes] | _Around,
        insert: tuple[int, Callable[[], Segment]] | None,
    ) -> tuple[int, int, bytes]:
        if isinstance(deflated, _Around) and insert is not None:
            return deflated.head.then(insert[1]()).then(deflated.tail)  # (crc, length, packed)
        return cast("tuple[int, int, bytes]", deflated)

    def archive(self) -> bytes:
        out: list[bytes] = []
        central: list[bytes] = []
        offset = 0
        for name, data, is_binary, size, insert, future in self.parts:
            deflated = future() if data is None else future.result()
            if not is_binary and data.tell() != size:  # written to after it was handed over
                deflated = self._deflate(data, insert)
            crc, length, packed = self._joined(deflated, insert)
            encoded = name.encode("ascii") if name.isascii() else name.encode("utf-8")
            flags = 0 if name.isascii() else 0x800
            if max(length, len(packed), offset) >= 0xFFFFFFFF:
                raise OutputError("the dashboard is over 4 GB; split the collection")
            # Flags, method, time, date, CRC, sizes and name length: in both headers.
            common = (
                flags,
                zipfile.ZIP_DEFLATED,
                0,
                self._DOS_DATE,
                crc,
                len(packed),
                length,
                len(encoded),
            )
            header = self._LOCAL.pack(b"PK\x03\x04", 20, 0, *common, 0)  # version, no extra
            central.append(
                self._CENTRAL.pack(
                    b"PK\x01\x02",
                    20,  # made by version 2.0
                    3,  # on Unix
                    20,  # needs version 2.0
                    0,
                    *common,
                    0,  # extra
                    0,  # comment
                    0,  # disk
                    0,  # internal attributes
                    self._ATTRIBUTES,
                    offset,
                )
                + encoded
            )
            out += (header, encoded, packed)
            offset += len(header) + len(encoded) + len(packed)
        directory = b"".join(central)
        end = self._END.pack(
            b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0
        )
        return b"".join((*out, directory, end))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class Packager(xlsxwriter.packager.Packager):  # type: ignore[misc]
    """The xlsxwriter packager, with notes and shared strings written in one piece each.

    It also zips the parts itself (`Deflater`): each part is compressed on a thread as
    soon as xlsxwriter has written it, at `ZIP_LEVEL` (see `_deflate_library`), while
    the next part is being written. A `BulkSheet`'s block of rows, made elsewhere, goes
    into its part there.
    """

    def __init__(self, language: str = "", *, fork: bool = False) -> None:
        super().__init__()
        self._deflater = Deflater(ZIP_LEVEL)
        self._handed = 0  # parts already given to the deflater
        self._language = language
        self._fork = fork
        self._elsewhere: Elsewhere | None = None  # the forked copy making the notes' parts
        self._making = False  # this is that copy

    def _write_core_file(self) -> None:
        # Packager._write_core_file (xlsxwriter 3.x), then the document language added.
        super()._write_core_file()
        part = self.filenames[-1][0]
        if isinstance(part, io.StringIO) and self._language:
            text = core_with_language(part.getvalue(), self._language)
            part.seek(0)
            part.truncate()
            part.write(text)

    def _filename(self, xml_filename: str) -> Any:
        # xlsxwriter asks for a part's file when the part before it is finished.
        if not self._making:
            self._hand_over(len(self.filenames))
        return super()._filename(xml_filename)

    def _hand_over(self, count: int) -> None:
        inserts = {
            id(sheet.insert[0]): sheet.insert[1:]
            for sheet in self.workbook.worksheets()
            if isinstance(sheet, BulkSheet) and sheet.insert is not None
        }
        for data, name, is_binary in self.filenames[self._handed : count]:
            self._deflater.add(name, data, is_binary, inserts.get(id(data)))
        self._handed = max(self._handed, count)

    def _create_package(self) -> list[Any]:
        # Before the first part is handed to the deflater's thread: a fork copies no thread.
        if self._fork and any(sheet.has_comments for sheet in self.workbook.worksheets()):
            from rag_workbook.dashboard.fast.forked import Elsewhere

            self._elsewhere = Elsewhere.start(self._make_elsewhere)
        try:
            parts = super()._create_package()
            self._hand_over(len(parts))
            self.workbook.package = self._deflater.archive()
        finally:
            self._deflater.close()
            if self._elsewhere is not None:
                self._elsewhere.close()
        return []  # nothing left for xlsxwriter's own zip

    def _make_elsewhere(self) -> list[tuple[str, Segment]]:
        """In the forked copy: the parts `_write_part` leaves to it, deflated."""
        self._making = True
        self._write_vml_files()
        self._write_comment_files()
        return [(name, deflated(data.getvalue(), ZIP_LEVEL)) for data, name, _ in self.filenames]

    def _write_part(self, name: str, writer: Any, *args: Any) -> None:
        """Write a note's part `name` (VML shapes, comments) by
        `writer._assemble_xml_file(*args)`: here, or by the forked copy when there is one
        (and here after all, when it failed). Their writing changes nothing that other
        parts hold (a sheet's XML does: its formats take their indices as written)."""
        elsewhere = self._elsewhere
        if elsewhere is None or self._making:  # no copy, or this is the copy
            writer._set_xml_writer(self._filename(name))
            writer._assemble_xml_file(*args)
            return
        self._hand_over(len(self.filenames))

        def here() -> Segment:
            data = io.StringIO()
            writer._set_xml_writer(data)
            writer._assemble_xml_file(*args)
            return deflated(data.getvalue(), ZIP_LEVEL)

        self.filenames.append((io.StringIO(), name, True))
        self._handed = len(self.filenames)
        self._deflater.add_made(name, functools.partial(elsewhere.part, name, here))

    def _write_comment_files(self) -> None:
        # Packager._write_comment_files (xlsxwriter 3.x) with NotesComments.
        index = 1
        for worksheet in self.workbook.worksheets():
            if not worksheet.has_comments:
                continue
            name = f"xl/comments{index}.xml"
            self._write_part(name, NotesComments(), worksheet.comments_list)
            index += 1

    def _write_shared_strings_file(self) -> None:
        # Packager._write_shared_strings_file (xlsxwriter 3.x) with Strings.
        sst = Strings()
        sst.string_table = self.workbook.str_table
        if not self.workbook.str_table.count:
            return
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()

    def _write_vml_files(self) -> None:
        # Packager._write_vml_files (xlsxwriter 3.x) with NotesVml for the comment shapes.
        index = 1
        for worksheet in self.workbook.worksheets():
            if not worksheet.has_vml and not worksheet.has_header_vml:
                continue
            if worksheet.has_vml:
                self._write_part(
                    f"xl/drawings/vmlDrawing{index}.vml",
                    NotesVml(),
                    worksheet.vml_data_id,
                    worksheet.vml_shape_id,
                    worksheet.comments_list,
                    worksheet.buttons_list,
                )
                index += 1
            if worksheet.has_header_vml and self._making:
                index += 1  # not a note's part: made by the parent
                continue
            if worksheet.has_header_vml:
                vml = NotesVml()
                vml._set_xml_writer(self._filename(f"xl/drawings/vmlDrawing{index}.vml"))
                vml._assemble_xml_file(
                    worksheet.vml_header_id,
                    worksheet.vml_header_id * 1024,
                    None,
                    None,
                    worksheet.header_images_list,
                )
                self._write_vml_drawing_rels_file(worksheet, index)
                index += 1


class FastWorkbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """An in-memory xlsxwriter Workbook packaged by `Packager` (xlsxwriter's override hook).

    The packager zips the parts itself, so as to choose the compression level; after
    `close()` the file's bytes are in `package` (xlsxwriter's own zip is left empty).
    """

    worksheet_class = FastSheet

    def __init__(
        self, options: Mapping[str, Any], *, language: str = "", fork_parts: bool = False
    ) -> None:
        super().__init__(io.BytesIO(), {**options, "in_memory": True})
        self.package = b""
        self.language = language
        self.fork_parts = fork_parts  # the notes' parts made by a forked copy (`Elsewhere`)

    def _get_packager(self) -> Any:
        return Packager(self.language, fork=self.fork_parts)
