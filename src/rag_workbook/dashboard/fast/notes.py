"""Cell notes (comments) written in bulk: placed, and their VML shapes and XML, in one pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import xlsxwriter.comments
import xlsxwriter.utility
import xlsxwriter.vml
from xlsxwriter.utility import _preserve_whitespace

from rag_workbook.dashboard.fast.strings import NOT_PLAIN, escape_controls

# write_comment options that place a note (which put_note leaves to xlsxwriter).
NOTE_PLACING = frozenset({"start_row", "start_col", "start_cell", "x_offset", "y_offset"})
NOTE_LAST_ROW = 1_048_576 - 3  # xlsxwriter shifts notes in the last three rows and columns
NOTE_LAST_COL = 16_384 - 3


def _from_first(name: str) -> Any:
    """A read-only attribute of a `SharedNote`, the same as its first note's."""
    return property(lambda note: getattr(note.first, name))


class SharedNote:
    """A note with default placement: its cell and text, and the settings of `first`.

    `first` is a CommentType made from the note's options; it is never placed itself.
    """

    __slots__ = ("col", "first", "halves", "row", "text", "vertices")

    def __init__(self, row: int, col: int, text: str, first: Any) -> None:
        self.row = row
        self.col = col
        self.text = text
        self.first = first
        self.vertices: list[float] = []
        # Set by NotePlacer: the horizontal and the vertical half of the vertices,
        # (start, offset, end, rest, position, size), shared by notes in a column or row.
        self.halves: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None

    # What the VML and comments writers read of a note, taken from the first.
    author = _from_first("author")
    color = _from_first("color")
    font_size = _from_first("font_size")
    font_name = _from_first("font_name")
    font_family = _from_first("font_family")
    is_visible = _from_first("is_visible")


class NotePlacer:
    """Worksheet._comment_vertices for `SharedNote`s, with row and column offsets summed once.

    xlsxwriter places a note at the cell below-right of its own, 15 px right and 10 px
    down, and walks the rows and columns it covers (`_position_object_pixels`, anchor 0).
    This does the same arithmetic, in the same order, so the vertices are equal. The
    horizontal half depends only on the note's column and width, the vertical half only
    on its row and height, so each is worked out once: a national dashboard has three
    notes a row in four columns.
    """

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.row_heights: list[float] = []
        self.row_tops: list[float] = [0]
        self.col_widths: list[float] = []
        self.col_lefts: list[float] = [0]
        self.across: dict[tuple[int, float], tuple[Any, ...]] = {}
        self.down: dict[tuple[int, float], tuple[Any, ...]] = {}

    def _row(self, row: int) -> float:
        heights = self.row_heights
        while len(heights) <= row:
            heights.append(self.sheet._size_row(len(heights)))
            self.row_tops.append(self.row_tops[-1] + heights[-1])
        return heights[row]

    def _col(self, col: int) -> float:
        widths = self.col_widths
        while len(widths) <= col:
            widths.append(self.sheet._size_col(len(widths)))
            self.col_lefts.append(self.col_lefts[-1] + widths[-1])
        return widths[col]

    @staticmethod
    def _walk(
        start: int, offset: float, extent: float, size: Callable[[int], float]
    ) -> tuple[int, float, int, float]:
        """Along one axis: the cell (and offset in it) a note starts in, `offset` into
        cell `start`, and the cell (and offset) it ends in, `extent` further on."""
        while offset >= size(start):
            offset -= size(start)
            start += 1
        end, rest = start, extent
        if size(start) > 0:
            rest = rest + offset
        while rest >= size(end):
            rest -= size(end)
            end += 1
        return start, offset, end, rest

    def _across(self, col: int, width: float) -> tuple[Any, ...]:
        """(col_start, x1, col_end, right, x_abs, width) of a note in column `col`."""
        sheet = self.sheet
        first = col + 1
        self._col(first)
        left = self.col_lefts[first] if sheet.col_size_changed else sheet.default_col_width * first
        return (*self._walk(first, 15, width, self._col), left + 15, width)

    def _down(self, row: int, height: float) -> tuple[Any, ...]:
        """(row_start, y1, row_end, bottom, y_abs, height) of a note on row `row`."""
        sheet = self.sheet
        first = row - 1
        self._row(first)
        top = self.row_tops[first] if sheet.row_sizes else sheet.default_row_height * first
        return (*self._walk(first, 10, height, self._row), top + 10, height)

    def __call__(self, note: SharedNote) -> list[float]:
        sheet = self.sheet
        first = note.first
        if first.is_visible is None:  # as _prepare_vml_objects does for each note
            first.is_visible = sheet.comments_visible
        if first.author is None:
            first.author = sheet.comments_author
        width, height = first.width, first.height
        across = self.across.get((note.col, width))
        if across is None:
            across = self.across[(note.col, width)] = self._across(note.col, width)
        down = self.down.get((note.row, height))
        if down is None:
            down = self.down[(note.row, height)] = self._down(note.row, height)
        note.halves = (across, down)
        col_start, x1, col_end, right, x_abs, _ = across
        row_start, y1, row_end, bottom, y_abs, _ = down
        return [
            col_start,
            row_start,
            x1,
            y1,
            col_end,
            row_end,
            right,
            bottom,
            x_abs,
            y_abs,
            width,
            height,
        ]


class NotesVml(xlsxwriter.vml.Vml):  # type: ignore[misc]
    """Vml that writes each note's shape in one piece.

    A national dashboard has about 19,000 notes (one per status); xlsxwriter builds each
    shape from a dozen small element writers, 0.65 s in all (issue 6). This
    writes the very XML `Vml._write_comment_shape` writes, in one string per note.
    """

    def __init__(self) -> None:
        super().__init__()
        self._points: dict[float, str] = {}  # a pixel distance, in points as VML gives it
        self._fills: dict[Any, str] = {}  # a note colour (notes share their first's)
        self._halves: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}

    def _point(self, pixels: float) -> str:
        text = self._points.get(pixels)
        if text is None:
            text = self._points[pixels] = f"{pixels * 0.75:.15g}"
        return text

    def _half(self, half: tuple[Any, ...]) -> tuple[str, str, str, str]:
        """A `NotePlacer` half, as its two distances and two pairs of the anchor."""
        text = self._halves.get(half)
        if text is None:
            start, offset, end, rest, position, size = half
            text = self._halves[half] = (
                self._point(position),
                self._point(size),
                f"{start}, {offset}",
                f"{end}, {rest}",
            )
        return text

    def _write_comment_shape(self, shape_id: int, z_index: int, comment: Any) -> None:
        # Vml._pixels_to_points, then each distance formatted once: a national
        # dashboard's notes sit in a few columns on rows of a few heights.
        if isinstance(comment, SharedNote) and comment.halves:
            left, width, col_from, col_to = self._half(comment.halves[0])
            top, height, row_from, row_to = self._half(comment.halves[1])
        else:
            point = self._point
            vertices = comment.vertices
            left, top, width, height = map(point, vertices[8:12])
            col_from, row_from = f"{vertices[0]}, {vertices[2]}", f"{vertices[1]}, {vertices[3]}"
            col_to, row_to = f"{vertices[4]}, {vertices[6]}", f"{vertices[5]}, {vertices[7]}"
        color = comment.color
        fill = self._fills.get(color)
        if fill is None:
            fill = self._fills[color] = self._escape_attributes(color._vml_rgb_hex_value())
        visible = bool(comment.is_visible)
        self.fh.write(
            f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
            f"margin-left:{left}pt;margin-top:{top}pt;width:{width}pt;"
            f"height:{height}pt;z-index:{z_index};"
            f'visibility:{"visible" if visible else "hidden"}" '
            f'fillcolor="{fill}" '
            'o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div>'
            '</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{col_from}, {row_from}, {col_to}, {row_to}"
            f"</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>{comment.row}</x:Row>"
            f"<x:Column>{comment.col}</x:Column>"
            + ("<x:Visible/>" if visible else "")
            + "</x:ClientData></v:shape>"
        )


class NotesComments(xlsxwriter.comments.Comments):  # type: ignore[misc]
    """Comments that write each note in one piece: the XML `Comments._write_comment` writes."""

    def _write_comment_list(self, comment_data: list[Any]) -> None:
        parts = ["<commentList>"]
        heads: dict[Any, tuple[str, str]] = {}  # a `SharedNote`'s first: its author and font run
        texts: dict[str, str] = {}  # notes repeat (the same explanation in many cells)
        letters: dict[int, str] = {}
        for comment in comment_data:
            first = comment.first if isinstance(comment, SharedNote) else None
            head = heads.get(first) if first is not None else None
            if head is None:
                head = self._head(comment)
                if first is not None:
                    heads[first] = head
            author, run = head
            col = comment.col
            letter = letters.get(col)
            if letter is None:
                letter = letters[col] = xlsxwriter.utility.xl_col_to_name(col)
            text = comment.text
            body = texts.get(text)
            if body is None:
                if NOT_PLAIN.search(text) is None:
                    body = f"<t>{text}</t>"
                else:
                    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
                    body = f"<t{space}>{escape_controls(self._escape_data(text))}</t>"
                texts[text] = body
            parts.append(
                f'<comment ref="{letter}{comment.row + 1}"{author}><text><r>{run}{body}</r>'
                "</text></comment>"
            )
        parts.append("</commentList>")
        self.fh.write("".join(parts))

    def _head(self, comment: Any) -> tuple[str, str]:
        """A note's authorId attribute and the font run before its text."""
        escape = self._escape_attributes
        author = (
            f' authorId="{self.author_ids[comment.author]}"' if comment.author is not None else ""
        )
        run = (
            f'<rPr><sz val="{escape(comment.font_size)}"/><color indexed="81"/>'
            f'<rFont val="{escape(comment.font_name)}"/>'
            f'<family val="{escape(comment.font_family)}"/></rPr>'
        )
        return author, run
