"""The dashboard's fast writer gives what xlsxwriter and zipfile give (issues 6 and 16).

The fast writer (rag_workbook.dashboard.fast) writes plain cells, places notes and zips
the parts itself, because xlsxwriter's general paths cost seconds on a national
dashboard. Each fast path promises the very bytes (or vertices) of the path it replaces;
these tests hold it to that on sheets with the awkward cases: custom, hidden and default
rows, narrow and hidden columns, formulas, cells without a format, row formats, notes near
the top edge and long notes.
"""

from __future__ import annotations

import io
import os
import signal
import textwrap
import time
import zipfile
import zlib
from typing import Any

import pytest
import xlsxwriter
import xlsxwriter.comments
import xlsxwriter.exceptions
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_workbook.dashboard import build as B
from rag_workbook.dashboard.fast import forked as F
from rag_workbook.dashboard.fast import notes as N
from rag_workbook.dashboard.fast import package as P
from rag_workbook.dashboard.fast import rows as R
from rag_workbook.dashboard.fast import strings as S

NOTE_OPTIONS = {"author": "rag_workbook", "x_scale": 2.4, "y_scale": 1.2}


def _shape(sheet: Any) -> None:
    """Rows and columns of several sizes, some hidden."""
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 3)
    sheet.set_column(2, 2, None, None, {"hidden": True})
    sheet.set_column(4, 5, 40)
    for row, height in ((1, 60), (2, 8), (5, 120), (9, 30), (40, 409)):
        sheet.set_row(row, height)
    sheet.set_row(7, None, None, {"hidden": True})


def _sheet_xml(data: bytes, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def _write_cells(sheet: Any, fmt: Any, other: Any) -> None:
    sheet.write_string(0, 0, "title", fmt)
    sheet.write_number(1, 3, 2.5, fmt)
    sheet.write_number(1, 4, -0.0, other)
    sheet.write_blank(2, 1, None, fmt)
    sheet.write_string(3, 0, "no format of its own")  # takes the row's or column's format
    sheet.write_formula(3, 2, "=1+1", fmt, 2)
    sheet.write_rich_string(4, 1, "plain ", other, "bold", fmt)
    sheet.write_string(30, 7, "far away", other)
    sheet.write_number(31, 0, 1e-300, fmt)
    sheet.write_string(45, 2, "<r>x</r> & text", fmt)


def test_fast_rows_write_what_xlsxwriter_writes() -> None:
    built: list[bytes] = []
    for book in (xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True}), P.FastWorkbook({})):
        sheet = book.add_worksheet("S")
        _shape(sheet)
        sheet.set_row(3, 20, book.add_format({"italic": True}))
        fmt = book.add_format({"bold": True, "border": 1})
        other = book.add_format({"font_color": "#FF0000"})
        _write_cells(sheet, fmt, other)
        sheet.write_comment(12, 3, "a note on a row with no cells")
        book.close()
        built.append(
            _sheet_xml(
                book.package if isinstance(book, P.FastWorkbook) else book.filename.getvalue()
            )
        )
    plain, fast = built
    assert fast == plain


def test_put_row_writes_what_write_string_number_blank_write() -> None:
    built: list[bytes] = []
    for fast in (False, True):
        book = P.FastWorkbook({})
        sheet = book.add_worksheet("S")
        fmt = book.add_format({"bold": True})
        cells = [(0, "text", fmt), (2, 3, fmt), (3, None, fmt), (5, 1.5, fmt), (6, None, None)]
        for row in (0, 4, 17, 33):
            if fast:
                sheet.put_row(row, cells)
                continue
            for col, value, cell_format in cells:
                if value is None:
                    sheet.write_blank(row, col, None, cell_format)
                elif isinstance(value, str):
                    sheet.write_string(row, col, value, cell_format)
                else:
                    sheet.write_number(row, col, value, cell_format)
        book.close()
        built.append(_sheet_xml(book.package))
    assert built[0] == built[1]


def test_put_merge_with_put_row_writes_what_merge_range_and_write_string_write() -> None:
    built: list[bytes] = []
    for fast in (False, True):
        book = P.FastWorkbook({})
        sheet = book.add_worksheet("S")
        fmt = book.add_format({"bold": True, "border": 1, "text_wrap": True})
        other = book.add_format({"italic": True})
        for first, last in ((1, 3), (5, 6), (20, 40)):
            if fast:
                sheet.put_merge(first, 0, last, 0)
                for row in range(first, last + 1):
                    text = "theme & <band>" if row == first else None
                    sheet.put_row(row, [(0, text, fmt), (1, f"m{row}", other)])
            else:
                sheet.merge_range(first, 0, last, 0, "", fmt)
                sheet.write_string(first, 0, "theme & <band>", fmt)
                for row in range(first, last + 1):
                    sheet.write_string(row, 1, f"m{row}", other)
        sheet.merge_range(0, 2, 0, 4, "", fmt)  # a range across, after them
        book.close()
        built.append(_sheet_xml(book.package))
    assert built[0] == built[1]
    # an overlap is refused as merge_range refuses it
    book = P.FastWorkbook({})
    sheet = book.add_worksheet("S")
    sheet.put_merge(1, 0, 3, 0)
    with pytest.raises(xlsxwriter.exceptions.OverlappingRange):
        sheet.put_merge(2, 0, 4, 0)


def test_put_height_sets_what_set_row_sets() -> None:
    built: list[tuple[bytes, bytes]] = []
    for fast in (False, True):
        book = P.FastWorkbook({})
        sheet = book.add_worksheet("S")
        sheet.write_string(3, 2, "x")
        for row, height in ((0, 22.0), (4, 409.0), (5, 0), (6, 0.2), (9, 13.3), (1_048_576, 30)):
            if fast:
                sheet.put_height(row, height)
            else:
                sheet.set_row(row, height)
            sheet.put_note(row + 1, 1, "note", NOTE_OPTIONS)
        book.close()
        built.append(
            (_sheet_xml(book.package), _sheet_xml(book.package, "xl/drawings/vmlDrawing1.vml"))
        )
    assert built[0] == built[1]


@pytest.mark.parametrize("scale", [NOTE_OPTIONS, {}, {"visible": True}, {"width": 20}])
def test_notes_placed_in_bulk_land_where_xlsxwriter_puts_them(scale: dict[str, Any]) -> None:
    book = P.FastWorkbook({})
    sheet = book.add_worksheet("S")
    _shape(sheet)
    cells = [(row, col) for row in (0, 1, 2, 3, 4, 6, 7, 8, 20, 39, 40, 41) for col in range(7)]
    for row, col in cells:
        sheet.put_note(row, col, f"note {row},{col}", scale)
    sheet.put_note(50, 1, "x" * 20_000, scale)  # long: through write_comment
    sheet.put_note(51, 1, "placed", {**scale, "x_offset": 3})  # placing option: likewise
    book.close()
    placed = {(note.row, note.col): note for note in sheet.comments_list}
    assert len(placed) == len(cells) + 2
    assert any(isinstance(note, N.SharedNote) for note in placed.values())
    for (row, col), note in placed.items():
        options = {**scale, "x_offset": 3} if (row, col) == (51, 1) else scale
        expected = xlsxwriter.comments.CommentType(row, col, note.text, dict(options))
        sheet.prev_row_offset = (0, 0)
        sheet.prev_col_offset = (0, 0)
        assert note.vertices == sheet._comment_vertices(expected), (row, col)
        assert note.author == (expected.author or sheet.comments_author)
        assert bool(note.is_visible) == bool(
            expected.is_visible if expected.is_visible is not None else sheet.comments_visible
        )


def test_bulk_notes_give_the_same_note_files_as_write_comment() -> None:
    built: list[tuple[bytes, bytes, bytes]] = []
    for bulk in (False, True):
        book = P.FastWorkbook({})
        sheet = book.add_worksheet("S")
        _shape(sheet)
        for i, row in enumerate(range(1, 60, 3)):
            # Notes of two sizes in the same columns, and some placed by an option.
            options = (NOTE_OPTIONS, {"width": 90}, {"x_offset": 4})[i % 3]
            notes = [(col, f"Q{col} explanation for row {row}") for col in (3, 4, 6)]
            if bulk:
                sheet.put_notes(row, notes, options)
            else:
                for col, text in notes:
                    sheet.write_comment(row, col, text, dict(options))
        if bulk:
            sheet.put_notes(70, [], NOTE_OPTIONS)  # no notes: no empty row either
        sheet.write_string(0, 0, "x")
        book.close()
        built.append(
            (
                _sheet_xml(book.package),
                _sheet_xml(book.package, "xl/comments1.xml"),
                _sheet_xml(book.package, "xl/drawings/vmlDrawing1.vml"),
            )
        )
    assert built[0] == built[1]


def test_deflater_lays_out_the_archive_as_zipfile_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # Byte for byte with zlib, which zipfile deflates with; ISA-L's deflate (the default
    # where isal is installed) gives other deflate bytes for the same parts (next test).
    monkeypatch.setattr(P, "_ZLIB", zlib)
    ours, parts = _archive(level=2)
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, _ in parts:
            archive.writestr(
                zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)),
                data.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
                compresslevel=2,
            )
    assert ours == expected.getvalue()
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.testzip() is None


def test_deflater_with_its_own_library_gives_the_same_parts_as_zipfile() -> None:
    ours, parts = _archive(level=P.ZIP_LEVEL)
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [name for name, _, _ in parts]
        for name, data, is_binary in parts:
            value = data.getvalue()
            assert archive.read(name) == (value if is_binary else value.encode("utf-8"))


def _archive(level: int) -> tuple[bytes, list[tuple[str, Any, bool]]]:
    parts = [
        ("[Content_Types].xml", io.StringIO("<Types/>" * 50), False),
        ("xl/worksheets/sheet1.xml", io.StringIO("<row>é ✓</row>" * 10_000), False),
        ("xl/media/image1.png", io.BytesIO(bytes(range(256)) * 40), True),
        ("xl/empty.xml", io.StringIO(""), False),
    ]
    deflater = P.Deflater(level)
    try:
        for name, data, is_binary in parts:
            data.seek(0, io.SEEK_END)
            deflater.add(name, data, is_binary)
        return deflater.archive(), parts
    finally:
        deflater.close()


def test_deflater_recompresses_a_part_written_after_it_was_handed_over() -> None:
    part = io.StringIO("<a>")
    part.seek(0, io.SEEK_END)
    deflater = P.Deflater(P.ZIP_LEVEL)
    try:
        deflater.add("a.xml", part, False)
        deflater.parts[0][-1].result()
        part.write("<b/></a>")
        ours = deflater.archive()
    finally:
        deflater.close()
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.read("a.xml") == b"<a><b/></a>"


def test_deflater_puts_an_insertion_at_its_text_offset() -> None:
    part = io.StringIO()
    part.write("<sheet>é ✓<rows>")  # characters, not bytes, before the insertion point
    offset = part.tell()
    part.write("</rows></sheet>")
    deflater = P.Deflater(P.ZIP_LEVEL)
    try:
        row = P.Segment.of("<row>ü</row>".encode(), P.ZIP_LEVEL, last=False)
        deflater.add("s.xml", part, False, (offset, lambda: row))
        ours = deflater.archive()
    finally:
        deflater.close()
    with zipfile.ZipFile(io.BytesIO(ours)) as archive:
        assert archive.read("s.xml").decode() == "<sheet>é ✓<rows><row>ü</row></rows></sheet>"


def test_a_later_block_goes_between_the_rows_above_and_below_it() -> None:
    # As the Summary's rows by theme sit between its headers and its total row: the block's
    # XML, made elsewhere, lands where xlsxwriter would have written those rows itself.
    def rows(sheet: Any, fmt: Any, which: range) -> None:
        for row in which:
            if not 2 <= row < 35:  # text outside the block (a block has its text inline)
                sheet.write_string(row, 0, f"row {row}", fmt)
            for col in range(1 if not 2 <= row < 35 else 0, 5):
                sheet.write_number(row, col, row * 10 + col, fmt)

    plain = P.FastWorkbook({})
    sheet = plain.add_worksheet("S")
    fmt = plain.add_format({"bold": True})
    rows(sheet, fmt, range(0, 40))
    plain.close()
    whole = _sheet_xml(plain.package).decode()
    block = whole[whole.index('<row r="3"') : whole.index('<row r="36"')]

    bulk = P.FastWorkbook({})
    sheet = bulk.add_worksheet("S", worksheet_class=R.BulkSheet)
    fmt = bulk.add_format({"bold": True})
    rows(sheet, fmt, range(0, 2))
    segment = P.Segment.of(block.encode(), P.ZIP_LEVEL, last=False)
    sheet.write_rows_later(2, 33, 5, lambda: segment)
    rows(sheet, fmt, range(35, 40))
    bulk.close()
    assert _sheet_xml(bulk.package).decode() == whole


@settings(max_examples=200, deadline=None)
@given(first=st.binary(max_size=3000), second=st.binary(max_size=3000))
def test_crc32_combine_is_zlibs(first: bytes, second: bytes) -> None:
    combined = P.crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)


@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=70_000), min_size=1, max_size=4),
    level=st.sampled_from([0, 1, 2, 3] if P._ZLIB is not zlib else [1, 2, 6, 9]),
)
def test_deflated_segments_put_end_to_end_unpack_to_their_data(
    pieces: list[bytes], level: int
) -> None:
    segments = [
        P.Segment.of(piece, level, last=i == len(pieces) - 1) for i, piece in enumerate(pieces)
    ]
    whole = segments[0]
    for segment in segments[1:]:
        whole = whole.then(segment)
    assert zlib.decompress(whole.packed, -15) == b"".join(pieces)
    assert (whole.crc, whole.length) == (zlib.crc32(b"".join(pieces)), sum(map(len, pieces)))
    assert P.Segment.from_bytes(whole.to_bytes()) == whole


def test_forked_work_gives_its_bytes_and_leaves_no_process_behind() -> None:
    forked = F.Forked.start(lambda: b"made elsewhere " * 1000)
    if forked is None:
        pytest.skip("this platform does not fork")
    assert forked.result() == b"made elsewhere " * 1000
    forked.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # reaped: no child left


def test_told_not_to_fork_means_no_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    # RAG_WORKBOOK_NO_FORK=1 takes the path Windows takes, for the dashboard's copies too.
    monkeypatch.setenv("RAG_WORKBOOK_NO_FORK", "1")
    assert F.Forked.start(lambda: b"made") is None


def test_no_room_for_the_spool_file_means_no_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(F.tempfile, "TemporaryFile", full)
    assert F.Forked.start(lambda: b"x") is None


def test_a_copy_reaped_elsewhere_is_not_trusted() -> None:
    # With SIGCHLD ignored the kernel reaps the copy itself and waitpid finds no child.
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        forked = F.Forked.start(lambda: b"made")
        if forked is None:
            pytest.skip("this platform does not fork")
        assert forked.result() is None
        forked.close()
    finally:
        signal.signal(signal.SIGCHLD, previous)


def test_forked_work_that_fails_gives_none_and_one_never_asked_for_is_ended() -> None:
    def fails() -> bytes:
        raise RuntimeError("in the copy")

    forked = F.Forked.start(fails)
    if forked is None:
        pytest.skip("this platform does not fork")
    assert forked.result() is None
    forked.close()
    slow = F.Forked.start(lambda: bytes(time.sleep(60) or 0))
    assert slow is not None
    started = time.perf_counter()
    slow.close()
    assert time.perf_counter() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


_WORD = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1
).filter(lambda w: "-" not in w and not any(c.isspace() for c in w))


@settings(max_examples=400, deadline=None)
@given(
    words=st.lists(
        st.one_of(
            _WORD,
            st.sampled_from(
                [
                    "a-b",
                    "x  y",
                    "\t",
                    "—",
                    "\u00a0",
                    "->",
                    "5-",
                    "x--",
                    "-",
                    "a->b",
                    "--x",
                    "é-",
                    "-é",
                ]
            ),
        ),
        min_size=1,
        max_size=40,
    ),
    per_line=st.integers(min_value=1, max_value=90),
)
def test_line_count_is_textwraps(words: list[str], per_line: int) -> None:
    part = " ".join(words)
    assert B._wrapped_lines.__wrapped__(part, per_line) == max(
        1, len(textwrap.wrap(part, per_line)) or 1
    )


@settings(max_examples=200, deadline=None)
@given(word=_WORD, per_line=st.integers(min_value=1, max_value=40))
def test_line_count_of_one_long_word_is_textwraps(word: str, per_line: int) -> None:
    part = word * 7  # longer than the line, as a file name in the Exceptions sheet
    assert B._wrapped_lines.__wrapped__(part, per_line) == len(textwrap.wrap(part, per_line))


_AWKWARD_TEXT = st.lists(
    st.sampled_from(
        [*"ab _x0041F&<>\"'\n\t\r\x00\x01\x1f\u00a0\u2028\ufffe\uffff—é", "_x00e9_", "<r>"]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_AWKWARD_TEXT, min_size=1, max_size=8, unique=True))
def test_plain_text_shortcut_writes_what_xlsxwriter_writes(texts: list[str]) -> None:
    # Text with nothing to escape and no edge space skips the escapes; the rest takes them.
    texts = [t for t in texts if not (t.startswith("<r>") and t.endswith("</r>"))]
    sst = xlsxwriter.sharedstrings.SharedStringTable()
    for text in texts:
        sst._get_shared_string_index(text)
    written: list[str] = []
    for writer in (xlsxwriter.sharedstrings.SharedStrings(), S.Strings()):
        writer.string_table = sst
        writer.fh = io.StringIO()
        writer._write_sst_strings()
        written.append(writer.fh.getvalue())
    assert written[1] == written[0]

    notes: list[str] = []
    for writer in (xlsxwriter.comments.Comments(), N.NotesComments()):
        writer.fh = io.StringIO()
        writer.author_ids = {"a": 0}
        comments = []
        for row, text in enumerate(texts):
            comment = xlsxwriter.comments.CommentType(row, 1, text, {"author": "a"})
            comments.append(comment)
        writer._write_comment_list(comments)
        notes.append(writer.fh.getvalue())
    assert notes[1] == notes[0]


def test_columns_given_as_lists_must_be_of_one_length() -> None:
    # A frame's columns as lists (the command line's way) fill in missing columns as
    # blanks, and refuse columns of different lengths rather than shift the rows.
    lists = B.frame_columns({"measure_id": ["1.1", "1.2"], "quarter": ["Q1", "Q1"]})
    assert lists["measure_id"] == ["1.1", "1.2"] and lists["status"] == [None, None]
    with pytest.raises(ValueError, match="one length"):
        B.frame_columns({"measure_id": ["1.1", "1.2"], "quarter": ["Q1"]})


def test_long_table_is_the_table_xlsxwriter_writes() -> None:
    built: list[tuple[bytes, bytes]] = []
    for kind in (xlsxwriter.worksheet.Worksheet, R.FastSheet):
        book = P.FastWorkbook({})
        sheet = book.add_worksheet("S", worksheet_class=kind)
        for row in range(1, 41):
            sheet.write_string(row, 0, f"m{row}")
        sheet.add_table(0, 0, 40, 2, {"name": "Long", "autofilter": False})
        book.close()
        built.append((_sheet_xml(book.package), _sheet_xml(book.package, "xl/tables/table1.xml")))
    assert built[0] == built[1]
    assert b'ref="A1:C41"' in built[1][1]
    # a later table over its header is refused, as xlsxwriter refuses it
    with pytest.raises(xlsxwriter.exceptions.OverlappingRange):
        sheet = P.FastWorkbook({}).add_worksheet("S")
        sheet.add_table(0, 0, 40, 2)
        sheet.add_table(0, 2, 5, 3)
