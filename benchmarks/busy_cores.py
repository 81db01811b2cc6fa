"""How busy the machine's cores are through one merge, and its processor time (issue 16).

Runs `python -m rag_workbook merge DIR --template T --out F --jobs J --quiet` on the
returns bench_merge.py generates (cached in benchmarks/_work/), samples the whole machine's
processor use from /proc/stat every 10 ms meanwhile (Linux only; run it on a quiet
machine), and prints:

- the wall time, and the processor time of the merge and its copies (user + system);
- how busy the cores were in each tenth of a second (2.00: both busy);
- the idle core-seconds: what the merge left unused. Wall time can be no less than
  (processor time + idle core-seconds) / cores, so a bar below that needs less work,
  not better overlap.

Run from the repository root:

    python benchmarks/busy_cores.py --n 2000 --openpyxl-saved
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_merge  # the corpus generator, beside this script

SAMPLE_SECONDS = 0.01


def _stat() -> tuple[int, int]:
    """(all jiffies, idle jiffies) of the whole machine so far."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle + iowait


def sample(stop: threading.Event, out: list[tuple[float, float]], cores: int) -> None:
    """Append (seconds since start, busy cores) every SAMPLE_SECONDS until `stop`."""
    start = time.perf_counter()
    before = _stat()
    while not stop.is_set():
        time.sleep(SAMPLE_SECONDS)
        now = _stat()
        total, idle = now[0] - before[0], now[1] - before[1]
        if total:
            out.append((time.perf_counter() - start, cores * (total - idle) / total))
        before = now


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="returns")
    parser.add_argument("--jobs", type=int, default=2, help="merge --jobs")
    parser.add_argument("--openpyxl-saved", action="store_true", help="the openpyxl corpus")
    args = parser.parse_args(argv)
    if not Path("/proc/stat").exists():
        raise SystemExit("busy_cores.py reads /proc/stat: Linux only")
    corpus = bench_merge.generate(args.n, all_openpyxl=args.openpyxl_saved)
    cores = os.cpu_count() or 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        argv_ = [
            sys.executable, "-m", "rag_workbook", "merge", str(corpus.returns),
            "--template", str(corpus.template), "--out", str(Path(tmp) / "d.xlsx"),
            "--jobs", str(args.jobs), "--quiet",
        ]  # fmt: skip
        subprocess.run(argv_, env=env, capture_output=True, check=True)  # warm the caches
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        watcher = threading.Thread(target=sample, args=(stop, samples, cores))
        started = time.perf_counter()
        watcher.start()
        subprocess.run(argv_, env=env, capture_output=True, check=True)
        wall = time.perf_counter() - started
        stop.set()
        watcher.join()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    in_run = [(t, busy) for t, busy in samples if t <= wall]
    idle = sum(max(0.0, cores - busy) for _, busy in in_run) * SAMPLE_SECONDS
    print(f"N = {args.n:,}, {cores} cores: wall {wall:.2f} s, processor {cpu:.2f} s")
    tenths: dict[int, list[float]] = {}
    for t, busy in in_run:
        tenths.setdefault(int(t * 10), []).append(busy)
    print("busy cores by tenth of a second:")
    print("  " + " ".join(f"{sum(v) / len(v):.2f}" for _, v in sorted(tenths.items())))
    print(f"idle core-seconds {idle:.2f}; floor (processor + idle) / cores = "
          f"{(cpu + idle) / cores:.2f} s; with no core idle {cpu / cores:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
