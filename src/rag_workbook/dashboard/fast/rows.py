"""Worksheets whose plain cells, row heights, merges and notes are stored and written in bulk."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xlsxwriter.comments
import xlsxwriter.utility
import xlsxwriter.worksheet

from rag_workbook.dashboard.fast.internals import InternalsChanged
from rag_workbook.dashboard.fast.notes import (
    NOTE_LAST_COL,
    NOTE_LAST_ROW,
    NOTE_PLACING,
    NotePlacer,
    SharedNote,
)

if TYPE_CHECKING:
    from rag_workbook.dashboard.fast.package import Segment

# xlsxwriter's cell records, as its write_string / write_number / write_blank store them.
_STRING = xlsxwriter.worksheet.CellStringTuple
_NUMBER = xlsxwriter.worksheet.CellNumberTuple
_BLANK = xlsxwriter.worksheet.CellBlankTuple
_ROW_INFO = xlsxwriter.worksheet.RowInfo
_FAST_CELLS = frozenset({"String", "Number", "Blank"})


class FastSheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]
    """A worksheet whose plain cells (text, number, blank, with a format) are written in one piece.

    xlsxwriter writes each cell through an attribute list and an escaping pass, about ten
    microseconds a cell; a national dashboard has 100,000 such cells besides the Data
    rows (issue 6). This writes the XML `Worksheet._write_cell` writes for them; every
    other cell (formulas, rich text, a cell taking its row's or column's format) goes
    through xlsxwriter.
    """

    def __init__(self) -> None:
        super().__init__()
        self._notes: dict[tuple[tuple[str, Any], ...], Any] = {}

    def put_row(
        self,
        row: int,
        cells: Sequence[tuple[int, str | int | float | None, Any]],
        styles: Mapping[str, Any] | None = None,
    ) -> None:
        """write_string / write_number / write_blank for each (col, value, format) of a row.

        None is a blank cell (carrying its format); text must be clean. With `styles`,
        each cell names its format there. One call a row rather than one a cell: the
        Dashboard sheet of a national collection has 50,000.
        """
        kept = [cell for cell in cells if cell[1] is not None or cell[2] is not None]
        if not kept:
            return
        cols = [col for col, _, _ in kept]
        if self._check_dimensions(row, min(cols)) or self._check_dimensions(row, max(cols)):
            kept = [cell for cell in kept if not self._check_dimensions(row, cell[0])]
        table = self.table[row]
        sst = self.str_table._get_shared_string_index
        for col, value, style in kept:
            fmt = styles[style] if styles is not None else style
            if value is None:
                table[col] = _BLANK(fmt)
            elif isinstance(value, str):
                table[col] = _STRING(sst(value), fmt)
            else:
                table[col] = _NUMBER(value, fmt)

    def put_merge(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        """merge_range's bookkeeping for a range whose cells `put_row` writes: the value in
        the first cell, the others blank with the same format (what merge_range writes).

        merge_range also writes those cells, one call each, and notes every cell against
        overlaps: 2,000 themes on a national dashboard. Overlaps are still refused.
        """
        cells = [
            (row, col)
            for row in range(first_row, last_row + 1)
            for col in range(first_col, last_col + 1)
        ]
        merged, tables = self.merged_cells, self.table_cells
        if len(cells) < 2 or any(merged.get(cell) or tables.get(cell) for cell in cells):
            # a single cell or an overlap: merge_range warns or raises, as it should
            self.merge_range(first_row, first_col, last_row, last_col, "", None)
            return
        if self._check_dimensions(first_row, first_col) or self._check_dimensions(
            last_row, last_col
        ):
            return
        ref = xlsxwriter.utility.xl_range(first_row, first_col, last_row, last_col)
        for cell in cells:
            merged[cell] = ref
        self.merge.append([first_row, first_col, last_row, last_col])

    def put_height(self, row: int, height: float) -> None:
        """set_row(row, height): a row's height, with no format or options.

        What `set_row` stores, without its options dict and outline bookkeeping: the
        Dashboard sheet of a national collection sets 6,333 row heights.
        """
        pixels = int(height * 4.0 / 3.0 + 0.5)
        if pixels == 0:  # a hidden row
            self.set_row(row, height)
            return
        if self._check_dimensions(row, self.dim_colmin if self.dim_colmin is not None else 0):
            return
        self.row_info[row] = _ROW_INFO(height=pixels)
        self.row_sizes[row] = [pixels, False]

    def add_table(
        self,
        first_row: int,
        first_col: int,
        last_row: int,
        last_col: int,
        options: dict[str, Any] | None = None,
    ) -> Any:
        """Worksheet.add_table, without noting each cell of a long table.

        xlsxwriter notes every cell of a table's range, to refuse overlapping tables and
        merges: 456,000 cells, 0.2 s, for the Data table of a national collection, 36,000
        for its Exceptions table. A sheet with no other table or merge cannot overlap, so
        the table is added over its header and first row, then widened to its range.
        """
        short = first_row + 1
        simple = not (options or {}).get("total_row") and (options or {}).get("header_row", True)
        if last_row <= short or self.table_cells or self.merged_cells or not simple:
            return super().add_table(first_row, first_col, last_row, last_col, options)
        result = super().add_table(first_row, first_col, short, last_col, options)
        table = self.tables[-1]
        added = xlsxwriter.utility.xl_range(first_row, first_col, short, last_col)
        if table.get("range") != added or table.get("a_range") != added:
            raise InternalsChanged("this xlsxwriter keeps a table's range differently")
        whole = xlsxwriter.utility.xl_range(first_row, first_col, last_row, last_col)
        table["range"] = table["a_range"] = whole
        if table.get("autofilter"):
            table["autofilter"] = whole
        return result

    def put_note(self, row: int, col: int, text: str, options: Mapping[str, Any]) -> None:
        """write_comment, with the options read once and the note placed in bulk at close.

        xlsxwriter reads the options (and parses the colour) again for each note and places
        each one by walking the rows above it: 19,000 notes on a national dashboard. Here
        each note shares the settings of the first with the same options (`SharedNote`), and
        `_prepare_vml_objects` places them all in one pass, where they land exactly as
        xlsxwriter would place them. Options that place a note, and notes at the sheet's
        edges (which xlsxwriter shifts), are left to it.
        """
        self.put_notes(row, ((col, text),), options)

    def put_notes(
        self, row: int, notes: Sequence[tuple[int, str]], options: Mapping[str, Any]
    ) -> None:
        """put_note for each (col, text) of one row, all with the same options.

        The sheet's dimensions are checked for the row's first and last note only, as
        `put_row` does: the notes between change nothing more.
        """
        if not notes:
            return
        key = tuple(options.items())
        first = self._notes.get(key)
        if first is None:
            # None: options that place a note, which only write_comment takes.
            first = self._notes[key] = (
                None
                if NOTE_PLACING.intersection(options)
                else xlsxwriter.comments.CommentType(1, 0, "", dict(options))
            )
        longest = self.xls_strmax // 2
        edge = first is None or not 0 < row < NOTE_LAST_ROW
        cols = [col for col, _ in notes]
        checked = not (
            self._check_dimensions(row, min(cols)) or self._check_dimensions(row, max(cols))
        )
        comments = self.comments
        for col, text in notes:
            if edge or len(text) > longest or col >= NOTE_LAST_COL:
                self.write_comment(row, col, text, dict(options))
            elif checked or not self._check_dimensions(row, col):
                self.has_vml = True
                self.has_comments = True
                comments[row][col] = SharedNote(row, col, text, first)

    def _prepare_vml_objects(
        self, vml_data_id: int, vml_shape_id: int, vml_drawing_id: int, comment_id: int
    ) -> int:
        # Worksheet._prepare_vml_objects (xlsxwriter 3.x), placing `SharedNote`s in one pass.
        comments: list[Any] = []
        place = NotePlacer(self)
        for row in sorted(self.comments):
            for col in sorted(self.comments[row]):
                comment = self.comments[row][col]
                if isinstance(comment, SharedNote):
                    comment.vertices = place(comment)
                else:
                    comment.vertices = self._comment_vertices(comment)
                    if comment.is_visible is None:
                        comment.is_visible = self.comments_visible
                    if comment.author is None:
                        comment.author = self.comments_author
                comments.append(comment)
        for button in self.buttons_list:
            button.vertices = self._button_vertices(button)
        self.external_vml_links.append(
            ["/vmlDrawing", "../drawings/vmlDrawing" + str(vml_drawing_id) + ".vml"]
        )
        if self.has_comments:
            self.comments_list = comments
            self.external_comment_links.append(
                ["/comments", "../comments" + str(comment_id) + ".xml"]
            )
        count = len(comments)
        data_id: int | str = vml_data_id
        for i in range(count // 1024):
            data_id = f"{data_id},{vml_data_id + i + 1}"
        self.vml_data_id = data_id
        self.vml_shape_id = vml_shape_id
        return count

    def _calculate_spans(self) -> None:
        # Worksheet._calculate_spans (xlsxwriter 3.x): the columns each block of 16 rows
        # uses, from the cells and notes present rather than from every column of the sheet.
        if self.dim_rowmin is None:
            self.row_spans = {}
            return
        spans: dict[int, str] = {}
        low: int | None = None
        high = 0
        table, comments = self.table, self.comments
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            for used in (table.get(row), comments.get(row)):
                if used:
                    least, most = min(used), max(used)
                    if low is None:
                        low, high = least, most
                    else:
                        low, high = min(low, least), max(high, most)
            if ((row + 1) % 16 == 0 or row == self.dim_rowmax) and low is not None:
                spans[row // 16] = f"{low + 1}:{high + 1}"
                low = None
        self.row_spans = spans

    def _row_tag_tail(self, row: int, span: str | None, info: Any) -> str:
        """What xlsxwriter's `<row>` tag for `row` holds after `<row r="n"`."""
        fh: Any = getattr(self, "fh")  # noqa: B009  (untyped base class)
        written = io.StringIO()
        self.fh = written
        try:
            self._write_row(row, span, info)
        finally:
            self.fh = fh
        tag = written.getvalue()
        head = f'<row r="{row + 1}"'
        if not tag.startswith(head):
            raise InternalsChanged("this xlsxwriter writes a row's tag differently")
        return tag[len(head) :]

    def _write_rows(self) -> None:
        # Worksheet._write_rows (xlsxwriter 3.x), with the plain cells (text, number, blank
        # with a format of their own) written in one string each and the rest by xlsxwriter.
        if self.constant_memory:
            super()._write_rows()
            return
        self._calculate_spans()
        table, comments, row_info, spans = self.table, self.comments, self.row_info, self.row_spans
        write = self.fh.write
        xfs: dict[Any, int] = {}
        letters: dict[int, str] = {}
        tags: dict[tuple[Any, ...], str] = {}  # a row's tag after its number, by what sets it
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = table.get(row)
            info = row_info.get(row)
            if not cells:
                if info is not None or row in comments:
                    self._write_empty_row(row, spans.get(row // 16), info)
                continue
            number = str(row + 1)
            span = spans.get(row // 16)
            if info is None:
                key: tuple[Any, ...] | None = (span,)
            elif info.row_format is None:
                key = (span, info.height, info.hidden, info.level, info.collapsed)
            else:
                key = None  # xlsxwriter asks the format for its index
            tail = tags.get(key) if key is not None else None
            if tail is None:
                tail = self._row_tag_tail(row, span, info)
                if key is not None:
                    tags[key] = tail
            write(f'<row r="{number}"{tail}')
            for col in sorted(cells):
                cell = cells[col]
                fmt = cell.format
                kind = cell.__class__.__name__
                if not fmt or kind not in _FAST_CELLS:
                    self._write_cell(row, col, cell)
                    continue
                xf = xfs.get(fmt)
                if xf is None:
                    xf = xfs[fmt] = fmt._get_xf_index()
                ref = letters.get(col)
                if ref is None:
                    ref = letters[col] = xlsxwriter.utility.xl_col_to_name(col)
                if kind == "String":
                    write(f'<c r="{ref}{number}" s="{xf}" t="s"><v>{cell.string}</v></c>')
                elif kind == "Number":
                    write(f'<c r="{ref}{number}" s="{xf}"><v>{cell.number:.16G}</v></c>')
                else:
                    write(f'<c r="{ref}{number}" s="{xf}"/>')
            write("</row>")


class BulkSheet(FastSheet):
    """A worksheet whose block of rows is XML made elsewhere, put in its place at close.

    The Data sheet of a national collection has hundreds of thousands of cells; through
    xlsxwriter's per-cell path (store each cell, then assemble it) they cost several
    seconds of a merge that must take three (issue 6). `write_rows_later` takes the
    block's size and what gives its XML; `_write_rows` writes the rows above it, marks
    where the block goes (`insert`), then writes the rows below it, and the packager puts
    the block's bytes at the mark. Nothing else may be written in the block's rows.
    """

    def __init__(self) -> None:
        super().__init__()
        self._later: tuple[int, int, Callable[[], Segment]] | None = None
        self.insert: tuple[Any, int, Callable[[], Segment]] | None = None

    def write_rows_later(
        self, first_row: int, count: int, width: int, xml: Callable[[], Segment]
    ) -> None:
        """Rows `first_row` on, `count` of them and `width` columns wide, whose `<row>`
        XML `xml()` gives, deflated, when the sheet is written."""
        if count:
            self._check_dimensions(first_row, 0)
            self._check_dimensions(first_row + count - 1, width - 1)
            self._later = (first_row, count, xml)

    def _write_rows(self) -> None:
        if self._later is None:
            super()._write_rows()
            return
        first, count, xml = self._later
        lowest = getattr(self, "dim_rowmin")  # noqa: B009  (untyped base class)
        last = getattr(self, "dim_rowmax")  # noqa: B009
        self.dim_rowmax = first - 1  # xlsxwriter writes the rows above the block
        try:
            super()._write_rows()
        finally:
            self.dim_rowmax = last
        fh: Any = getattr(self, "fh")  # noqa: B009  (untyped base class)
        self.insert = (fh, fh.tell(), xml)
        if last >= first + count:  # and those below it
            self.dim_rowmin = first + count
            try:
                super()._write_rows()
            finally:
                self.dim_rowmin = lowest
