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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rag_workbook import columns as col
from rag_workbook import layout
from rag_workbook.model import (
    QUARTERS,
    Basis,
    Direction,
    Measure,
    Polarity,
    Register,
    Severity,
    Status,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.report import Issue, Report

__all__ = ["apply_rag", "format_number"]

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
    rounded = np.round(np.nan_to_num(numbers, nan=0.0, posinf=0.0, neginf=0.0), 2)
    uniques, inverse = np.unique(rounded, return_inverse=True)
    texts = np.array([f"{u:,.2f}".rstrip("0").rstrip(".") for u in uniques.tolist()], dtype=object)
    texts[texts == "-0"] = "0"
    out: ObjArray = texts[inverse.reshape(-1)]
    if isinstance(suffix, str) and not suffix:
        return out
    joined: ObjArray = out + suffix
    return joined


class _Rules:
    """The register as per-measure arrays; the last slot stands for 'not in the register'."""

    def __init__(self, measures: Sequence[Measure]) -> None:
        size = len(measures) + 1
        self.polarity = np.full(size, -1, dtype=np.int64)
        self.cumulative = np.zeros(size, dtype=bool)
        self.profile = np.tile(np.array([0.25, 0.5, 0.75, 1.0]), (size, 1))
        self.reference = np.full(size, np.nan)  # annual target, or baseline for Maintain
        self.baseline = np.full(size, np.nan)
        self.blocker = np.zeros(size, dtype=np.int64)
        self.band = np.zeros(size)  # tolerance value
        self.band_pct = np.ones(size, dtype=bool)
        self.unit_pct = np.zeros(size, dtype=bool)
        for i, m in enumerate(measures):
            self.polarity[i] = _POL_CODE[m.polarity]
            self.cumulative[i] = m.basis is Basis.CUMULATIVE
            if m.profile is not None:
                self.profile[i] = m.profile
            self.baseline[i] = np.nan if m.baseline is None else m.baseline
            self.band[i] = m.tolerance or 0.0
            self.band_pct[i] = m.tolerance_form is ToleranceForm.PERCENT
            self.unit_pct[i] = m.unit.strip() == "%"
            self.reference[i], self.blocker[i] = _reference(m)

        self.polarity_text = np.array([str(m.polarity) for m in measures] + [""], dtype=object)
        self.basis_text = np.array([str(m.basis) for m in measures] + [""], dtype=object)
        # Text tables: prefix and middle per (measure, quarter), ending per (measure, kind).
        self.unit = np.where(self.unit_pct, "%", "").astype(object)
        self.points = np.where(self.unit_pct, " points", "").astype(object)
        self.prefix = np.empty((size, 4), dtype=object)
        self.middle = np.empty((size, 4), dtype=object)
        self.ending = np.full((size, 7), "", dtype=object)
        self.tolerance_text = np.full(size, "", dtype=object)
        for i in range(size):
            for q, quarter in enumerate(QUARTERS):
                self.prefix[i, q] = f"{quarter} YTD " if self.cumulative[i] else f"{quarter} "
                self.middle[i, q] = self._middle(i, q)
            tolerance = self.tolerance_text[i] = self._tolerance_text(i)
            rule = f"amber tolerance {tolerance}" if tolerance else "no amber band"
            keep = f"; tolerance {tolerance or 0} -> "
            self.ending[i] = [
                "on target -> Green",
                " better -> Green",
                f" worse; {rule} -> Amber",
                f" worse; {rule} -> Red",
                f"on baseline{keep}Green",
                f" from baseline{keep}Green",
                f" from baseline{keep}Red",
            ]

    def _middle(self, i: int, q: int) -> str:
        """' vs profiled target 100: ' for measure i in quarter q."""
        what = "baseline" if self.polarity[i] == 2 else "target"
        share = 1.0
        if self.cumulative[i]:
            share = float(self.profile[i, q])
            what = ("annual " if share >= 1.0 else "profiled ") + what
        reference = float(self.reference[i]) * share
        if np.isnan(reference):
            return ""
        return f" vs {what} {format_number(reference)}{self.unit[i]}: "

    def _tolerance_text(self, i: int) -> str:
        if self.band[i] == 0:
            return ""
        if self.band_pct[i]:
            return f"{format_number(self.band[i])}%"
        return f"{format_number(self.band[i])}{self.points[i]}"


def _reference(m: Measure) -> tuple[float, int]:
    """The annual figure a measure is judged against, and why it may be missing."""
    if m.polarity is Polarity.MAINTAIN:
        if m.baseline is None:
            return np.nan, _NO_BASELINE
        if m.baseline == 0 and m.tolerance_form is ToleranceForm.PERCENT:
            return np.nan, _ZERO_BASELINE
        return m.baseline, _OK
    if m.target is None:
        return np.nan, _NO_TARGET
    if m.target_form is TargetForm.ABSOLUTE:
        return m.target, _OK
    if m.baseline is None:
        return np.nan, _NO_BASELINE
    if m.baseline == 0:
        return np.nan, _ZERO_BASELINE
    return m.baseline * (1 + m.target / 100), _OK


def _text_column(frame: pd.DataFrame, name: str) -> ObjArray:
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    values = frame[name].to_numpy(dtype=object, na_value="")
    return np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)


def _blocked_text(m: Measure, blocker: int) -> str:
    if blocker == _NO_BASELINE:
        what = "% change target" if m.polarity is not Polarity.MAINTAIN else "Maintain rule"
        return f"no baseline yet, so the {what} cannot be applied"
    if blocker == _ZERO_BASELINE:
        what = "% change target" if m.polarity is not Polarity.MAINTAIN else "% tolerance"
        return f"the baseline is 0, so the {what} cannot be applied"
    return "no target is set"


def _issues(register: Register, blocked_with_value: set[int]) -> list[Issue]:
    """One warning per measure whose values could not be judged."""
    file = Path(register.path).name if register.path else ""
    baseline_col = layout.MEASURES_COLUMNS.index("Baseline")
    target_col = layout.MEASURES_COLUMNS.index("Target")
    issues: list[Issue] = []
    for i in sorted(blocked_with_value):
        m = register.measures[i]
        blocker = _reference(m)[1]
        letter = chr(65 + (target_col if blocker == _NO_TARGET else baseline_col))
        cell = f"{letter}{m.row}" if m.row else ""
        if blocker == _NO_BASELINE:
            code, fix = "baseline-missing", "type the baseline in the Baseline column once known"
            message = f"measure {m.measure_id} has values but no baseline, so they show No data"
        elif blocker == _ZERO_BASELINE:
            code = "baseline-zero"
            fix = "give an Absolute target (or an Absolute tolerance), or correct the baseline"
            message = (
                f"measure {m.measure_id} has a baseline of 0, so a % rule cannot be applied "
                "and its values show No data"
            )
        else:
            code, fix = "target-missing", "type the annual target in the Target column"
            message = f"measure {m.measure_id} has values but no target, so they show No data"
        issues.append(
            Issue(
                code=code,
                severity=Severity.WARNING,
                message=message,
                fix=fix,
                file=file,
                sheet=layout.MEASURES_SHEET,
                cell=cell,
                value="" if m.baseline is None else format_number(m.baseline),
                measure_id=m.measure_id,
            )
        )
    return issues


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
    n = len(frame)
    measures = register.measures
    rules = _Rules(measures)
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
    known: BoolArray = (midx != unknown) & (qidx >= 0)
    qsafe = np.where(qidx >= 0, qidx, 3)

    due: BoolArray = frame[col.DUE].fillna(False).to_numpy(dtype=bool) & known
    value: FloatArray = pd.to_numeric(frame[col.VALUE], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    has_value = ~np.isnan(value)

    polarity = rules.polarity[midx]
    maintain = polarity == 2
    share = np.where(rules.cumulative[midx], rules.profile[midx, qsafe], 1.0)
    target = np.where(known, rules.reference[midx] * share, np.nan)
    blocker = rules.blocker[midx]

    # --- the rules, vectorised -------------------------------------------------------
    judged = due & has_value & (blocker == _OK)
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
    code = np.full(n, _NONE, dtype=np.int64)
    code[judged] = np.where(green, _GREEN, np.where(amber, _AMBER, _RED))[judged]
    code[due & ~judged] = _NO_DATA

    # --- explanations of the rule ----------------------------------------------------
    explanation = np.full(n, "", dtype=object)
    rows = np.flatnonzero(judged)
    if len(rows):
        explanation[rows] = _judged_text(rows, rules, midx, qsafe, value, worse, on, code)
    no_value = np.flatnonzero(due & ~has_value)
    if len(no_value):
        reasons = _texts(frame, col.REASON, no_value)
        reasons[reasons == ""] = "no value given"
        explanation[no_value] = _QUARTER_TEXT[qsafe[no_value]] + " no data: " + reasons
    blocked = np.flatnonzero(due & has_value & (blocker != _OK))
    blocked_measures = set(midx[blocked].tolist())
    if len(blocked):
        why = np.array(
            [_blocked_text(measures[i], int(rules.blocker[i])) for i in range(unknown)] + [""],
            dtype=object,
        )
        explanation[blocked] = (
            rules.prefix[midx[blocked], qsafe[blocked]]
            + _format_many(value[blocked], rules.unit[midx[blocked]])
            + " but "
            + why[midx[blocked]]
            + " -> No data"
        )

    # --- overrides: only with a reason ----------------------------------------------
    is_override = np.zeros(n, dtype=bool)
    if col.OVERRIDE in frame.columns:
        overrides = frame[col.OVERRIDE]
        asked_mask = (overrides.notna() & (overrides != "")).to_numpy(dtype=bool)
        asked = np.flatnonzero(asked_mask & due)
        words = np.array([w.strip() for w in _texts(frame, col.OVERRIDE, asked)], dtype=object)
        reasons = np.array(
            [r.strip() for r in _texts(frame, col.OVERRIDE_REASON, asked)], dtype=object
        )
        wanted = np.array([_STATUS_BY_WORD.get(w.lower()) for w in words], dtype=object)
        valid = np.array([w is not None for w in wanted], dtype=bool)
        applied = valid & (reasons != "")
        bad = asked[~valid & (words != "")]
        explanation[bad] += (
            "; override '" + words[~valid & (words != "")] + "' ignored: not a status"
        )
        unreasoned = valid & (reasons == "")
        explanation[asked[unreasoned]] += (
            "; override "
            + wanted[unreasoned].astype(str).astype(object)
            + " ignored: no reason given"
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

    direction = _direction(rules, midx, qidx, known, due & has_value, value, share)

    # Object columns given as Series skip pandas' string inference (~20 ms a column at
    # 152,000 rows); the values are all str, so they compare and write like "str" columns.
    def text(values: ObjArray) -> pd.Series:
        return pd.Series(values, index=frame.index, dtype=object, copy=False)

    added: dict[str, Any] = {
        col.POLARITY: text(rules.polarity_text[midx]),
        col.BASIS: text(rules.basis_text[midx]),
        col.TARGET: target,
        col.STATUS: text(_STATUS_TEXT[code]),
        col.IS_OVERRIDE: is_override,
        col.EXPLANATION: text(explanation),
        col.DIRECTION: text(direction),
    }
    rated = frame.assign(**added)
    return rated, Report.of(_issues(register, blocked_measures))


_QUARTER_TEXT = np.array(QUARTERS, dtype=object)


def _texts(frame: pd.DataFrame, name: str, rows: IntArray) -> ObjArray:
    """The text of one column at some rows ('' for missing values)."""
    if name not in frame.columns or len(rows) == 0:
        return np.full(len(rows), "", dtype=object)
    values = frame[name].iloc[rows].to_numpy(dtype=object, na_value="")
    return np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)


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
    inverse, uniques = pd.factorize(combo)
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
