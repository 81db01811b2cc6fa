"""Both dashboard writers render one Book into the same workbook (issue 16), and text that
Excel could take for a formula keeps its quote prefix on every sheet (issue 15 item 8).

The plain writer (xlsxwriter's public API) is the reference; the fast writer must give the
same cells, values, styles, merged ranges, notes, tables, conditional formats, print set-up
and chart, read back with openpyxl; every XML part of both must be schema-valid. Cases:
the Stockton golden case, and 300 generated return files (3,800 Data rows) read, merged
and rated as `merge` does.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from rag_workbook import columns as C
from rag_workbook import dashboard as D
from rag_workbook.columns import looks_like_formula
from rag_workbook.dashboard import build, fast, plain
from rag_workbook.dashboard.fast import forked, internals, rows
from rag_workbook.dashboard.fast import writer as fast_writer
from rag_workbook.forms import write_return
from rag_workbook.merge import merge_returns, read_returns
from rag_workbook.model import QUARTERS, Measure, Register, RowNotes, Severity, Status
from rag_workbook.rag import rate_columns
from rag_workbook.report import Code

sys.path.insert(0, str(Path(__file__).parent))
from test_dashboard import (
    COMMENTS,
    OPTIONS,
    OVERRIDES,
    STOCKTON,
    make_frame,
    stockton_inputs,
    stockton_register,
    stockton_report,
)

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = ROOT.parent / "shared" / "ooxml" / "validate.py"  # ../shared beside the repo
SRC = ROOT / "src" / "rag_workbook"
FAST_PACKAGE = SRC / "dashboard" / "fast"
DATA = SRC / "data"


# --------------------------------------------------------------------------- inputs


def stockton_book() -> Any:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    return build.build_book(frame, register, stockton_report(), stockton_inputs(), OPTIONS)


HOSTILE = ("=1+1", "@SUM(1)", "-20% on baseline", "\t+44", "<r>x</r> & y", "  spaced  ")


def generated_book(folder: Path, returns: int = 300) -> Any:
    """A collection of `returns` real return files (one per theme, the Stockton measures
    copied per theme, some themes looking like formulas), written by forms.write_return
    with random values, overrides and comments (some looking like formulas), one file that
    is not a workbook; read, merged and rated as `merge` does, then built."""
    rng = random.Random(16)
    base = stockton_register()
    themes = list(dict.fromkeys(m.theme for m in base.measures))
    measures: list[Measure] = []
    for t in range(returns):
        theme = themes[t % len(themes)]
        name = f"{theme} P{t + 1:04d}" if t % 97 else f"={theme} P{t + 1}"
        for k, m in enumerate((m for m in base.measures if m.theme == theme), start=1):
            measures.append(replace(m, theme=name, measure_id=f"{t + 1}.{k}"))
    settings = replace(base.settings, current_quarter="Q3")
    register = Register(settings=settings, measures=tuple(measures), fingerprint="e" * 64)
    paths = [_write_return(folder, register, theme, rng) for theme in register.themes]
    broken = folder / "+broken.xlsx"
    broken.write_bytes(b"not a workbook")
    data = read_returns([*paths, broken], register)
    merged = merge_returns(data, register)
    rated, rating = rate_columns(merged.columns, register)
    inputs = [D.InputFile.from_return(r) for r in data]
    columns = {**merged.columns, **rated}
    return build.build_book(columns, register, merged.report + rating, inputs, OPTIONS)


def _write_return(folder: Path, register: Register, theme: str, rng: random.Random) -> Path:
    measures = [m for m in register.measures if m.theme == theme]
    values: dict[tuple[str, str], float | str] = {
        (m.measure_id, q): rng.choice([rng.randint(40, 160), rng.randint(40, 160), "n/a", "x"])
        for m in measures
        for q in QUARTERS[:3]
        if rng.random() < 0.9
    }
    notes = {
        m.measure_id: RowNotes(
            m.measure_id,
            override=Status.GREEN if rng.random() < 0.05 else None,
            override_reason=rng.choice(HOSTILE),
            comment=rng.choice((*HOSTILE, "fine", "")),
        )
        for m in measures
    }
    path = folder / f"{theme.replace('=', '+')}.xlsx"
    return write_return(
        path, register, theme, values=values, notes=notes, quarter="Q3", submitted="2012-01-20"
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return generated_book(tmp_path_factory.mktemp("returns"), 300)


# --------------------------------------------------------------------------- reading back


def _colour(colour: Any) -> object:
    return None if colour is None else (colour.type, colour.rgb, colour.indexed, colour.theme)


def _style(cell: Any) -> tuple[object, ...]:
    font, fill, border, align = cell.font, cell.fill, cell.border, cell.alignment
    return (
        (font.name, font.sz, font.b, font.i, font.u, _colour(font.color)),
        (fill.patternType, _colour(fill.fgColor)),
        tuple(
            (side.style, _colour(side.color))
            for side in (border.left, border.right, border.top, border.bottom)
        ),
        (align.horizontal, align.vertical, align.wrap_text, align.indent),
        cell.number_format,
        bool(cell.quotePrefix),
    )


def _sheet_picture(ws: Any) -> Iterator[tuple[str, object]]:
    """(what, how it is) for everything a reader of the sheet sees."""
    for _, cell in sorted(ws._cells.items()):
        where = f"{ws.title}!{cell.coordinate}"
        yield f"{where} value", (cell.value, cell.data_type)
        yield f"{where} style", _style(cell)
        if cell.comment is not None:
            yield f"{where} note", (cell.comment.text, cell.comment.author)
    yield f"{ws.title} merged", sorted(str(r) for r in ws.merged_cells.ranges)
    yield (
        f"{ws.title} heights",
        sorted((r, d.height) for r, d in ws.row_dimensions.items() if d.height is not None),
    )
    yield (
        f"{ws.title} widths",
        sorted((d.min, d.max, d.width) for d in ws.column_dimensions.values() if d.width),
    )
    for table in sorted(ws.tables.values(), key=lambda t: t.name):
        yield (
            f"{ws.title} table {table.name}",
            (
                table.ref,
                [c.name for c in table.tableColumns],
                table.tableStyleInfo.name,
            ),
        )
    for rule in ws.conditional_formatting:
        yield f"{ws.title} rules {rule.sqref}", [
            (r.type, r.iconSet.iconSet, r.iconSet.showValue, [(v.type, v.val) for v in r.iconSet.cfvo])  # noqa: E501
            for r in rule.rules
        ]  # fmt: skip
    setup, margins = ws.page_setup, ws.page_margins
    yield f"{ws.title} print", (
        setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight,
        ws.sheet_properties.pageSetUpPr.fitToPage if ws.sheet_properties.pageSetUpPr else None,
        ws.print_title_rows, ws.print_area,
        (margins.left, margins.right, margins.top, margins.bottom),
        ws.print_options.horizontalCentered,
        (ws.oddFooter.left.text, ws.oddFooter.center.text, ws.oddFooter.right.text),
    )  # fmt: skip
    yield f"{ws.title} view", (
        ws.freeze_panes, ws.sheet_state, ws.sheet_view.showGridLines, ws.sheet_view.tabSelected
    )  # fmt: skip
    yield (
        f"{ws.title} charts",
        [(type(c).__name__, c.grouping, [s.val.numRef.f for s in c.series]) for c in ws._charts],
    )


def picture(data: bytes) -> dict[str, object]:
    """Everything a reader sees of the workbook, by where it is."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    props = wb.properties
    seen: dict[str, object] = {
        "sheets": wb.sheetnames,
        "properties": (props.title, props.subject, props.creator, props.created),
    }
    for ws in wb.worksheets:
        seen.update(_sheet_picture(ws))
    return seen


def differences(want: dict[str, object], got: dict[str, object]) -> list[str]:
    """Every element that differs, not just the first."""
    return [
        f"{key}: {want.get(key)!r} != {got.get(key)!r}"
        for key in sorted(set(want) | set(got))
        if want.get(key) != got.get(key)
    ]


def assert_valid(data: bytes, tmp_path: Path, name: str) -> None:
    if not VALIDATE.exists():
        return
    path = tmp_path / name
    path.write_bytes(data)
    proc = subprocess.run(
        [sys.executable, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


# --------------------------------------------------------------------------- the two writers


@pytest.mark.parametrize("case", ["stockton", "generated-300"])
def test_both_writers_give_the_same_workbook(
    case: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    book = stockton_book() if case == "stockton" else request.getfixturevalue("generated")
    plain_bytes = plain.write_book(book)
    fast_bytes = fast.write_book(book)
    assert plain_bytes != fast_bytes  # two writers, really
    want, got = picture(plain_bytes), picture(fast_bytes)
    assert differences(want, got) == []
    if case != "stockton":
        assert len([k for k in want if k.startswith("Data!") and k.endswith("value")]) > 20_000
    if not VALIDATE.exists():
        pytest.skip("../shared/ooxml/validate.py is absent: schema check skipped")
    assert_valid(plain_bytes, tmp_path, "plain.xlsx")
    assert_valid(fast_bytes, tmp_path, "fast.xlsx")


def test_both_writers_give_the_links_alt_text_and_language() -> None:
    # What the Book gained for issue 17, read from each writer's parts.
    book = stockton_book()
    for data in (plain.write_book(book), fast.write_book(book)):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            core = zf.read("docProps/core.xml").decode()
            drawing = zf.read("xl/drawings/drawing1.xml").decode()
        assert "<dc:language>en-GB</dc:language>" in core
        assert 'descr="Stacked column chart' in drawing
        contents = openpyxl.load_workbook(io.BytesIO(data))[D.CONTENTS_SHEET]
        links = [c.hyperlink.location for c in contents["A"] if c.hyperlink is not None]
        assert links == [f"'{name}'!A1" for name in D.SHEETS]


def test_picture_sees_a_changed_style_and_value() -> None:
    # The comparison above is only as good as what it reads: one style and one value
    # changed in the Book must show up, each where it is.
    book = stockton_book()
    sheet = book.sheet(D.DASHBOARD_SHEET)
    row = next(r for r in sheet.content if isinstance(r, D.book.Row) and r.row == 5)
    changed = replace(
        row, cells=((*row.cells[0][:2], "subtitle"), (1, "9.9", row.cells[1][2]), *row.cells[2:])
    )
    content = tuple(changed if item is row else item for item in sheet.content)
    sheets = tuple(replace(s, content=content) if s is sheet else s for s in book.sheets)
    other = replace(book, sheets=sheets)
    found = differences(picture(plain.write_book(book)), picture(plain.write_book(other)))
    assert [line.split(":")[0] for line in found] == [
        "Dashboard!A6 style", "Dashboard!B6 value"
    ]  # fmt: skip


def test_no_fork_path_gives_the_same_bytes(generated: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows has no fork: the Data rows and the notes' parts are then made in this
    # process. Forced here on Linux, by the option and by the platform check itself, it
    # gives the same bytes.
    book = generated
    forked_bytes = fast.write_book(book, fork=True)
    assert fast.write_book(book, fork=False) == forked_bytes
    started: list[object] = []
    real_start = forked.Forked.start.__func__  # type: ignore[attr-defined]

    def start(cls: Any, make: Any) -> Any:
        made = real_start(cls, make)
        started.append(made)
        return made

    monkeypatch.setattr(forked.Forked, "start", classmethod(start))
    monkeypatch.setattr(sys, "platform", "win32")
    assert fast.write_book(book, fork=True) == forked_bytes
    assert started == [None, None]  # asked for the rows and the notes, it did not fork


def test_long_runs_of_rows_made_elsewhere_give_the_same_workbook(
    generated: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A national Dashboard's measure rows and About's input files are made as XML with the
    # blocks' rows (fast.writer.ROWS_ELSEWHERE_FROM): brought down to reach the generated
    # case's runs, and its hostile and formula-like texts, they give the plain writer's
    # workbook, forked or not.
    made: list[int] = []
    real = forked.rows_job_xml

    def counted(job: Any) -> bytes:
        made.append(len(job.rows))
        return real(job)

    monkeypatch.setattr(fast_writer, "ROWS_ELSEWHERE_FROM", 100)
    monkeypatch.setattr(forked, "rows_job_xml", counted)
    book = generated
    here = fast.write_book(book, fork=False)  # made in this process, where the spy sees it
    assert len(made) >= 2 and max(made) >= 900  # the Dashboard's rows and About's
    assert differences(picture(plain.write_book(book)), picture(here)) == []
    assert fast.write_book(book, fork=True) == here
    if VALIDATE.exists():
        assert_valid(here, tmp_path, "runs.xlsx")


def test_auto_and_fast_writers_are_the_fast_one_and_plain_is_plain() -> None:
    book = stockton_book()
    fast_bytes = fast.write_book(book)
    assert D.write_book(book, D.Writer.AUTO) == fast_bytes
    assert D.write_book(book, "fast") == fast_bytes
    assert D.write_book(book, "plain") == plain.write_book(book)


def test_changed_internals_fall_back_to_the_plain_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book = stockton_book()
    monkeypatch.setattr(internals, "SERIES", "9.9.")
    internals.problem.cache_clear()
    try:
        assert D.write_book(book, "fast") == plain.write_book(book)
        note = D.writer_note(D.DashboardOptions(writer="fast"))
        assert note is not None
        assert (note.code, note.severity) == (Code.FAST_WRITER_UNAVAILABLE, Severity.INFO)
        assert "9.9.x" in note.message
        assert D.writer_note(D.DashboardOptions(writer="plain")) is None
    finally:
        monkeypatch.undo()
        internals.problem.cache_clear()
    assert internals.problem() is None
    assert D.writer_note() is None


@pytest.mark.parametrize(
    "surprise",
    [
        internals.InternalsChanged("this xlsxwriter writes a row's tag differently"),
        AttributeError("'Worksheet' object has no attribute 'row_info'"),
        TypeError("_write_row() takes 4 positional arguments but 5 were given"),
    ],
)
def test_a_surprise_inside_xlsxwriter_falls_back_too(
    surprise: Exception, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    book = stockton_book()

    def changed(self: object, *args: object, **kwargs: object) -> None:
        raise surprise

    monkeypatch.setattr(rows.FastSheet, "put_row", changed)
    with caplog.at_level("INFO", logger="rag_workbook.dashboard"):
        assert D.write_book(book, "fast") == plain.write_book(book)
    assert "plain writer" in caplog.text and str(surprise) in caplog.text


def test_xlsxwriter_internals_are_touched_only_by_the_fast_writer() -> None:
    # In every module that uses xlsxwriter, outside the fast writer's package: no private
    # module of xlsxwriter, no private name imported from it, and no `._name` attribute
    # but our own objects' (`self._x`, `cls._x`).
    private = re.compile(
        r"xlsxwriter\.(worksheet|packager|vml|comments|sharedstrings|xmlwriter)\b"
        r"|from xlsxwriter[.\w]* import .*\b_\w+"
        r"|(?<!\bself)(?<!\bcls)\._(?!_)\w+"
    )
    outside: list[str] = []
    inside: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        if not re.search(r"^\s*(import|from) xlsxwriter", text, re.MULTILINE):
            continue
        hits = [
            f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if private.search(line.split("#")[0])
        ]
        (inside if FAST_PACKAGE in path.parents else outside).extend(hits)
    assert outside == []
    assert len(inside) > 50  # the check finds them where they are


# --------------------------------------------------------------------------- quote prefix


def _make_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The demo's template and returns, a comment, an override reason and a file name of
    one return made to look like formulas, and one file that is not a workbook at all."""
    from rag_workbook.template import read_template

    template = tmp_path / "template.xlsx"
    shutil.copy(DATA / "stockton_template.xlsx", template)
    register = read_template(template)
    returns = tmp_path / "returns"
    returns.mkdir()
    write_return(
        returns / "=ASB.xlsx",
        register,
        "ASB",
        values={("1.1", "Q1"): 120, ("1.2", "Q1"): "n/a", ("1.3", "Q1"): 700},
        notes={
            "1.1": RowNotes("1.1", comment="=cmd|' /C calc'!A0"),
            "1.2": RowNotes("1.2", comment="@SUM(1)"),
            "1.3": RowNotes(
                "1.3", override=Status.GREEN, override_reason="-agreed", comment="\t+44 calls"
            ),
        },
        quarter="Q1",
        submitted="2012-04-20",
    )
    (returns / "+broken.xlsx").write_bytes(b"not a workbook")
    return template, returns


PLANTED = {"=cmd|' /C calc'!A0", "@SUM(1)", "-agreed", "\t+44 calls", "=ASB.xlsx", "+broken.xlsx"}


@pytest.mark.parametrize("writer", ["plain", "fast"])
def test_formula_like_text_keeps_its_quote_prefix_on_every_sheet(
    writer: str, tmp_path: Path
) -> None:
    template, returns = _make_inputs(tmp_path)
    out = tmp_path / "dashboard.xlsx"
    proc = subprocess.run(
        [sys.executable, "-m", "rag_workbook", "merge", str(returns), "--template",
         str(template), "--out", str(out), "--writer", writer, "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    wb = openpyxl.load_workbook(out)
    found: dict[str, set[str]] = {}
    unquoted: list[str] = []
    for ws in wb.worksheets:
        for cell in (c for row in ws.iter_rows() for c in row):
            text = cell.value
            if not isinstance(text, str) or not looks_like_formula(text):
                continue
            planted = next((p for p in PLANTED if p in text), None)
            if planted is not None:
                found.setdefault(planted, set()).add(ws.title)
            if not cell.quotePrefix:
                unquoted.append(f"{ws.title}!{cell.coordinate} {text!r}")
    assert unquoted == []
    assert found["=cmd|' /C calc'!A0"] >= {"Dashboard", "Data"}
    assert found["@SUM(1)"] == {"Dashboard", "Data"}
    assert found["-agreed"] == {"Data"}
    assert found["=ASB.xlsx"] >= {"About"}
    assert found["+broken.xlsx"] >= {"Issues", "About"}


# --------------------------------------------------------------------------- the column table


@pytest.mark.parametrize("writer", ["plain", "fast"])
def test_a_new_data_column_is_one_row_of_the_table(
    writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's developer notes: a new number column is one row of columns.COLUMNS
    # (plus the code computing it, here given in the frame); it reaches the Data sheet,
    # its table header, and is written as numbers by both writers, never as text.
    forecast = C.FrameColumn("forecast", C.Stage.RAG, C.Kind.NUMBER, "Forecast", 10, order=99)
    table = (*C.COLUMNS, forecast)
    monkeypatch.setattr(C, "COLUMNS", table)
    monkeypatch.setattr(C, "RAG", tuple(c.name for c in table if c.stage is C.Stage.RAG))
    monkeypatch.setattr(
        C, "DATA_COLUMNS", tuple(sorted((c for c in table if c.label), key=lambda c: c.order))
    )
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    given = [12.5, "7", None, "n/a", float("nan"), 0]
    frame["forecast"] = [given[i % len(given)] for i in range(len(frame))]
    book = build.build_book(frame, register, stockton_report(), (), OPTIONS)
    data = plain.write_book(book) if writer == "plain" else fast.write_book(book)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Data"]
    header = [cell.value for cell in ws[4]]
    assert header[-1] == "Forecast" and ws.tables[build.DATA_TABLE].ref == f"A4:X{len(frame) + 4}"
    cells = [row[-1] for row in ws.iter_rows(min_row=5)]
    assert {(c.value, c.data_type) for c in cells} == {(12.5, "n"), (7, "n"), (None, "n"), (0, "n")}


def test_issues_sheet_says_severity_in_the_severity_enums_words() -> None:
    # The terminal, the JSON and the Issues sheet use one word per severity: its value.
    ws = openpyxl.load_workbook(io.BytesIO(fast.write_book(stockton_book())))["Issues"]
    table = ws.tables[build.ISSUES_TABLE]
    first, last = table.ref.split(":")
    words = [ws.cell(r, 1).value for r in range(int(first[1:]) + 1, int(last[1:]) + 1)]
    assert words == ["error", "warning", "warning", "info"]
    assert set(words) <= {severity.value for severity in Severity}
