"""Benchmark the merge against the speed bars of SPEC §8 (issue 6).

Generates N realistic returns once (cached in benchmarks/_work/), then times on the same
files, in one run:

  (a) the baseline an analyst would write: pandas.read_excel(engine="openpyxl") per file,
      then pd.concat;
  (b) `rag-workbook merge DIR --template T --out F` end to end as a subprocess (read,
      check, merge, RAG, write the dashboard; interpreter start-up included), with
      --jobs 1 and with --jobs J;
  (c) our reading step alone, in process (merge.read_returns);
  and bare python-calamine `CalamineWorkbook.from_path(f).get_sheet_by_index(0).to_python()`
  per file, the floor of what reading can cost.

It prints medians, per-file milliseconds, (a)/(b), (c)/calamine, the child's peak memory
(ru_maxrss from wait4), and how long `rag-workbook --help` takes and what it imports.

The returns: the 19 Stockton measures (6 themes) copied under new themes until there are N
themes, one return per theme, issued by the project's own forms.write_return and filled
in several writers' flavours: written filled by xlsxwriter (as issued), issued blank then
filled and re-saved by openpyxl (some numbers typed as text, "1,605"), and a capped handful
converted by LibreOffice (`soffice --headless --convert-to xlsx`) when it is installed.

Run from the repository root:

    python benchmarks/bench_merge.py                     # N = 60 and N = 2000
    python benchmarks/bench_merge.py --n 2000 --repeat 5 --skip-baseline
    python benchmarks/bench_merge.py --crossover         # where --jobs 2 starts to pay
    python benchmarks/bench_merge.py --openpyxl-saved --n 2000   # SPEC's 10x, issue 16

--openpyxl-saved times another corpus: the template and every return saved by openpyxl
(no xlsxwriter or LibreOffice files), the case where the register's fast path used to
fall back to openpyxl. Its (a) pandas.read_excel over the returns and (b) the merge run
in turns, `--repeat` times, and the ratio is taken within each turn.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from rag_workbook import layout
from rag_workbook.model import Measure, Register, RowNotes, Settings, Status

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
# bump to regenerate cached returns after changing the generator or the return form (5: the
# form's table moved two rows down for Approved By and Approved On, issue 18; the baseline
# reads at layout.TABLE_HEADER_ROW, and a corpus of the old form gave it 2,000 frames of
# differing columns to concatenate: 122 s instead of 16)
GENERATOR_VERSION = "5"
LIBREOFFICE_SHARE = 0.05  # of the returns, converted by LibreOffice ...
LIBREOFFICE_CAP = 24  # ... but at most this many (about 0.3 s a file)
RAG_WORKBOOK = Path(sys.executable).with_name("rag-workbook")


# --------------------------------------------------------------------------- generation


def _stockton() -> ModuleType:
    """scripts/build_stockton.py, for its measures, values and comments."""
    spec = importlib.util.spec_from_file_location(
        "build_stockton", ROOT / "scripts" / "build_stockton.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scaled_register(n: int) -> tuple[Register, dict[str, tuple[Any, ...]]]:
    """A register of `n` themes: the Stockton themes copied as partnerships P0001, P0002, ...

    Returns the register and, per new measure ID, the Stockton row it copies (for values).
    """
    bs = _stockton()
    base: Register = bs.build_register()
    rows = {str(row[1]): row for row in bs.MEASURES}
    themes = base.themes
    measures: list[Measure] = []
    source: dict[str, tuple[Any, ...]] = {}
    for t in range(n):
        copy, which = divmod(t, len(themes))
        stockton_theme = themes[which]
        theme = f"{stockton_theme} P{copy + 1:04d}"
        for k, m in enumerate((m for m in base.measures if m.theme == stockton_theme), start=1):
            mid = f"{t + 1}.{k}"
            measures.append(
                replace(
                    m,
                    theme=theme,
                    measure_id=mid,
                    lead=f"{m.lead} P{copy + 1:04d}",
                    lead_email=f"p{copy + 1:04d}.{m.lead_email}",
                )
            )
            source[mid] = rows[m.measure_id]
    settings = Settings(
        partnership=f"National collection ({n} returns)",
        title="Community Safety Plan – Performance Dashboard",
        year="2011/12",
        meeting="National Community Safety Board",
        meeting_date="14 February 2012",
        agenda_item="11",
        current_quarter="Q3",
    )
    return Register(settings=settings, measures=tuple(measures)), source


@dataclass(frozen=True)
class _Job:
    index: int
    theme: str
    flavour: str  # "xlsxwriter", "openpyxl" or "libreoffice"
    path: str


def _flavour(index: int, all_openpyxl: bool = False) -> str:
    # Six in ten written by xlsxwriter as issued, the rest re-saved by openpyxl; a few of
    # those become LibreOffice saves afterwards (see _convert_with_libreoffice).
    if all_openpyxl:
        return "openpyxl"
    return "xlsxwriter" if index % 10 < 6 else "openpyxl"


def _resave_with_openpyxl(path: Path) -> None:
    """Load and save a workbook with openpyxl, as a user's script or another app would."""
    import openpyxl

    openpyxl.load_workbook(path).save(path)


def _fill(
    register: Register, source: dict[str, tuple[Any, ...]], job: _Job
) -> tuple[dict[tuple[str, str], float | str], dict[str, RowNotes], str]:
    """Values, notes and submitted date of one return: Stockton's, perturbed per theme."""
    rng = random.Random(job.index)
    scale = rng.uniform(0.85, 1.15)
    values: dict[tuple[str, str], float | str] = {}
    notes: dict[str, RowNotes] = {}
    for m in register.measures:
        if m.theme != job.theme:
            continue
        row = source[m.measure_id]
        for quarter, value in zip(("Q1", "Q2", "Q3"), row[11], strict=True):
            if isinstance(value, str):
                values[(m.measure_id, quarter)] = value
            elif isinstance(value, int):
                values[(m.measure_id, quarter)] = float(round(value * scale))
            else:
                values[(m.measure_id, quarter)] = round(float(value) * scale, 1)
        comment = str(row[12])
        if comment or rng.random() < 0.3:
            notes[m.measure_id] = RowNotes(
                measure_id=m.measure_id, comment=comment or "On track; see the quarterly report."
            )
        if rng.random() < 0.02:
            notes[m.measure_id] = RowNotes(
                measure_id=m.measure_id,
                override=Status.AMBER,
                override_reason="Data quality caveat from the police analyst",
                comment=comment,
            )
    submitted = (dt.date(2012, 1, 10) + dt.timedelta(days=job.index % 20)).isoformat()
    return values, notes, submitted


def _write_one(register: Register, source: dict[str, tuple[Any, ...]], job: _Job) -> None:
    from rag_workbook.forms import write_return

    values, notes, submitted = _fill(register, source, job)
    path = Path(job.path)
    if job.flavour != "openpyxl":
        write_return(
            path, register, job.theme, values=values, notes=notes, quarter="Q3", submitted=submitted
        )
        return
    # Issued blank, then filled and saved by another program (openpyxl here), the way a
    # lead's spreadsheet app re-writes the whole file; some numbers typed as text.
    import openpyxl

    write_return(path, register, job.theme)
    wb = openpyxl.load_workbook(path)
    ws = wb[layout.RETURN_SHEET]
    header_row = layout.TABLE_HEADER_ROW + 1  # 1-based
    col = {name: i + 1 for i, name in enumerate(layout.TABLE_COLUMNS)}
    ws.cell(layout.HEADER_FIRST_ROW + 1 + layout.HEADER_LABELS.index("Quarter"), 2, "Q3")
    ws.cell(
        layout.HEADER_FIRST_ROW + 1 + layout.HEADER_LABELS.index("Submitted"),
        2,
        dt.datetime.fromisoformat(submitted),
    )
    rng = random.Random(-job.index)
    row = header_row + 1
    while ws.cell(row, col[layout.COL_ID]).value not in (None, ""):
        mid = str(ws.cell(row, col[layout.COL_ID]).value)
        for quarter in ("Q1", "Q2", "Q3"):
            value = values.get((mid, quarter))
            if isinstance(value, float) and value >= 1000 and rng.random() < 0.5:
                value = f"{value:,.0f}"  # typed as text with a thousands separator
            ws.cell(row, col[quarter], value)
        note = notes.get(mid)
        if note is not None:
            if note.override is not None:
                ws.cell(row, col[layout.COL_OVERRIDE], str(note.override))
                ws.cell(row, col[layout.COL_OVERRIDE_REASON], note.override_reason)
            if note.comment:
                ws.cell(row, col[layout.COL_COMMENT], note.comment)
        row += 1
    wb.save(path)


def _write_chunk(
    register: Register, source: dict[str, tuple[Any, ...]], jobs: Sequence[_Job]
) -> int:
    for job in jobs:
        _write_one(register, source, job)
    return len(jobs)


def _convert_with_libreoffice(paths: Sequence[Path]) -> int:
    """Re-save `paths` through LibreOffice in one batch, in place; how many were converted."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or not paths:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        profile = Path(tmp) / "profile"
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "xlsx:Calc MS Excel 2007 XML",
                "--outdir",
                str(out),
                *map(str, paths),
            ],
            check=False,
            capture_output=True,
            timeout=600,
        )
        converted = 0
        for path in paths:
            made = out / path.name
            if made.exists():
                os.replace(made, path)
                converted += 1
    return converted


@dataclass(frozen=True)
class Corpus:
    """A generated set of returns and its template."""

    n: int
    template: Path
    returns: Path
    files: tuple[Path, ...]
    flavours: dict[str, int] = field(default_factory=dict)


def generate(
    n: int,
    *,
    workers: int = 2,
    log: Callable[[str], None] = print,
    all_openpyxl: bool = False,
) -> Corpus:
    """The N-return corpus, generated once and cached in benchmarks/_work/n{N}/.

    With `all_openpyxl`, in n{N}-openpyxl/: the template and every return saved by openpyxl.
    """
    from rag_workbook.forms import return_file_name, write_template
    from rag_workbook.template import read_template

    base = WORK / (f"n{n}-openpyxl" if all_openpyxl else f"n{n}")
    template = base / "template.xlsx"
    returns = base / "returns"
    stamp = base / "corpus.json"
    if stamp.exists():
        meta = json.loads(stamp.read_text())
        files = tuple(sorted(returns.glob("*.xlsx")))
        if meta.get("version") == GENERATOR_VERSION and len(files) == n:
            return Corpus(n, template, returns, files, meta["flavours"])
    log(f"generating {n} returns in {base} (once; cached for later runs) ...")
    started = time.perf_counter()
    if base.exists():
        shutil.rmtree(base)
    returns.mkdir(parents=True)
    register, source = scaled_register(n)
    write_template(register, template)
    if all_openpyxl:
        _resave_with_openpyxl(template)
    register = read_template(template)  # the returns carry the template's real fingerprint
    jobs = [
        _Job(i, theme, _flavour(i, all_openpyxl), str(returns / return_file_name(register, theme)))
        for i, theme in enumerate(register.themes)
    ]
    chunks = [jobs[i::workers] for i in range(workers)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_write_chunk, [register] * workers, [source] * workers, chunks))
    # LibreOffice re-saves a capped handful of the xlsxwriter-written returns.
    candidates = [Path(j.path) for j in jobs if j.flavour == "xlsxwriter"]
    count = min(LIBREOFFICE_CAP, max(2, round(n * LIBREOFFICE_SHARE)))
    picked = candidates[1 :: max(1, len(candidates) // count)][:count] if candidates else []
    converted = _convert_with_libreoffice(picked)
    flavours = {
        "xlsxwriter": sum(1 for j in jobs if j.flavour == "xlsxwriter") - converted,
        "openpyxl": sum(1 for j in jobs if j.flavour == "openpyxl"),
        "libreoffice": converted,
    }
    stamp.write_text(json.dumps({"version": GENERATOR_VERSION, "n": n, "flavours": flavours}))
    log(f"  generated in {time.perf_counter() - started:.1f} s: {flavours}")
    files = tuple(sorted(returns.glob("*.xlsx")))
    return Corpus(n, template, returns, files, flavours)


# --------------------------------------------------------------------------- timing


def _median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def time_baseline(files: Sequence[Path]) -> float:
    """(a): what an analyst would write, pandas.read_excel on openpyxl per file."""
    import openpyxl  # noqa: F401  (imported before timing: only reading is timed)
    import pandas as pd

    def run() -> None:
        frames = [
            pd.read_excel(f, engine="openpyxl", sheet_name=0, header=layout.TABLE_HEADER_ROW)
            for f in files
        ]
        pd.concat(frames, ignore_index=True)

    return _median_time(run, 1)


def _bare_calamine(files: Sequence[Path]) -> None:
    """The floor: python-calamine's bare to_python() of the first sheet per file."""
    from python_calamine import CalamineWorkbook

    for f in files:
        CalamineWorkbook.from_path(str(f)).get_sheet_by_index(0).to_python()


def time_read(corpus: Corpus, repeat: int, jobs: int = 1) -> float:
    """(c): our reading step alone, in process."""
    from rag_workbook.merge import read_returns
    from rag_workbook.template import read_template

    register = read_template(corpus.template)
    files = list(corpus.files)
    return _median_time(lambda: read_returns(files, register, jobs=jobs), repeat)


def time_read_against_calamine(corpus: Corpus, repeat: int) -> tuple[float, float, float]:
    """(c) with jobs=1 and bare calamine, timed in turns: their medians and the median ratio.

    This machine's speed drifts by up to 1.5x within minutes, so the two are timed one
    after the other, `repeat` times, and the ratio is taken within each pair.
    """
    from rag_workbook.merge import read_returns
    from rag_workbook.template import read_template

    register = read_template(corpus.template)
    files = list(corpus.files)
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(repeat):
        bare.append(_median_time(lambda: _bare_calamine(files), 1))
        ours.append(_median_time(lambda: read_returns(files, register), 1))
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    return statistics.median(ours), statistics.median(bare), statistics.median(ratios)


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    cpu_seconds: float  # user + system, of the child and its waited children
    max_rss_mib: float
    status: int
    stderr: str


def _run_child(argv: Sequence[str]) -> ChildRun:
    """Run a command; wall time, its peak RSS (of it and its waited children) and status."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(seconds, cpu, usage.ru_maxrss / 1024, proc.returncode, text)


def time_merge(corpus: Corpus, repeat: int, jobs: int) -> ChildRun:
    """(b): the CLI end to end: median wall and CPU seconds, max peak MiB, last status."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dashboard.xlsx"
        argv = [
            str(RAG_WORKBOOK),
            "merge",
            str(corpus.returns),
            "--template",
            str(corpus.template),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--quiet",
        ]
        runs = [_run_child(argv) for _ in range(repeat)]
        if not out.exists():
            raise SystemExit(f"merge wrote no dashboard:\n{runs[-1].stderr[-3000:]}")
    return ChildRun(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.cpu_seconds for r in runs),
        max(r.max_rss_mib for r in runs),
        runs[-1].status,
        runs[-1].stderr,
    )


def time_help(repeat: int) -> tuple[float, list[str]]:
    """`rag-workbook --help`: median seconds, and which heavy modules it imports."""
    seconds = statistics.median(
        _run_child([str(RAG_WORKBOOK), "--help"]).seconds for _ in range(repeat)
    )
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import rag_workbook.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    heavy = ("pandas", "numpy", "xlsxwriter", "openpyxl", "python_calamine")
    imported = sorted(
        {
            name
            for line in probe.stderr.splitlines()
            if (name := line.rsplit("|", 1)[-1].strip().split(".")[0]) in heavy
        }
    )
    return seconds, imported


def time_crossover(corpus: Corpus, sizes: Sequence[int], jobs: int, repeat: int) -> None:
    """Read the first k files with jobs=1 and with a pool of `jobs` (threshold lifted)."""
    from rag_workbook import merge
    from rag_workbook.template import read_template

    register = read_template(corpus.template)
    print(f"\npool crossover (read_returns in process; POOL_THRESHOLD is {merge.POOL_THRESHOLD}):")
    print(f"{'files':>6} {'jobs=1 s':>9} {f'jobs={jobs} s':>9} {'speed-up':>9}")
    saved = merge.POOL_THRESHOLD
    try:
        merge.POOL_THRESHOLD = 0
        for k in sizes:
            files = list(corpus.files[:k])

            def serial(f: list[Path] = files) -> None:
                merge.read_returns(f, register, jobs=1)

            def pooled(f: list[Path] = files) -> None:
                merge.read_returns(f, register, jobs=jobs)

            one, many = _median_time(serial, repeat), _median_time(pooled, repeat)
            print(f"{k:>6} {one:>9.3f} {many:>9.3f} {one / many:>8.2f}x")
    finally:
        merge.POOL_THRESHOLD = saved


def time_openpyxl_saved(n: int, repeat: int, jobs: int) -> dict[str, Any]:
    """(a) against (b) over a corpus saved wholly by openpyxl, interleaved in turns.

    Each turn times pandas.read_excel(openpyxl) over the returns, then the merge with
    --jobs 1 and --jobs `jobs`; the speed-up is the median of each turn's (a) / best (b).
    Also times the register alone (read_template) on its fast path.
    """
    from rag_workbook import template as template_module

    corpus = generate(n, all_openpyxl=True)
    files = list(corpus.files)
    _bare_calamine(files)  # warm the page cache
    started = time.perf_counter()
    assert template_module._fast_rows(corpus.template) is not None, "register fell back"
    register_seconds = time.perf_counter() - started
    baseline: list[float] = []
    merges: dict[int, list[float]] = {1: [], jobs: []}
    ratios: list[float] = []
    for _ in range(repeat):
        baseline.append(time_baseline(files))
        for j in merges:
            run = time_merge(corpus, 1, j)
            if run.status not in (0, 1):
                raise SystemExit(f"merge failed:\n{run.stderr[-3000:]}")
            merges[j].append(run.seconds)
        ratios.append(baseline[-1] / min(merges[j][-1] for j in merges))
    return {
        "n": n,
        "register_fast_path_s": register_seconds,
        "baseline": baseline,
        "merge": {f"jobs{j}": times for j, times in merges.items()},
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
    }


def print_openpyxl_saved(r: dict[str, Any]) -> None:
    n = r["n"]
    print(f"\nN = {n} returns, template and returns all saved by openpyxl")
    print(f"  register on its fast path (read_sheet_grids): {r['register_fast_path_s']:.3f} s")
    print(f"  (a) pandas.read_excel(openpyxl), per turn: {_seconds(r['baseline'])}")
    for key, times in r["merge"].items():
        label = key.replace("jobs", "--jobs ")
        print(f"  (b) rag-workbook merge {label}, per turn: {_seconds(times)}")
    print(
        f"  (a)/best (b) per turn: {', '.join(f'{x:.1f}x' for x in r['ratios'])}; "
        f"median {r['ratio_median']:.1f}x (SPEC: at least 10x)"
    )


def _seconds(times: Sequence[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) + f" s (median {statistics.median(times):.2f} s)"


# --------------------------------------------------------------------------- report


def bench(n: int, *, repeat: int, jobs: int, skip_baseline: bool) -> dict[str, Any]:
    corpus = generate(n)
    files = list(corpus.files)
    _bare_calamine(files)  # warm the page cache
    result: dict[str, Any] = {"n": n, "flavours": corpus.flavours}
    result["read"], result["calamine"], result["read_ratio"] = time_read_against_calamine(
        corpus, repeat
    )
    if jobs > 1:
        result[f"read_jobs{jobs}"] = time_read(corpus, repeat, jobs=jobs)
    for j in (1, jobs) if jobs > 1 else (1,):
        run = time_merge(corpus, repeat, j)
        key = "merge" if j == 1 else f"merge_jobs{j}"
        result[key], result[f"{key}_cpu"], result[f"{key}_rss"] = (
            run.seconds,
            run.cpu_seconds,
            run.max_rss_mib,
        )
        result[f"{key}_status"] = run.status
    if not skip_baseline:
        result["baseline"] = time_baseline(files)
    return result


def print_result(r: dict[str, Any], jobs: int) -> None:
    n = r["n"]

    def row(label: str, seconds: float, extra: str = "") -> None:
        print(f"  {label:<44} {seconds:>8.3f} s {seconds / n * 1000:>8.2f} ms/file  {extra}")

    print(f"\nN = {n} returns {r['flavours']}")
    if "baseline" in r:
        row("(a) pandas.read_excel(openpyxl) + concat", r["baseline"])
    for key, label in (("merge", "--jobs 1"), (f"merge_jobs{jobs}", f"--jobs {jobs}")):
        if key in r:
            row(
                f"(b) rag-workbook merge {label} (wall)",
                r[key],
                f"cpu {r[f'{key}_cpu']:.2f} s, peak {r[f'{key}_rss']:.0f} MiB, "
                f"exit {r[f'{key}_status']}",
            )
    row("(c) read_returns, in process, jobs=1", r["read"])
    if f"read_jobs{jobs}" in r:
        row(f"(c) read_returns, in process, jobs={jobs}", r[f"read_jobs{jobs}"])
    row("    bare calamine to_python()", r["calamine"])
    best = min(r["merge"], r.get(f"merge_jobs{jobs}", r["merge"]))
    if "baseline" in r:
        print(f"  (a)/(b) = {r['baseline'] / best:.1f}x faster than the baseline")
    print(f"  (c)/calamine = {r['read_ratio']:.2f}x (median of the ratios of interleaved runs)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="returns (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per median (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="workers for the --jobs runs")
    parser.add_argument("--skip-baseline", action="store_true", help="skip (a), ~9 ms a file")
    parser.add_argument(
        "--crossover", action="store_true", help="also time jobs=1 against a forced pool"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--openpyxl-saved",
        action="store_true",
        help="only (a) against (b), interleaved, on a corpus saved wholly by openpyxl",
    )
    args = parser.parse_args(argv)
    if args.openpyxl_saved:
        runs = [time_openpyxl_saved(n, args.repeat, args.jobs) for n in args.n or [2000]]
        for r in runs:
            print_openpyxl_saved(r)
        if args.json:
            args.json.write_text(json.dumps({"openpyxl_saved": runs}, indent=2) + "\n")
        return
    sizes = args.n or [60, 2000]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; medians of {args.repeat}")
    seconds, imported = time_help(max(3, args.repeat))
    print(f"rag-workbook --help: {seconds:.3f} s; heavy imports: {', '.join(imported) or 'none'}")
    results = []
    for n in sizes:
        r = bench(n, repeat=args.repeat, jobs=args.jobs, skip_baseline=args.skip_baseline)
        print_result(r, args.jobs)
        results.append(r)
    if args.crossover:
        corpus = generate(max(sizes))
        steps = [k for k in (60, 100, 200, 400, 800, 1200, 2000) if k <= corpus.n]
        time_crossover(corpus, steps, args.jobs, args.repeat)
    if args.json:
        payload = {"help_seconds": seconds, "help_heavy_imports": imported, "runs": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
