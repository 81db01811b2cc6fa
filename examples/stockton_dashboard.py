"""Use case: build the Safer Stockton dashboard from Python and look at the frame.

    python examples/stockton_dashboard.py [OUT_DIR]

Copies the bundled template and returns into OUT_DIR (default: stockton-example),
merges them and writes OUT_DIR/dashboard.xlsx, then prints the Q3 statuses.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag_workbook.demo import copy_demo_inputs
from rag_workbook.pipeline import merge_to_dashboard


def main(out_dir: Path) -> None:
    template, returns_dir = copy_demo_inputs(out_dir)
    result = merge_to_dashboard([returns_dir], template, out_dir / "dashboard.xlsx")
    q3 = result.frame[result.frame["quarter"] == "Q3"]
    print(q3[["theme", "measure_id", "value", "status", "explanation"]].to_string(index=False))
    print(f"{len(result.report)} issues; dashboard written to {result.output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("stockton-example"))
