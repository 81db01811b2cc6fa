"""Fuzzing the reader: generated returns (hypothesis) and mutated real files.

1. Property: for any return hypothesis builds (values of every type, blank and extra rows,
   moved columns, retyped headers), read_return raises nothing and every non-empty cell
   of the value area (Q1..Q4, status override, override reason, comment of a measure row)
   is accounted for: read into values/notes, or named by an issue.
2. A bounded, deterministic run over byte-flipped and truncated copies of ~30 files of
   ../shared/corpus/real (skipped when absent). It runs in a child process with a memory
   cap, because some parser failures (an allocation abort) kill the process rather than
   raise; the child must finish, and each read must take a few seconds at most.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import xlsxwriter
from hostile.make_corpus import build_register
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xlsxwriter.utility import xl_rowcol_to_cell

from rag_workbook.model import Register
from rag_workbook.returns import read_return

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"
REGISTER: Register = build_register()
IDS = [m.measure_id for m in REGISTER.measures]

# --- 1. generated returns ----------------------------------------------------------------

HEADERS = {
    "id": ["ID", "id", "No", "Ref", "Measure ID", " ID "],
    "measure": ["Performance Measure", "Measure", "Description"],
    "Q1": ["Q1", "Q 1", "q1", "Q1 actual", "Q1 Actual"],
    "Q2": ["Q2", "Q 2", "q2", "Q2 actual"],
    "Q3": ["Q3", "Q 3", "q3", "Q3 actual"],
    "Q4": ["Q4", "Q 4", "q4"],
    "override": ["Status override", "Override", "RAG"],
    "reason": ["Override reason", "Reason", "Justification"],
    "comment": ["Comment", "Comments", "Notes"],
}
VALUE_ROLES = ("Q1", "Q2", "Q3", "Q4", "override", "reason", "comment")

cell_values = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "1,234",
            " 45 ",
            "12%",
            "n/a",
            "-",
            "no data",
            "(12)",
            "£1,200",
            "twelve",
            "=1+1",
            "Green",
            "Red",
            "amber",
            "",
            "   ",
            "TBC",
            "1e3",
            "−3",
            "0.5%",
        ]
    ),
    st.text(max_size=40),
    st.booleans(),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31)),
)


@st.composite
def returns(draw: st.DrawFn) -> dict[str, object]:
    roles = ["id", "measure", *draw(st.permutations(VALUE_ROLES))]
    roles = draw(st.permutations(roles))
    headers = [draw(st.sampled_from(HEADERS[r])) for r in roles]
    top = draw(st.integers(0, 12))
    ids = draw(st.lists(st.sampled_from([*IDS, "9.9", "x"]), min_size=0, max_size=8))
    rows: list[list[object] | None] = []
    for mid in ids:
        if draw(st.booleans()) and draw(st.booleans()):
            rows.append(None)  # a blank row
        row: list[object] = []
        for role in roles:
            if role == "id":
                row.append(mid)
            elif role == "measure":
                row.append(draw(st.sampled_from(["", "some measure"])))
            else:
                row.append(draw(cell_values))
        rows.append(row)
    return {"roles": roles, "headers": headers, "top": top, "rows": rows}


def _write(path: Path, spec: dict[str, object]) -> dict[str, object]:
    """Write the return; give back A1 -> value of every non-empty value-area cell."""
    roles: list[str] = spec["roles"]  # type: ignore[assignment]
    top: int = spec["top"]  # type: ignore[assignment]
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    ws = wb.add_worksheet("Return")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(top, 0, spec["headers"])  # type: ignore[arg-type]
    area: dict[str, object] = {}
    r = top
    for row in spec["rows"]:  # type: ignore[attr-defined]
        r += 1
        if row is None:
            continue
        for c, (role, value) in enumerate(zip(roles, row, strict=True)):
            if value is None:
                continue
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_fmt)
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write(r, c, value)
            blank = isinstance(value, str) and not value.strip()
            if role in VALUE_ROLES and not blank:
                area[xl_rowcol_to_cell(r, c)] = value
    wb.close()
    return area


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(returns())
def test_generated_returns_raise_nothing_and_lose_nothing(
    tmp_path_factory: pytest.TempPathFactory, spec: dict[str, object]
) -> None:
    path = tmp_path_factory.getbasetemp() / "generated.xlsx"
    area = _write(path, spec)
    data = read_return(path, REGISTER, display="generated.xlsx")
    read = {v.cell for v in data.values}
    for n in data.notes:
        read.update(c for c in (n.override_cell, n.comment_cell) if c)
    named = {getattr(i, "cell", "") for i in data.issues}
    said = " ".join(f"{getattr(i, 'message', '')} {getattr(i, 'value', '')}" for i in data.issues)
    texts = {t for n in data.notes for t in (n.override_reason, n.comment, str(n.override or ""))}
    lost = [
        (cell, value)
        for cell, value in area.items()
        if cell not in read
        and cell not in named
        and f"{cell}=" not in said
        and f"{cell} " not in said
        and not _shown(value) & texts
        and not _row_refused(cell, data.issues)
    ]
    assert lost == []


def _shown(value: object) -> set[str]:
    """The ways a cell's value may come back as text (as the lead saw it)."""
    if isinstance(value, bool):
        return {"TRUE", "FALSE"} & {str(value).upper()}
    if isinstance(value, (int, float)):
        # as stored in the file: xlsxwriter writes 16 significant digits
        stored = float(f"{value:.16G}")
        return {str(int(stored)) if stored.is_integer() else "", repr(stored), str(value)}
    if isinstance(value, dt.date):
        return {value.isoformat(), f"{value.isoformat()}T00:00:00"}
    return {str(value).strip()}


def _row_refused(cell: str, issues: tuple[object, ...]) -> bool:
    """True when an issue refused the whole row the cell is on (e.g. an unknown or
    duplicate measure ID, reported at the ID cell with the row's entries)."""
    row = "".join(ch for ch in cell if ch.isdigit())
    return any(
        getattr(i, "code", "") in ("unknown-measure", "duplicate-measure", "row-without-id")
        and "".join(ch for ch in getattr(i, "cell", "") if ch.isdigit()) == row
        for i in issues
    )


# --- 2. mutated real files -------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    sys.path.insert(0, sys.argv[2])
    from hostile.make_corpus import build_register
    from rag_workbook.returns import read_return
    register = build_register()
    results = []
    for name in sys.argv[3:]:
        path = Path(sys.argv[1]) / name
        print(name, flush=True)  # the last name printed is the culprit if we die
        start = time.perf_counter()
        data = read_return(path, register, display=name)
        results.append(
            [name, round(time.perf_counter() - start, 3), [i.code for i in data.issues][:3]]
        )
    Path(sys.argv[1], "results.json").write_text(json.dumps(results))
    """
)


def _mutants(folder: Path, count: int = 30, per_file: int = 4) -> list[str]:
    files = sorted(
        p for p in REAL.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
    )
    step = max(1, len(files) // count)
    names = []
    for path in files[::step][:count]:
        raw = path.read_bytes()
        if not raw:
            continue
        for k in range(per_file):
            rng = random.Random(f"{path.name}:{k}")
            data = bytearray(raw)
            kind = k % 4
            if kind == 0:  # a few flipped bytes anywhere
                for _ in range(rng.randint(1, 16)):
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif kind == 1:  # cut short
                data = data[: rng.randrange(1, len(data))]
            elif kind == 2:  # a block of zeros
                at = rng.randrange(len(data))
                data[at : at + 64] = bytes(min(64, len(data) - at))
            else:  # flips in the last 1 KB: the zip directory, or a compound file's tail
                for _ in range(rng.randint(1, 8)):
                    data[len(data) - 1 - rng.randrange(min(1024, len(data)))] ^= 0xFF
            name = f"m{k}_{path.name}"
            (folder / name).write_bytes(bytes(data))
            names.append(name)
    return names


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/corpus/real is not present")
def test_mutated_real_files_never_break_the_reader(tmp_path: Path) -> None:
    names = _mutants(tmp_path)
    tests_dir = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path), tests_dir, *names],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    # python-calamine's Rust panics are caught by the reader (as BaseException) but its
    # panic hook still prints to stderr; only the process dying is a failure here.
    assert done.returncode == 0, f"died reading {last}: {done.stderr[-1500:]}"
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(names) >= 100
    assert [(n, s) for n, s, _ in results if s > 5.0] == []
    # A damaged file is the lead's to resend; only a bug of ours is an internal error.
    assert [(n, codes) for n, _, codes in results if "internal-error" in codes] == []
