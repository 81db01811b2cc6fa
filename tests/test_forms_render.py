"""The issued return form as a lead sees it (issue 17 item 8, issue 15 item 8).

Read back with openpyxl: labels fit their column, rows are as tall as their wrapped text,
a Cumulative measure's Target gives the year-to-date figure due by each quarter, and text
Excel could take for a formula carries the quote prefix. Rendered by LibreOffice (skipped
without it): each cell's words are drawn whole inside its own cell.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import openpyxl
import pytest

from rag_workbook import layout
from rag_workbook.forms import write_return
from rag_workbook.model import (
    QUARTERS,
    Basis,
    Measure,
    Polarity,
    Register,
    RowNotes,
    Settings,
    Status,
    TargetForm,
)
from rag_workbook.rag import quarter_targets
from rag_workbook.render import convert_to_pdf

LONG_TEXT = (
    "Reduce the number of repeat callers to the Police, the Multi-Agency Anti-Social "
    "Behaviour Team and Registered Social Landlords in the five priority wards"
)


def _register() -> Register:
    def measure(mid: str, text: str, basis: Basis, **kw: object) -> Measure:
        return Measure("ASB", mid, text, Polarity.REDUCE, basis, lead="Jane Smith", **kw)  # type: ignore[arg-type]

    return Register(
        settings=Settings(partnership="Safer Stockton Partnership", year="2011/12"),
        measures=(
            # Cumulative, % change: 5% below 520 is 494 a year, due evenly.
            measure("1.1", LONG_TEXT, Basis.CUMULATIVE, unit="callers", baseline=520.0,
                    target=-5.0, target_form=TargetForm.PERCENT_CHANGE),
            # Cumulative, absolute, with the register's own profile (20/45/70/100%).
            measure("1.2", "Reduce ASB incidents", Basis.CUMULATIVE, unit="incidents",
                    baseline=3000.0, target=2800.0, profile=(0.2, 0.45, 0.7, 1.0)),
            # Snapshot, % change: the number, and the change in words.
            measure("1.3", "Perception that ASB is a serious problem", Basis.SNAPSHOT,
                    unit="%", baseline=30.0, target=-20.0,
                    target_form=TargetForm.PERCENT_CHANGE),
            # Cumulative, % change, no baseline yet: the change in words only.
            measure("1.4", "=HYPERLINK(\"http://x\") in a measure text", Basis.CUMULATIVE,
                    unit="-", target=-5.0, target_form=TargetForm.PERCENT_CHANGE),
        ),
        fingerprint="f" * 64,
    )  # fmt: skip


NOTES = {
    "1.1": RowNotes(
        "1.1",
        Status.AMBER,
        "+ one-off: the call centre moved in August",
        "Calls rose in the summer holidays.\nA new triage desk opened in October.",
    ),
    "1.2": RowNotes("1.2", comment="=1+1"),
    "1.3": RowNotes("1.3", comment="-20% is the target; the survey is annual"),
}


@pytest.fixture()
def form(tmp_path: Path) -> Path:
    return write_return(
        tmp_path / "ASB.xlsx",
        _register(),
        "ASB",
        values={("1.1", "Q1"): 130.0, ("1.1", "Q2"): "-", ("1.3", "Q1"): "n/a"},
        notes=NOTES,
        quarter="Q2",
    )


def _table(path: Path) -> tuple[openpyxl.worksheet.worksheet.Worksheet, dict[str, int]]:
    ws = openpyxl.load_workbook(path)[layout.RETURN_SHEET]
    first = layout.TABLE_HEADER_ROW + 2  # 1-based: the first measure row
    rows = {str(ws.cell(first + i, 1).value): first + i for i in range(4)}
    return ws, rows


def _targets(text: str) -> tuple[float, ...]:
    """'Q1: 1,900\\nQ2: ...' -> (1900.0, ...), checking the quarters' order."""
    found = re.findall(r"^(Q[1-4]): ([\d,.]+)$", text, re.M)
    assert [q for q, _ in found] == list(QUARTERS), text
    return tuple(float(n.replace(",", "")) for _, n in found)


def test_cumulative_target_is_the_figure_due_by_each_quarter(form: Path) -> None:
    ws, rows = _table(form)
    target = layout.TABLE_COLUMNS.index(layout.COL_TARGET) + 1
    cells = {mid: ws.cell(row, target).value for mid, row in rows.items()}
    assert _targets(str(cells["1.1"])) == (123.5, 247.0, 370.5, 494.0)
    assert _targets(str(cells["1.2"])) == (560.0, 1260.0, 1960.0, 2800.0)
    assert cells["1.3"] == "24% (20% below baseline)"
    assert cells["1.4"] == "5% below baseline"
    # The same figures rag judges each quarter's value against.
    by_rag = quarter_targets(_register())
    assert _targets(str(cells["1.2"])) == pytest.approx(by_rag["1.2"])
    assert by_rag["1.4"] is None


def test_labels_fit_their_column_and_rows_fit_their_text(form: Path) -> None:
    ws, rows = _table(form)
    width = {
        name: ws.column_dimensions[chr(65 + i)].width for i, name in enumerate(layout.TABLE_COLUMNS)
    }
    # Bold Arial 11 takes about 1.1 column units a character: the header block's labels
    # (column A) fit on one line, as the render test below sees.
    longest = max(len(label) for label in layout.HEADER_LABELS)
    assert width[layout.COL_ID] >= 1.1 * longest + 1
    for mid, row in rows.items():
        height = ws.row_dimensions[row].height
        assert height is not None, mid
        for col, name in enumerate(layout.TABLE_COLUMNS, start=1):
            cell = ws.cell(row, col)
            if not isinstance(cell.value, str):
                continue
            assert cell.alignment.wrap_text or name in QUARTERS, (mid, name)
            # At most one character a column unit, wrapped at spaces: each line needs
            # about 14 points of Arial 11.
            lines = sum(
                len(textwrap.wrap(part, int(width[name]), break_on_hyphens=False)) or 1
                for part in cell.value.split("\n")
            )
            assert height >= 14 * lines, (mid, name, height, lines)
    assert ws.row_dimensions[rows["1.1"]].height >= 14 * 4  # four quarters' targets


def test_text_that_excel_could_take_for_a_formula_has_the_quote_prefix(form: Path) -> None:
    ws, rows = _table(form)
    quoted = {
        (cell.coordinate, cell.value)
        for row in ws.iter_rows()
        for cell in row
        if cell.value is not None and cell.quotePrefix
    }
    col = {name: chr(65 + i) for i, name in enumerate(layout.TABLE_COLUMNS)}
    r11, r12, r13, r14 = (rows[m] for m in ("1.1", "1.2", "1.3", "1.4"))
    assert quoted == {
        (f"{col['Q2']}{r11}", "-"),
        (f"{col[layout.COL_OVERRIDE_REASON]}{r11}", NOTES["1.1"].override_reason),
        (f"{col[layout.COL_COMMENT]}{r12}", "=1+1"),
        (f"{col[layout.COL_COMMENT]}{r13}", NOTES["1.3"].comment),
        (f"{col[layout.COL_MEASURE]}{r14}", '=HYPERLINK("http://x") in a measure text'),
        (f"{col[layout.COL_UNIT]}{r14}", "-"),
    }
    assert all(isinstance(v, str) for _, v in quoted)  # text, never a formula


def test_the_header_and_meta_quote_a_formula_like_partnership(tmp_path: Path) -> None:
    register = _register()
    odd = Register(
        settings=Settings(partnership="=Safer Stockton", year="2011/12"),
        measures=register.measures,
        fingerprint=register.fingerprint,
    )
    wb = openpyxl.load_workbook(write_return(tmp_path / "odd.xlsx", odd, "ASB"))
    ws = wb[layout.RETURN_SHEET]
    assert (ws["A1"].value, ws["A1"].quotePrefix) == (
        "=Safer Stockton: ASB performance return",
        True,
    )
    assert (ws["B3"].value, ws["B3"].quotePrefix) == ("=Safer Stockton", True)
    assert (ws["B4"].value, ws["B4"].quotePrefix) == ("ASB", False)
    meta = {row[0].value: row[1] for row in wb[layout.META_SHEET].iter_rows(max_col=2)}
    assert (meta["partnership"].value, meta["partnership"].quotePrefix) == ("=Safer Stockton", True)
    assert meta["theme"].quotePrefix is False


# --------------------------------------------------------------------------- LibreOffice

_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def _words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """The words of one page as (x0, y0, x1, y1, text), from pdftotext's boxes."""
    done = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    unescape = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}
    return [
        (float(a), float(b), float(c), float(d), re.sub("&[a-z]+;", lambda m: unescape[m[0]], w))
        for a, b, c, d, w in _WORD.findall(done.stdout)
    ]


def _cell_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return " ".join(str(value).split())


@pytest.mark.requires("soffice", "pdftotext", "pdfinfo")
def test_libreoffice_draws_every_cell_whole_inside_its_cell(form: Path, tmp_path: Path) -> None:
    pdf = convert_to_pdf(form, tmp_path / "form.pdf", timeout=120)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+2$", info.stdout, re.M)  # the Return, then the Instructions
    words = _words(pdf, 1)

    def first(text: str) -> tuple[float, float, float, float, str]:
        return next(w for w in words if w[4] == text)

    # The header block: each label drawn whole, ending before the column of the values
    # (where the first word on the label's line after it starts).
    def label_at(name: str) -> tuple[float, float, float, float, str]:
        """A label of one or more words, drawn on one line: its first word's start, its
        last word's end."""
        parts = name.split()
        for i, w in enumerate(words):
            run = words[i : i + len(parts)]
            if [x[4] for x in run] == parts and all(abs(x[1] - w[1]) < 1 for x in run):
                return (w[0], w[1], run[-1][2], w[3], name)
        raise AssertionError(f"{name!r} is not drawn on one line")

    labels = [label_at(label) for label in layout.HEADER_LABELS]
    values_x = min(
        w[0] for label in labels for w in words if abs(w[1] - label[1]) < 1 and w[0] > label[2]
    )
    assert [(label[4], label[2] < values_x - 2) for label in labels] == [
        (name, True) for name in layout.HEADER_LABELS
    ]

    # The table: columns start at their header words, rows at their IDs. Every word is
    # put in the cell its middle falls in; each cell must hold exactly its text (a word cut
    # off, or wrapped into the next row, would be missing or in the wrong cell).
    header = [w for w in words if abs(w[1] - first("Performance")[1]) < 1]
    starts = {
        name: next(w[0] for w in header if w[4] == name.split()[0]) - 2
        for name in layout.TABLE_COLUMNS
    }
    header_y = header[0][3]
    ws, rows = _table(form)
    ids = sorted(w for w in words if w[4] in rows and w[1] > header_y and w[0] < starts["ID"] + 20)
    row_top = sorted((w[1] - 1, w[4]) for w in ids)
    assert [mid for _, mid in row_top] == ["1.1", "1.2", "1.3", "1.4"]
    edges = sorted(starts.values())
    drawn: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    footer_y = max(w[1] for w in words if w[4] == "Page") - 1  # "file name ... Page 1 of 1"
    for x0, y0, x1, y1, text in words:
        if y0 <= header_y or y0 >= footer_y:
            continue
        middle = (x0 + x1) / 2
        col = max((s, n) for n, s in starts.items() if s <= middle)[1]
        row = max(((top, mid) for top, mid in row_top if top <= (y0 + y1) / 2), default=None)
        assert row is not None, text
        drawn.setdefault((row[1], col), []).append((round(y0), x0, text))
    assert edges[0] == starts["ID"]
    for mid, r in rows.items():
        for c, name in enumerate(layout.TABLE_COLUMNS, start=1):
            value = ws.cell(r, c).value
            got = " ".join(t for *_, t in sorted(drawn.get((mid, name), [])))
            assert got == ("" if value is None else _cell_text(value)), (mid, name)

    # The Instructions page: every line drawn whole, in order, none cut at the page's edge.
    instructions = openpyxl.load_workbook(form)[layout.INSTRUCTIONS_SHEET]
    texts = [str(c.value) for c in instructions["A"] if c.value]
    page = [w for w in _words(pdf, 2) if w[1] < footer_y]
    assert " ".join(w[4] for w in sorted(page, key=lambda w: (round(w[1]), w[0]))) == " ".join(
        " ".join(texts).split()
    )
