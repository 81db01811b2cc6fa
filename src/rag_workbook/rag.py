"""Stage 4: master frame + Register -> RAG statuses, explanations and direction of travel.

Input: the master frame (``columns.MASTER``, one row per measure and quarter) and the
Register. Output: a new frame with ``columns.RAG`` added, and a Report of the register
problems that stopped a value from being judged (no baseline yet, zero baseline). Pure:
no I/O, the input frame is never changed, and row order never changes a status.

The rules (SPEC §4):

- The annual target is the register's target (Absolute) or ``baseline * (1 + target/100)``
  (% change). Cumulative measures compare the year-to-date value with the annual target
  times the profile share for the quarter (even 25/50/75/100% unless the register gives a
  profile); Snapshot measures compare the value with the target itself.
- Reduce / Increase: on target or better is Green; worse but within the amber tolerance
  (% of the target, or absolute units) is Amber; beyond it Red. Exactly on the edge is
  Amber. A blank tolerance means no amber band.
- Maintain: Green while within tolerance of the (profiled) baseline, Red beyond.
- A due quarter without a value is ``No data`` with the lead's reason; a quarter not yet due
  has no status. A lead's override wins only with a reason and is marked as an override.
- Direction of travel compares each quarter with the previous one on a polarity-signed
  score: for Reduce / Increase the value annualised by the profile (the same ordering as its
  relative gap to that quarter's target, so year-to-date growth is not mistaken for
  worsening), for Maintain the closeness of the annualised value to the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from rag_workbook import columns as col
from rag_workbook import layout
from rag_workbook.cells import column_name
from rag_workbook.model import (
    QUARTER_INDEX,
    QUARTERS,
    Basis,
    Direction,
    Measure,
    Polarity,
    Register,
    Status,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.report import Code, Issue, Report

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["apply_rag", "format_number", "quarter_targets", "rate_columns", "rated_frame"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

_EPS = 1e-9  # relative tolerance for float edges

# Status codes used inside the vectorised rules.
_NONE, _GREEN, _AMBER, _RED, _NO_DATA = 0, 1, 2, 3, 4
_STATUS_TEXT = np.array(
    ["", str(Status.GREEN), str(Status.AMBER), str(Status.RED), str(Status.NO_DATA)], dtype=object
)
_STATUS_CODE = {
    Status.GREEN: _GREEN,
    Status.AMBER: _AMBER,
    Status.RED: _RED,
    Status.NO_DATA: _NO_DATA,
}
_DIRECTION_TEXT = np.array(
    ["", str(Direction.BETTER), str(Direction.SAME), str(Direction.WORSE)], dtype=object
)
_STATUS_BY_WORD = {str(s).lower(): s for s in Status}

# Why a measure cannot be judged at all.
_OK, _NO_BASELINE, _ZERO_BASELINE, _NO_TARGET = 0, 1, 2, 3
_POL_CODE = {Polarity.REDUCE: 0, Polarity.INCREASE: 1, Polarity.MAINTAIN: 2}


def format_number(number: float) -> str:
    """A number as a committee reads it: no trailing .0, at most 2 decimals, thousands commas.

    Args:
        number: any float.

    Returns:
        The compact text, e.g. ``format_number(1234.5) == "1,234.5"``.

    Example:
        >>> format_number(28.0), format_number(-0.125), format_number(1e6)
        ('28', '-0.12', '1,000,000')
    """
    text = f"{number:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _format_many(numbers: FloatArray, suffix: str | ObjArray = "") -> ObjArray:
    """format_number over an array, formatting each distinct value once."""
    if len(numbers) == 0:
        return np.empty(0, dtype=object)
    # Each distinct value as it is: rounding first (np.round) would settle ties such as
    # 0.835 differently from format_number's correctly rounded text.
    finite = np.nan_to_num(numbers, nan=0.0, posinf=0.0, neginf=0.0)
    uniques, inverse = np.unique(finite, return_inverse=True)
    # format_number, inlined: a national collection has tens of thousands of values.
    texts = np.array([f"{u:,.2f}".rstrip("0").rstrip(".") for u in uniques.tolist()], dtype=object)
    texts[texts == "-0"] = "0"
    out: ObjArray = texts[inverse.reshape(-1)]
    if isinstance(suffix, str) and not suffix:
        return out
    joined: ObjArray = out + suffix
    return joined


class _Rules:
    """The register as per-measure arrays; the last slot stands for 'not in the register'.

    Built with one pass over the measures and array operations; the text tables (middle,
    tolerance, ending) are written once per distinct wording and shared, as a register
    repeats a few tolerances, profiles and targets across thousands of measures.
    """

    def __init__(self, measures: Sequence[Measure]) -> None:
        size = len(measures) + 1
        even = (0.25, 0.5, 0.75, 1.0)
        fields = attrgetter(
            "polarity", "basis", "profile", "baseline", "target", "target_form",
            "tolerance", "tolerance_form", "unit",
        )  # fmt: skip
        values = list(map(fields, measures))
        polarity, basis, profile, baseline, target, target_form, tolerance, tolerance_form, unit = (
            zip(*values, strict=True) if values else ((),) * 9
        )
        # The last slot (not in the register): no polarity, an even profile, nothing to judge.
        self.polarity: IntArray = np.array([*map(_POL_CODE.__getitem__, polarity), -1])
        self.cumulative: BoolArray = np.array([b is Basis.CUMULATIVE for b in basis] + [False])
        self.profile: FloatArray = np.tile(np.array(even), (size, 1))
        given = [i for i, p in enumerate(profile) if p is not None]
        if given:
            self.profile[given] = [profile[i] for i in given]
        self.baseline: FloatArray = np.array([*baseline, None], dtype=np.float64)  # None: nan
        self.band: FloatArray = np.array([*(t or 0.0 for t in tolerance), 0.0], dtype=np.float64)
        self.band_pct: BoolArray = np.array(
            [f is ToleranceForm.PERCENT for f in tolerance_form] + [True]
        )
        self.unit_pct: BoolArray = np.array([u.strip() == "%" for u in unit] + [False])
        # The annual target (the baseline for Maintain), and why it may be missing.
        self.reference, self.blocker = _references(
            self.polarity,
            self.baseline,
            np.array([b is not None for b in baseline] + [False]),
            np.array([*target, None], dtype=np.float64),
            np.array([t is not None for t in target] + [False]),
            np.array([f is TargetForm.ABSOLUTE for f in target_form] + [False]),
            self.band_pct,
        )
        self.reference[-1], self.blocker[-1] = np.nan, _OK
        # Per (measure, quarter): the profile share the value is judged at (1 for Snapshot),
        # and the figure it is compared with (NaN where nothing to judge by).
        self.share: FloatArray = np.where(self.cumulative[:, None], self.profile, 1.0)
        self.targets: FloatArray = self.reference[:, None] * self.share

        # Indexed by polarity code; -1 (not in the register) picks the last entry, "".
        self.polarity_text: ObjArray = _POLARITY_TEXT[self.polarity]
        self.basis_text: ObjArray = np.where(self.cumulative, _CUMULATIVE, _SNAPSHOT).astype(object)
        self.basis_text[-1] = ""
        # Text tables: prefix and middle per (measure, quarter), ending per (measure, kind).
        self.unit: ObjArray = np.where(self.unit_pct, "%", "").astype(object)
        self.points: ObjArray = np.where(self.unit_pct, " points", "").astype(object)
        self.prefix: ObjArray = np.where(self.cumulative[:, None], _YTD_PREFIX, _PREFIX)
        self.middle = self._middles()
        self.tolerance_text = self._tolerance_texts()
        first, kinds = _factorize(self.tolerance_text)
        self.ending: ObjArray = np.array([_endings(t) for t in kinds], dtype=object)[first]

    def _middles(self) -> ObjArray:
        """' vs profiled target 100: ' per (measure, quarter); '' where nothing to judge by."""
        size = len(self.polarity)
        share, reference = self.share, self.targets
        # 0 target, 1 baseline; + 2 profiled, + 4 annual (cumulative only); * 2 + unit is %
        what = (self.polarity == 2).astype(np.int64)[:, None] + np.where(
            self.cumulative[:, None], np.where(share >= 1.0, 4, 2), 0
        )
        code = what * 2 + self.unit_pct[:, None]
        middle = np.full((size, 4), "", dtype=object)
        shown = ~np.isnan(reference)
        if shown.any():
            key = np.empty(int(shown.sum()), dtype=np.complex128)  # (code, reference) pairs
            key.real, key.imag = code[shown], reference[shown]
            keys, uniques = _factorize(key)
            texts = [
                f" vs {_WHAT[int(k.real) // 2]} {format_number(k.imag)}"
                f"{'%' if int(k.real) % 2 else ''}: "
                for k in uniques
            ]
            middle[shown] = np.array(texts, dtype=object)[keys]
        return middle

    def _tolerance_texts(self) -> ObjArray:
        """'5%', '3 points', '2' or '' (no amber band) per measure."""
        known: dict[tuple[float, bool, bool], str] = {}
        texts: list[str] = []
        for key in zip(
            self.band.tolist(), self.band_pct.tolist(), self.unit_pct.tolist(), strict=True
        ):
            text = known.get(key)
            if text is None:
                band, pct, unit_pct = key
                if band == 0:
                    text = ""
                elif pct:
                    text = f"{format_number(band)}%"
                else:
                    text = f"{format_number(band)}{' points' if unit_pct else ''}"
                known[key] = text
            texts.append(text)
        return np.array(texts, dtype=object)


_WHAT = (
    "target",
    "baseline",
    "profiled target",
    "profiled baseline",
    "annual target",
    "annual baseline",
)
# By polarity code (_POL_CODE); the last entry, "", for -1 (not in the register).
_POLARITY_TEXT = np.array(
    [str(Polarity.REDUCE), str(Polarity.INCREASE), str(Polarity.MAINTAIN), ""], dtype=object
)
_CUMULATIVE, _SNAPSHOT = str(Basis.CUMULATIVE), str(Basis.SNAPSHOT)
_PREFIX = np.array([f"{q} " for q in QUARTERS], dtype=object)
_YTD_PREFIX = np.array([f"{q} YTD " for q in QUARTERS], dtype=object)


def _endings(tolerance: str) -> list[str]:
    """The seven explanation endings (by kind of judgement) for one tolerance text."""
    rule = f"amber tolerance {tolerance}" if tolerance else "no amber band"
    keep = f"; tolerance {tolerance or 0} -> "
    return [
        "on target -> Green",
        " better -> Green",
        f" worse; {rule} -> Amber",
        f" worse; {rule} -> Red",
        f"on baseline{keep}Green",
        f" from baseline{keep}Green",
        f" from baseline{keep}Red",
    ]


def _references(
    polarity: IntArray,
    baseline: FloatArray,
    has_baseline: BoolArray,
    target: FloatArray,
    has_target: BoolArray,
    absolute: BoolArray,
    band_pct: BoolArray,
) -> tuple[FloatArray, IntArray]:
    """The annual figure each measure is judged against, and why it may be missing.

    Maintain: the baseline (none without one, or with a 0 baseline and a % tolerance).
    Reduce / Increase: the target (Absolute) or baseline * (1 + target / 100) (% change),
    none without a target, or for % change without a baseline or with a 0 baseline.
    """
    maintain = polarity == 2
    with np.errstate(invalid="ignore", over="ignore"):
        changed = baseline * (1 + target / 100)
    blocker = np.select(
        [
            maintain & ~has_baseline,
            maintain & (baseline == 0) & band_pct,
            maintain,
            ~has_target,
            absolute,
            ~has_baseline,
            baseline == 0,
        ],
        [_NO_BASELINE, _ZERO_BASELINE, _OK, _NO_TARGET, _OK, _NO_BASELINE, _ZERO_BASELINE],
        _OK,
    ).astype(np.int64)
    reference = np.where(maintain, baseline, np.where(absolute, target, changed))
    reference[blocker != _OK] = np.nan
    return reference, blocker


def _blocked_text(maintain: bool, blocker: int) -> str:
    if blocker == _NO_BASELINE:
        what = "Maintain rule" if maintain else "% change target"
        return f"no baseline yet, so the {what} cannot be applied"
    if blocker == _ZERO_BASELINE:
        what = "% tolerance" if maintain else "% change target"
        return f"the baseline is 0, so the {what} cannot be applied"
    return "no target is set"


# Why a value could not be judged, by [blocker, is Maintain].
_BLOCKED_TEXT = np.array(
    [[_blocked_text(maintain, b) for maintain in (False, True)] for b in range(4)], dtype=object
)


def _column(register: Register, label: str) -> str:
    """The Measures column letter of `label`: where the template has it, else layout's."""
    return register.columns.get(label) or column_name(layout.MEASURES_COLUMNS.index(label))


def _issues(register: Register, blocked_with_value: set[int], blockers: IntArray) -> list[Issue]:
    """One warning per measure whose values could not be judged."""
    file = Path(register.path).name if register.path else ""
    baseline, target = _column(register, "Baseline"), _column(register, "Target")
    issues: list[Issue] = []
    for i in sorted(blocked_with_value):
        m = register.measures[i]
        blocker = int(blockers[i])
        letter = target if blocker == _NO_TARGET else baseline
        cell = f"{letter}{m.row}" if m.row else ""
        if blocker == _NO_BASELINE:
            code = Code.BASELINE_MISSING
            message = f"measure {m.measure_id} has values but no baseline, so they show No data"
        elif blocker == _ZERO_BASELINE:
            code = Code.BASELINE_ZERO
            message = (
                f"measure {m.measure_id} has a baseline of 0, so a % rule cannot be applied "
                "and its values show No data"
            )
        else:
            code = Code.TARGET_MISSING
            message = f"measure {m.measure_id} has values but no target, so they show No data"
        issues.append(
            Issue.of(
                code,
                message,
                file=file,
                sheet=layout.MEASURES_SHEET,
                cell=cell,
                value="" if m.baseline is None else format_number(m.baseline),
                measure_id=m.measure_id,
            )
        )
    return issues


def quarter_targets(register: Register) -> dict[str, tuple[float, float, float, float] | None]:
    """The figure each quarter's value of each measure is compared with, as `apply_rag`
    compares it (its Target column).

    Args:
        register: the measures and how each is judged.

    Returns:
        Measure ID -> (Q1, Q2, Q3, Q4): for Cumulative measures the annual target (the
        baseline for Maintain) times the profile share due by the end of the quarter, for
        Snapshot measures the target itself in every quarter; None when the measure
        cannot be judged (no target, or a % change target or Maintain rule without a
        usable baseline).

    Example:
        >>> quarter_targets(register)["1.1"]  # doctest: +SKIP
        (123.5, 247.0, 370.5, 494.0)
    """
    targets = _Rules(register.measures).targets.tolist()
    return {
        m.measure_id: None if math.isnan(row[3]) else (row[0], row[1], row[2], row[3])
        for m, row in zip(register.measures, targets, strict=False)
    }


def apply_rag(frame: pd.DataFrame, register: Register) -> tuple[pd.DataFrame, Report]:
    """Judge every measure and quarter of the master frame against the register.

    Args:
        frame: the master frame (``columns.MASTER``); it is not changed.
        register: the measures and how each is judged.

    Returns:
        A new frame with ``columns.RAG`` added (polarity, basis, target, status,
        is_override, explanation, direction), and a Report with one warning per measure
        whose values could not be judged (``baseline-missing``, ``baseline-zero``,
        ``target-missing``). Measures not in the register get no status and no issue.

    Example:
        >>> rated, report = apply_rag(master, register)  # doctest: +SKIP
        >>> rated.loc[0, "explanation"]  # doctest: +SKIP
        'Q1 YTD 130 vs profiled target 123.5: 5.26% worse; amber tolerance 5% -> Red'
    """
    import pandas as pd

    measures = register.measures
    unknown = len(measures)
    ids = pd.Index([m.measure_id for m in measures], dtype=object)
    midx: IntArray = ids.get_indexer(pd.Index(frame[col.MEASURE_ID].astype(object))).astype(
        np.int64
    )
    midx[midx < 0] = unknown
    qidx: IntArray = (
        pd.Index(QUARTERS, dtype=object)
        .get_indexer(pd.Index(frame[col.QUARTER].astype(object)))
        .astype(np.int64)
    )
    due: BoolArray = frame[col.DUE].fillna(False).to_numpy(dtype=bool)
    value: FloatArray = pd.to_numeric(frame[col.VALUE], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    asked: BoolArray | None = None
    if col.OVERRIDE in frame.columns:
        overrides = frame[col.OVERRIDE]
        asked = (overrides.notna() & (overrides != "")).to_numpy(dtype=bool)

    def texts(name: str, rows: IntArray) -> ObjArray:
        """The text of one column at some rows ('' for missing values)."""
        if name not in frame.columns or len(rows) == 0:
            return np.full(len(rows), "", dtype=object)
        values = frame[name].iloc[rows].to_numpy(dtype=object, na_value="")
        return np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)

    added, report = _rate(register, midx, qidx, due, value, asked, texts)
    return frame.assign(**_as_series(added, frame.index)), report


def rate_columns(
    columns: Mapping[str, Sequence[Any]], register: Register
) -> tuple[dict[str, list[Any]], Report]:
    """`apply_rag` for the master frame's columns as lists, without pandas.

    Args:
        columns: the columns of ``columns.MASTER`` as lists of equal length, as
            `merge.MergeResult.columns` holds them (measure IDs and quarters as text,
            `due` as flags, `value` as floats, NaN or None when there is no number).
        register: the measures and how each is judged.

    Returns:
        The ``columns.RAG`` columns as lists (``rated_frame`` makes a frame of them) and
        the Report, exactly as `apply_rag` gives them.

    Example:
        >>> rag_columns, report = rate_columns(merged.columns, register)  # doctest: +SKIP
    """
    position = {m.measure_id: i for i, m in enumerate(register.measures)}
    midx = _indices(position, columns[col.MEASURE_ID], len(register.measures))
    qidx = _indices(QUARTER_INDEX, columns[col.QUARTER], -1)
    dues = columns[col.DUE]
    due: BoolArray = (
        np.array(dues, dtype=bool)
        if all(type(v) is bool for v in dues)
        else np.array([not col.is_missing(v) and bool(v) for v in dues], dtype=bool)
    )
    value = _floats(columns[col.VALUE])
    asked: BoolArray | None = None
    if col.OVERRIDE in columns:
        asked = np.array(
            [v != "" if type(v) is str else not col.is_missing(v) for v in columns[col.OVERRIDE]],
            dtype=bool,
        )

    def texts(name: str, rows: IntArray) -> ObjArray:
        """The text of one column at some rows ('' for missing values)."""
        if name not in columns or len(rows) == 0:
            return np.full(len(rows), "", dtype=object)
        values = columns[name]
        picked = [values[i] for i in rows.tolist()]
        return np.array(
            ["" if col.is_missing(v) else v if isinstance(v, str) else str(v) for v in picked],
            dtype=object,
        )

    added, report = _rate(register, midx, qidx, due, value, asked, texts)
    return {name: array.tolist() for name, array in added.items()}, report


def rated_frame(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The rated frame of ``columns.MASTER`` + ``columns.RAG`` as lists: what `apply_rag`
    gives for the frame of the MASTER columns, with the same values and dtypes (see
    `merge.master_frame` and the RAG columns' types in the module's notes)."""
    from rag_workbook.merge import master_frame

    frame = master_frame({name: columns[name] for name in col.MASTER})
    kinds = {column.name: column.kind for column in col.COLUMNS}  # numbers float, flags bool
    dtypes = {col.Kind.NUMBER: np.float64, col.Kind.FLAG: bool}
    added: dict[str, npt.NDArray[Any]] = {
        name: np.array(columns[name], dtype=dtypes.get(kinds[name], object)) for name in col.RAG
    }
    return frame.assign(**_as_series(added, frame.index))


def _as_series(added: Mapping[str, npt.NDArray[Any]], index: pd.Index) -> dict[str, Any]:
    """The RAG columns typed for `DataFrame.assign`: `target` float64, `is_override` bool,
    `status` an ordered categorical (Green < Amber < Red < No data, the legend's order),
    `polarity`, `basis` and `direction` categoricals, `explanation` the "string" dtype;
    a quarter not yet due has a missing status (NaN) and explanation (pd.NA)."""
    import pandas as pd

    from rag_workbook.merge import text_series

    kinds: dict[str, tuple[list[str], bool]] = {
        col.STATUS: ([str(s) for s in Status], True),
        col.POLARITY: ([str(p) for p in Polarity], False),
        col.BASIS: ([str(b) for b in Basis], False),
        col.DIRECTION: ([str(d) for d in Direction], False),
    }
    typed: dict[str, Any] = {}
    for name, values in added.items():
        if name in kinds:
            categories, ordered = kinds[name]
            known = [v if v in categories else None for v in values.tolist()]
            typed[name] = pd.Series(
                pd.Categorical(known, categories=categories, ordered=ordered), index=index
            )
        elif values.dtype == object:
            typed[name] = text_series(values.tolist()).set_axis(index)
        else:
            typed[name] = values
    return typed


def _indices(table: Mapping[Any, int], keys: Sequence[Any], missing: int) -> IntArray:
    """Each key's index in `table`, `missing` for a key not in it (or unhashable)."""
    try:
        found = [table.get(key, missing) for key in keys]
    except TypeError:  # an unhashable cell: look the keys up one by one
        found = [_index(table, key, missing) for key in keys]
    return np.array(found, dtype=np.int64)


def _index(table: Mapping[Any, int], key: object, missing: int) -> int:
    try:
        return table.get(key, missing)
    except TypeError:
        return missing


def _floats(values: Sequence[Any]) -> FloatArray:
    """Numbers as float64, anything else (None, text, flags) as NaN."""
    if all(type(v) is float for v in values):
        return np.array(values, dtype=np.float64)
    return np.array([_float(v) for v in values], dtype=np.float64)


def _float(value: object) -> float:
    if col.is_missing(value) or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


def _factorize(values: npt.NDArray[Any]) -> tuple[IntArray, list[Any]]:
    """Codes and distinct values in order of first appearance: pandas.factorize, for
    values without NaN."""
    code: dict[Any, int] = {}
    codes = np.fromiter(
        (code.setdefault(v, len(code)) for v in values.tolist()), dtype=np.int64, count=len(values)
    )
    return codes, list(code)


def _rate(
    register: Register,
    midx: IntArray,
    qidx: IntArray,
    due_given: BoolArray,
    value: FloatArray,
    asked_mask: BoolArray | None,
    texts: Callable[[str, IntArray], ObjArray],
) -> tuple[dict[str, npt.NDArray[Any]], Report]:
    """The RAG columns as arrays, from each row's measure index (len(measures) when not in
    the register), quarter index (-1 when none), due flag and value (NaN when none);
    `asked_mask` marks the rows with an override (None: no override column)."""
    rules = _Rules(register.measures)
    known: BoolArray = (midx != len(register.measures)) & (qidx >= 0)
    qsafe = np.where(qidx >= 0, qidx, 3)
    due: BoolArray = due_given & known
    has_value = ~np.isnan(value)
    judgement = _judge(rules, midx, qsafe, known, due & has_value, value)
    code = judgement.code
    code[due & ~judgement.judged] = _NO_DATA
    explanation, blocked_measures = _explain(
        rules, midx, qsafe, due, has_value, value, judgement, texts
    )
    is_override = np.zeros(len(midx), dtype=bool)
    if asked_mask is not None:
        asked = np.flatnonzero(asked_mask & due)
        is_override = _apply_overrides(asked, qsafe, texts, code, explanation)
    direction = _direction(rules, midx, qidx, known, due & has_value, value, judgement.share)
    forecast, forecast_status, forecast_text = _forecast(rules, midx, qidx, known, due, value)
    added: dict[str, npt.NDArray[Any]] = {
        col.POLARITY: rules.polarity_text[midx],
        col.BASIS: rules.basis_text[midx],
        col.TARGET: judgement.target,
        col.STATUS: _STATUS_TEXT[code],
        col.IS_OVERRIDE: is_override,
        col.EXPLANATION: explanation,
        col.DIRECTION: direction,
        col.YEAR_END_FORECAST: forecast,
        col.FORECAST_STATUS: forecast_status,
        col.FORECAST_EXPLANATION: forecast_text,
    }
    return added, Report.of(_issues(register, blocked_measures, rules.blocker))


def _forecast(
    rules: _Rules,
    midx: IntArray,
    qidx: IntArray,
    known: BoolArray,
    due: BoolArray,
    value: FloatArray,
) -> tuple[FloatArray, ObjArray, ObjArray]:
    """The year-end forecast on the reporting quarter's row of each measure with a value
    there: for Cumulative the year-to-date value projected through the measure's profile
    (value / share due by the quarter x share due by Q4), for Snapshot the value itself;
    rated against the annual target by the same rules and tolerance."""
    size = len(midx)
    forecast = np.full(size, np.nan)
    status = np.full(size, "", dtype=object)
    text = np.full(size, "", dtype=object)
    due_q = qidx[due & known]
    if len(due_q) == 0:
        return forecast, status, text
    reporting = int(due_q.max())
    rows = np.flatnonzero(
        known & due & (qidx == reporting) & ~np.isnan(value) & (rules.blocker[midx] == _OK)
    )
    if len(rows) == 0:
        return forecast, status, text
    m = midx[rows]
    cumulative = rules.cumulative[m]
    share_now = rules.profile[m, reporting]
    with np.errstate(divide="ignore", invalid="ignore"):
        projected = np.where(
            cumulative & (share_now > 0), value[rows] / share_now * rules.profile[m, 3], value[rows]
        )
    usable = ~(cumulative & (share_now <= 0)) & np.isfinite(projected)
    rows, m, projected, cumulative, share_now = (
        rows[usable], m[usable], projected[usable], cumulative[usable], share_now[usable]
    )  # fmt: skip
    forecast[rows] = projected
    q4 = np.full(size, 3, dtype=np.int64)
    everything = np.zeros(size, dtype=bool)
    everything[rows] = True
    judged = _judge(rules, midx, q4, known, everything, forecast)
    status[rows] = _STATUS_TEXT[judged.code[rows]]
    rated = _judged_text(rows, rules, midx, q4, forecast, judged.worse, judged.on, judged.code)
    quarter = QUARTERS[reporting]
    for i, row in enumerate(rows.tolist()):
        unit = str(rules.unit[m[i]])
        now = format_number(float(value[row])) + unit
        rest = str(rated[i]).split(" ", 2 if rated[i].startswith("Q4 YTD ") else 1)[-1]
        if cumulative[i]:
            how = (
                f"forecast from {quarter} YTD {now}, {format_number(share_now[i] * 100)}% of "
                f"the year's target due by {quarter} (profile)"
            )
        else:
            how = f"forecast: the latest value, {quarter} {now}, held to year end"
        text[row] = f"{how}: year end {rest}"
    return forecast, status, text


class _Judgement(NamedTuple):
    """The rule's outcome per row: the (profiled) target, the share of the year's target
    due by the quarter, how much worse than the target (or how far from it, for
    Maintain), whether on target, whether the rule judged the row, and its status code."""

    target: FloatArray
    share: FloatArray
    worse: FloatArray
    on: BoolArray
    judged: BoolArray
    code: IntArray


def _judge(
    rules: _Rules,
    midx: IntArray,
    qsafe: IntArray,
    known: BoolArray,
    due_with_value: BoolArray,
    value: FloatArray,
) -> _Judgement:
    """The rules, vectorised: each due value with a target is Green, Amber or Red."""
    polarity = rules.polarity[midx]
    maintain = polarity == 2
    share = rules.share[midx, qsafe]
    target = np.where(known, rules.targets[midx, qsafe], np.nan)
    judged = due_with_value & (rules.blocker[midx] == _OK)
    with np.errstate(invalid="ignore", over="ignore"):
        abs_target = np.abs(target)
        eps = _EPS * np.maximum(1.0, np.maximum(abs_target, np.abs(value)))
        band = np.where(rules.band_pct[midx], rules.band[midx] / 100 * abs_target, rules.band[midx])
        # how much worse than the target (Reduce / Increase) or how far from it (Maintain)
        worse = np.where(
            maintain,
            np.abs(value - target),
            np.where(polarity == 1, target - value, value - target),
        )
        on = np.abs(value - target) <= eps
        green = np.where(maintain, worse <= band + eps, worse <= eps)
        amber = ~maintain & ~green & (worse <= band + eps)
    code = np.full(len(midx), _NONE, dtype=np.int64)
    code[judged] = np.where(green, _GREEN, np.where(amber, _AMBER, _RED))[judged]
    return _Judgement(target, share, worse, on, judged, code)


def _explain(
    rules: _Rules,
    midx: IntArray,
    qsafe: IntArray,
    due: BoolArray,
    has_value: BoolArray,
    value: FloatArray,
    judgement: _Judgement,
    texts: Callable[[str, IntArray], ObjArray],
) -> tuple[ObjArray, set[int]]:
    """Each row's explanation of the rule, and the measures whose values could not be
    judged (no baseline, a zero baseline, no target)."""
    explanation = np.full(len(midx), "", dtype=object)
    rows = np.flatnonzero(judgement.judged)
    if len(rows):
        explanation[rows] = _judged_text(
            rows, rules, midx, qsafe, value, judgement.worse, judgement.on, judgement.code
        )
    no_value = np.flatnonzero(due & ~has_value)
    if len(no_value):
        reasons = texts(col.REASON, no_value)
        reasons[reasons == ""] = "no value given"
        explanation[no_value] = _QUARTER_TEXT[qsafe[no_value]] + " no data: " + reasons
    blocked = np.flatnonzero(due & has_value & (rules.blocker[midx] != _OK))
    if len(blocked):
        which = midx[blocked]
        explanation[blocked] = (
            rules.prefix[which, qsafe[blocked]]
            + _format_many(value[blocked], rules.unit[which])
            + " but "
            + _BLOCKED_TEXT[rules.blocker[which], (rules.polarity[which] == 2).astype(np.int64)]
            + " -> No data"
        )
    return explanation, set(midx[blocked].tolist())


def _apply_overrides(
    asked: IntArray,
    qsafe: IntArray,
    texts: Callable[[str, IntArray], ObjArray],
    code: IntArray,
    explanation: ObjArray,
) -> BoolArray:
    """A lead's override wins only with a reason and a real status; either lack is said
    in the explanation. Changes `code` and `explanation` of the `asked` rows (arrays made
    by `_rate`); returns which rows an override decided."""
    is_override = np.zeros(len(code), dtype=bool)
    words = np.array([w.strip() for w in texts(col.OVERRIDE, asked)], dtype=object)
    reasons = np.array([r.strip() for r in texts(col.OVERRIDE_REASON, asked)], dtype=object)
    wanted = np.array([_STATUS_BY_WORD.get(w.lower()) for w in words], dtype=object)
    valid = np.array([w is not None for w in wanted], dtype=bool)
    applied = valid & (reasons != "")
    bad = asked[~valid & (words != "")]
    explanation[bad] += "; override '" + words[~valid & (words != "")] + "' ignored: not a status"
    unreasoned = valid & (reasons == "")
    explanation[asked[unreasoned]] += (
        "; override " + wanted[unreasoned].astype(str).astype(object) + " ignored: no reason given"
    )
    won = asked[applied]
    if len(won):
        chosen = wanted[applied]
        code[won] = [_STATUS_CODE[x] for x in chosen]
        is_override[won] = True
        explanation[won] = (
            _QUARTER_TEXT[qsafe[won]]
            + " "
            + chosen.astype(str).astype(object)
            + " by lead's override (reason: "
            + reasons[applied]
            + "); rule gave: "
            + explanation[won]
        )
    return is_override


_QUARTER_TEXT = np.array(QUARTERS, dtype=object)


# Kinds of judged explanation, each with its own ending text per measure.
_ON_TARGET, _BETTER, _WORSE_AMBER, _WORSE_RED, _ON_BASE, _NEAR_BASE, _FAR_BASE = range(7)


def _judged_text(
    rows: IntArray,
    rules: _Rules,
    midx: IntArray,
    qsafe: IntArray,
    value: FloatArray,
    worse: FloatArray,
    on: BoolArray,
    code: IntArray,
) -> ObjArray:
    """'Q3 YTD 118 vs profiled target 100: 18% worse; amber tolerance 5% -> Red' per row.

    Every row is prefix + value + middle + amount + ending; all but the two numbers come
    from small per-measure tables. The text depends only on (measure, quarter, kind, value),
    so each distinct combination is written once and shared.
    """
    m = midx[rows]
    q = qsafe[rows]
    c = code[rows]
    on_row = on[rows]
    maintain = rules.polarity[m] == 2
    kind = np.where(
        maintain,
        np.where(on_row, _ON_BASE, np.where(c == _GREEN, _NEAR_BASE, _FAR_BASE)),
        np.where(
            c == _GREEN,
            np.where(on_row, _ON_TARGET, _BETTER),
            np.where(c == _AMBER, _WORSE_AMBER, _WORSE_RED),
        ),
    )
    combo = ((m * 4 + q) * 8 + kind).astype(np.float64) + 1j * value[rows]
    inverse, uniques = _factorize(combo)
    first = np.zeros(len(uniques), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(rows))[::-1]  # first row of each combination
    m, q, kind, one = m[first], q[first], kind[first], rows[first]

    reference = np.abs(rules.reference[m] * np.where(rules.cumulative[m], rules.profile[m, q], 1.0))
    amount = np.abs(worse[one])
    as_pct = rules.band_pct[m] & (reference > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(as_pct, np.round(amount / reference * 100, 2), amount)
    amount_text = _format_many(relative, np.where(as_pct, "%", rules.points[m]).astype(object))
    amount_text[(kind == _ON_TARGET) | (kind == _ON_BASE)] = ""
    # A value just beyond the tolerance must not read "5% worse ... -> Red".
    shown = np.where(as_pct, relative, np.round(amount, 2))
    blurred = ((kind == _WORSE_RED) | (kind == _FAR_BASE)) & (shown <= rules.band[m])
    amount_text[blurred] = "more than " + rules.tolerance_text[m[blurred]]
    parts = zip(
        rules.prefix[m, q].tolist(),
        _format_many(value[one], rules.unit[m]).tolist(),
        rules.middle[m, q].tolist(),
        amount_text.tolist(),
        rules.ending[m, kind].tolist(),
        strict=True,
    )
    texts: ObjArray = np.array(list(map("".join, parts)), dtype=object)
    return texts[inverse]


def _direction(
    rules: _Rules,
    midx: IntArray,
    qidx: IntArray,
    known: BoolArray,
    usable: BoolArray,
    value: FloatArray,
    share: FloatArray,
) -> ObjArray:
    """better / same / worse against the previous quarter of the same measure."""
    n = len(midx)
    out = np.full(n, "", dtype=object)
    if not usable.any():
        return out
    polarity = rules.polarity[midx]
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = np.where(share > 0, value / share, np.nan)
        score = np.where(
            polarity == 0,
            -annual,
            np.where(polarity == 1, annual, -np.abs(annual - rules.baseline[midx])),
        )
    usable = usable & np.isfinite(score)
    # Pair the k-th row of (measure, quarter) with the k-th row of (measure, quarter - 1),
    # so that repeated measures (several areas in one frame) pair up in row order; ranks
    # count every row of the measure, so a missing value does not shift the pairing.
    candidates = np.flatnonzero(known)
    key = midx[candidates] * 4 + qidx[candidates]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.searchsorted(sorted_key, sorted_key, side="left")
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - first
    wanted = np.searchsorted(sorted_key, key - 1, side="left") + rank
    inside = wanted < len(key)
    found = inside & (qidx[candidates] > 0)
    found[inside] &= sorted_key[wanted[inside]] == key[inside] - 1
    rows = candidates[found]
    prev = candidates[order[wanted[found]]]
    both = usable[rows] & usable[prev]
    rows, prev = rows[both], prev[both]
    before = score[prev]
    now = score[rows]
    scale = _EPS * np.maximum(1.0, np.maximum(np.abs(before), np.abs(now)))
    change = now - before
    out[rows] = _DIRECTION_TEXT[np.where(change > scale, 1, np.where(change < -scale, 3, 2))]
    return out
