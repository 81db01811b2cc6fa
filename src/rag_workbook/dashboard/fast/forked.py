"""Work a forked copy of this process does while this one writes the other sheets: the
rows of a book's blocks (the Data sheet's, the Summary's by theme, the Exceptions') and of
its long runs of rows (the Dashboard's measures) as deflated XML (`LaterRows`), and the
notes' parts (`Elsewhere`).

Where the process cannot fork (Windows, other threads running) or is told not to, the same
bytes are made here instead.
"""

from __future__ import annotations

import itertools
import struct
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter.utility

from rag_workbook.cells import can_fork
from rag_workbook.columns import looks_like_formula
from rag_workbook.dashboard.book import Block, Row
from rag_workbook.dashboard.fast.package import ZIP_LEVEL, Segment
from rag_workbook.dashboard.fast.strings import text_element


@dataclass(frozen=True)
class BlockJob:
    """A block with its styles' format indices (`xfs`, `quoted`; -1 for none) and, for
    each shared column, each text's index in the shared strings."""

    block: Block
    xfs: tuple[int, ...]
    quoted: tuple[int, ...]
    shared: tuple[dict[str, int] | None, ...]


def _share(values: Iterable[object], strings: Any) -> dict[str, int]:
    """The texts among `values`, each added to the workbook's string table (xlsxwriter's
    SharedStringTable) in order of first use, with every use counted: text -> index."""
    index = strings._get_shared_string_index  # counts one use of the text
    found: dict[str, int] = {}
    for text, uses in Counter(v for v in values if isinstance(v, str)).items():
        found[text] = index(text)
        strings.count += uses - 1
    return found


def share_texts(block: Block, strings: Any) -> tuple[dict[str, int] | None, ...]:
    """The block's shared columns' texts in the workbook's string table (see `_share`);
    None for a column whose texts are inline."""
    return tuple(
        _share(values, strings) if shared else None
        for values, shared in zip(block.values, block.shared, strict=True)
    )


def _column_tails(job: BlockJob, col: int) -> list[str]:
    """Each cell of a column as what follows `<c r="A1"`: style, type and value."""
    values = job.block.values[col]
    xf, quoted, shared = job.xfs[col], job.quoted[col], job.shared[col]
    made: dict[Any, str] = {}
    for value in dict.fromkeys(values):
        if value is None:
            made[value] = f' s="{xf}"/>'
        elif not isinstance(value, str):
            made[value] = f' s="{xf}"><v>{value:.16G}</v></c>'
        else:
            style = quoted if quoted >= 0 and looks_like_formula(value) else xf
            if shared is not None:
                made[value] = f' s="{style}" t="s"><v>{shared[value]}</v></c>'
            else:
                made[value] = f' s="{style}" t="inlineStr"><is>{text_element(value)}</is></c>'
    if all(value.__class__ in (str, type(None)) for value in made):
        return list(map(made.__getitem__, values))
    # Numbers one by one: 0.0 and -0.0, 1 and 1.0, are equal keys but not the same text.
    return [
        made[v] if v is None or isinstance(v, str) else f' s="{xf}"><v>{v:.16G}</v></c>'
        for v in values
    ]


def block_rows_xml(job: BlockJob) -> bytes:
    """The block's rows as `<row>` XML: shared columns' texts as shared strings, the
    others inline, so that the rows depend on nothing the other sheets add."""
    block = job.block
    if not block.count:
        return b""
    tails = [_column_tails(job, col) for col in range(block.width)]
    letters = [xlsxwriter.utility.xl_col_to_name(c) for c in range(block.width)]
    # Each cell is `<c r="{ref}"` and its tail; one format string per row puts them together.
    template = (
        f'<row r="{{0}}" spans="1:{block.width}"{{{block.width + 1}}}>'
        + "".join(f'<c r="{letter}{{0}}"{{{c + 1}}}' for c, letter in enumerate(letters))
        + "</row>"
    )
    rows = itertools.count(block.first_row + 1)
    heights = map(_height_tail, block.heights) if block.heights else itertools.repeat("")
    return "".join(map(template.format, rows, *tails, heights)).encode("utf-8")


@dataclass(frozen=True, eq=False)
class RowsJob:
    """A run of a sheet's rows (consecutive, every cell with a style), with each style's
    format index (`xfs`) and each text's index in the shared strings (`shared`)."""

    rows: tuple[Row, ...]
    width: int
    xfs: Mapping[str, int]
    shared: Mapping[str, int]


def share_row_texts(rows: Sequence[Row], strings: Any) -> dict[str, int]:
    """The rows' texts in the workbook's string table (see `_share`), in the order
    `put_row` would add them."""
    return _share((value for row in rows for _, value, _ in row.cells), strings)


def rows_job_xml(job: RowsJob) -> bytes:
    """The run's rows as `<row>` XML, each cell as `FastSheet._write_rows` writes it."""
    letters = [xlsxwriter.utility.xl_col_to_name(c) for c in range(job.width)]
    xfs, shared = job.xfs, job.shared
    span = f' spans="1:{job.width}"'
    out: list[str] = []
    for row in job.rows:
        number = row.row + 1
        out.append(f'<row r="{number}"{span}{_height_tail(row.height)}>')
        for col, value, style in sorted(row.cells, key=_first):
            ref, xf = letters[col], xfs[style]
            if value is None:
                out.append(f'<c r="{ref}{number}" s="{xf}"/>')
            elif isinstance(value, str):
                out.append(f'<c r="{ref}{number}" s="{xf}" t="s"><v>{shared[value]}</v></c>')
            else:
                out.append(f'<c r="{ref}{number}" s="{xf}"><v>{value:.16G}</v></c>')
        out.append("</row>")
    return "".join(out).encode("utf-8")


def _first(cell: tuple[Any, ...]) -> Any:
    return cell[0]


def job_xml(job: BlockJob | RowsJob) -> bytes:
    """A job's rows as `<row>` XML."""
    return rows_job_xml(job) if isinstance(job, RowsJob) else block_rows_xml(job)


_DEFAULT_ROW_PIXELS = 20  # xlsxwriter's default row height (15 pt)


def _height_tail(height: float | None) -> str:
    """What xlsxwriter's `<row>` tag holds after its spans for `set_row(row, height)`."""
    if height is None:
        return ""
    pixels = int(height * 4.0 / 3.0 + 0.5)
    if pixels == _DEFAULT_ROW_PIXELS:
        return ""
    return f' ht="{pixels * 0.75:.16g}" customHeight="1"'


class LaterRows:
    """The rows of `jobs`, deflated, made by a forked copy (`fork`) or here.

    `segment(i)` gives job i's rows, waiting for the copy; if it could not be started or
    failed, they are made here instead. `close()` ends the copy if never asked.
    """

    def __init__(self, jobs: Sequence[BlockJob | RowsJob], *, fork: bool) -> None:
        self._jobs = tuple(jobs)
        self._made: tuple[Segment, ...] | None = None
        self._child = Forked.start(self._make) if fork and self._jobs else None

    def _make(self) -> bytes:
        return _framed(
            Segment.of(job_xml(job), ZIP_LEVEL, last=False).to_bytes() for job in self._jobs
        )

    def segment(self, index: int) -> Segment:
        """Job `index`'s rows' XML, deflated, as a segment of its sheet's part."""
        if self._made is None:
            made = self._child.result() if self._child is not None else None
            if made is None:
                made = self._make()
            self._made = tuple(map(Segment.from_bytes, _unframed(made)))
        return self._made[index]

    def close(self) -> None:
        """End the copy if it was never waited for."""
        if self._child is not None:
            self._child.close()


_PIECE_SIZE = struct.Struct("<Q")


def _framed(pieces: Iterable[bytes]) -> bytes:
    """Pieces of bytes as one, each after its length: what a copy hands back."""
    return b"".join(_PIECE_SIZE.pack(len(piece)) + piece for piece in pieces)


def _unframed(data: bytes) -> list[bytes]:
    """The pieces `_framed` put together."""
    pieces: list[bytes] = []
    at = 0
    while at < len(data):
        (size,) = _PIECE_SIZE.unpack_from(data, at)
        at += _PIECE_SIZE.size
        pieces.append(data[at : at + size])
        at += size
    return pieces


class Elsewhere:
    """Zip parts made and deflated by a forked copy of this process (`start(make)`).

    `part(name, here)` gives one part deflated, waiting for the copy; when the copy
    could not be started, failed, or did not make that part, `here()` makes it.
    """

    def __init__(self, child: Forked | None) -> None:
        self._child = child
        self._parts: dict[str, Segment] | None = None

    @classmethod
    def start(cls, make: Callable[[], list[tuple[str, Segment]]]) -> Elsewhere:
        """`make()` (each part's name and deflated data) run in a forked copy."""
        return cls(Forked.start(lambda: _packed_parts(make())))

    def part(self, name: str, here: Callable[[], Segment]) -> Segment:
        if self._parts is None:
            made = self._child.result() if self._child is not None else None
            self._parts = _unpacked_parts(made) if made is not None else {}
        found = self._parts.get(name)
        return found if found is not None else here()

    def close(self) -> None:
        """End the copy if it was never waited for."""
        if self._child is not None:
            self._child.close()


def _packed_parts(parts: list[tuple[str, Segment]]) -> bytes:
    return _framed(x for name, part in parts for x in (name.encode("utf-8"), part.to_bytes()))


def _unpacked_parts(data: bytes) -> dict[str, Segment]:
    pieces = _unframed(data)
    return {
        name.decode("utf-8"): Segment.from_bytes(part)
        for name, part in zip(pieces[::2], pieces[1::2], strict=True)
    }


class Forked:
    """`make()` run in a forked copy of this process, its bytes left in a spool file.

    A fork starts in milliseconds with everything already in memory; the copy writes the
    bytes and leaves with os._exit, running nothing else of this process (no exit
    handlers, no buffered output flushed twice).
    """

    def __init__(self, pid: int, spool: Any) -> None:
        self._pid = pid
        self._spool = spool
        self._status: int | None = None

    @classmethod
    def start(cls, make: Callable[[], bytes]) -> Forked | None:
        """None where this process should not fork (`cells.can_fork`): not Linux, other
        threads running (a fork can deadlock on a lock one of them holds), or told not to
        (`RAG_WORKBOOK_NO_FORK=1`)."""
        import os

        if not can_fork():
            return None
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by result() or close())
        except OSError:  # no room for it: make the bytes here
            return None
        try:
            pid = os.fork()
        except OSError:
            spool.close()
            return None
        if pid == 0:  # the copy
            status = 1
            try:
                spool.write(make())
                spool.flush()
                status = 0
            finally:
                os._exit(status)
        return cls(pid, spool)

    def result(self) -> bytes | None:
        """The bytes, once the copy has finished; None if it failed."""

        if self._status is None:
            self._status = self._wait()
        if self._status != 0 or self._spool.closed:
            return None
        try:
            self._spool.seek(0)
            return bytes(self._spool.read())
        finally:
            self._spool.close()

    def close(self) -> None:
        """End the copy if it was never waited for, and drop its spool file."""
        import contextlib
        import os
        import signal

        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._status = self._wait()
        self._spool.close()

    def _wait(self) -> int:
        """The copy's exit status; -1 if it was reaped elsewhere (SIGCHLD ignored, say),
        when its work cannot be trusted."""
        import os

        try:
            return os.waitpid(self._pid, 0)[1]
        except ChildProcessError:
            return -1
