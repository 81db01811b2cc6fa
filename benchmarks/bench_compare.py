"""Compare the merge of this checkout with an earlier commit, interleaved (issue 16).

Runs `python -m rag_workbook merge DIR --template T --out F --quiet` end to end as a
subprocess (interpreter start included) on the returns bench_merge.py generates (cached
in benchmarks/_work/n{N}), alternating the two versions run by run (ABAB..., the order
of each pair swapped every other pair) so that a busy spell on a shared machine falls on
both. The earlier commit's `src/` is exported with `git archive` into benchmarks/_work/
and put first on PYTHONPATH; both run in this interpreter, with the same packages.

Prints, per N: each version's median, lowest and highest wall seconds, the ratio of the
medians, and the median of the per-pair ratios (each run against its neighbour, which
takes out most of the machine's drift). `--plain` also times this checkout with
`--writer plain` (xlsxwriter's public API only); `--also REV` times another commit too.
Every version runs from bytecode, as an installed package does.

Run from the repository root:

    python benchmarks/bench_compare.py --base 030d92c --n 60 --n 2000 --repeat 11
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_merge  # the corpus generator, beside this script

ROOT = Path(__file__).resolve().parents[1]


def export(rev: str) -> Path:
    """`rev`'s src/ exported once into benchmarks/_work/base-{rev}/, compiled to bytecode."""
    target = bench_merge.WORK / f"base-{rev}"
    if not (target / "src" / "rag_workbook").is_dir():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
        ).stdout
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return compiled(target / "src")


def compiled(src: Path) -> Path:
    """`src` with its modules compiled to bytecode, as an installed package has them: with
    PYTHONDONTWRITEBYTECODE set (as on CI), every run would otherwise compile every
    module it imports that has no up-to-date .pyc (0.05-0.09 s for the whole package)."""
    compileall.compile_dir(src, quiet=1)
    return src


def run_merge(src: Path, corpus: bench_merge.Corpus, jobs: int, extra: Sequence[str]) -> float:
    """Wall seconds of one merge run with `src` first on the path, its bytecode used."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dashboard.xlsx"
        argv = [
            sys.executable, "-m", "rag_workbook", "merge", str(corpus.returns),
            "--template", str(corpus.template), "--out", str(out),
            "--jobs", str(jobs), "--quiet", *extra,
        ]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if not out.exists():
            raise SystemExit(f"merge wrote no dashboard ({src}):\n{proc.stderr[-3000:]}")
    return seconds


def compare(
    n: int, base: Path, repeat: int, jobs: int, plain: bool, also: Sequence[str] = ()
) -> dict[str, list[float]]:
    """Interleaved runs of each variant on the N-return corpus: name -> wall seconds."""
    corpus = bench_merge.generate(n)
    head = compiled(ROOT / "src")
    variants: dict[str, tuple[Path, tuple[str, ...]]] = {
        "base": (base, ()),
        **{rev: (export(rev), ()) for rev in also},
        "head": (head, ()),
    }
    if plain:
        variants["head --writer plain"] = (head, ("--writer", "plain"))
    runs: dict[str, list[float]] = {name: [] for name in variants}
    run_merge(head, corpus, jobs, ())  # warm the page cache
    run_merge(base, corpus, jobs, ())
    names = list(variants)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            src, extra = variants[name]
            runs[name].append(run_merge(src, corpus, jobs, extra))
    return runs


def report(n: int, runs: dict[str, list[float]]) -> None:
    print(f"\nN = {n:,} returns ({len(runs['base'])} interleaved runs each, wall seconds)")
    for name, times in runs.items():
        print(
            f"  {name:<20} median {statistics.median(times):6.3f}"
            f"   lowest {min(times):6.3f}   highest {max(times):6.3f}"
        )
    base, head = runs["base"], runs["head"]
    print(
        f"  head / base: ratio of medians {statistics.median(head) / statistics.median(base):.3f}"
    )
    pairs = [h / b for h, b in zip(head, base, strict=True)]
    print(f"  head / base: median of pair ratios {statistics.median(pairs):.3f}"
          f" (lowest {min(pairs):.3f}, highest {max(pairs):.3f})")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="030d92c", help="the commit to compare with")
    parser.add_argument("--n", type=int, action="append", help="returns (repeatable)")
    parser.add_argument("--repeat", type=int, default=11, help="runs of each version")
    parser.add_argument("--jobs", type=int, default=2, help="merge --jobs")
    parser.add_argument("--plain", action="store_true", help="also time --writer plain")
    parser.add_argument("--also", action="append", default=[], help="another commit to time")
    args = parser.parse_args(argv)
    base = export(args.base)
    for n in args.n or [60, 2000]:
        report(n, compare(n, base, args.repeat, args.jobs, args.plain, args.also))


if __name__ == "__main__":
    main()
