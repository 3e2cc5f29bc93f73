"""Print the Markdown tables of ``bench/README.md`` from ``bench/results/train.json``.

Run: ``.venv/bin/python bench/table.py [results/train.json]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODES = {"gates": "`gates` (default)", "steps": "`steps`", "off": "`off` (as the original)",
         "malloc": "`gates`, TensorFlow's allocator"}


def _against_best(part: dict, gflops) -> str:
    """The fraction of the faster of the two allocators' rooflines ('—' without one)."""
    best = max((part.get(key, {}).get("gflop_per_s", {}).get("best") or 0
                for key in ("roofline", "roofline_malloc")), default=0)
    return f"{gflops / best:.3f}" if best and gflops else "—"


def rows(results: dict):
    reference = results["reference_original"]
    for name in ("C", "D"):
        part = results.get(name, {})
        if not part:
            continue
        for key, row in part.items():
            if not key.startswith("train_"):
                continue
            mode = key.removeprefix("train_")
            label = MODES.get(mode, f"`{mode}`")
            if name == "C":
                if "s_per_step" not in row:
                    continue
                time, rss = f"{row['s_per_step']:.2f}", row["peak_rss_gb"]
                gflops, frac = row["gflop_per_s"], row.get("roofline_fraction")
                how = f"median of {len(row['step_times_s'])} steps"
            else:
                t20 = row.get("T20")
                if not t20:
                    continue
                time, rss = f"{t20['s_per_step']:.0f}", t20["peak_rss_gb"]
                gflops, frac = t20.get("gflop_per_s"), t20.get("roofline_fraction")
                how = (f"T = 20, {t20['time_from']}" if t20.get("measured")
                       else "extrapolated from T = 3, 4")
            ref = reference[name]["peak_rss_gb"]
            if name == "D" and "runs" in row and "s_per_step" in row["runs"][-1]:
                run = row["runs"][-1]
                rss4 = run["peak_rss_gb"]
                yield (f"| D, T = {run['total_length']} | {label} | {run['s_per_step']:.1f} | "
                       f"{rss4:.2f} GB | {run['gflop_per_s']} | "
                       f"{run.get('roofline_fraction_paired', '—')} | "
                       f"{_against_best(part, run['gflop_per_s'])} | second call |")
            yield (f"| {name} | {label} | {time} | {rss:.2f} GB ({rss / ref:.2f}×) | "
                   f"{gflops} | {frac if frac is not None else '—'} | "
                   f"{_against_best(part, gflops)} | {how} |")


def versus_rows(results: dict):
    """One row per configuration with a ``versus_original`` measurement."""
    for name in ("C", "D"):
        for key, allocator in (("versus_original", "BFC (mim3d's)"),
                               ("versus_original_malloc", "TensorFlow's (malloc)")):
            row = results.get(name, {}).get(key, {})
            if "speedup" in row:
                yield _versus_row(name, allocator, row)


def _versus_row(name: str, allocator: str, row: dict) -> str:
    mine, orig = row["mim3d"], row["original_ops"]
    return (f"| {name}, T = {row['total_length']} | {allocator} | {mine['s_per_step']:.2f} "
            f"({mine['gflop_per_s']} GFLOP/s) | {orig['s_per_step']:.2f} "
            f"({orig['gflop_per_s']} GFLOP/s) | **{row['speedup']:.2f}×** | "
            f"{len(mine['step_times_s'])} |")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results/train.json"
    results = json.loads(path.read_text())
    print("| config | `recompute` | s / step | peak RSS (× original) | GFLOP/s | roofline "
          "fraction | against the best roofline | how |")
    print("|---|---|---|---|---|---|---|---|")
    for line in rows(results):
        print(line)
    versus = list(versus_rows(results))
    if versus:
        print()
        print("| config | allocator | mim3d default, s / step | the original's operations, "
              "s / step | speedup | rounds |")
        print("|---|---|---|---|---|---|")
        for line in versus:
            print(line)


if __name__ == "__main__":
    main()
