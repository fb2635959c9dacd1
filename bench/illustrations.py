"""How fast is the illustration SVG? Target: 6 products × 30 years in ≤ 20 ms (median).

    .venv/bin/python bench/illustrations.py [--runs 300] [--json]

Prints a table of medians; with --json the last line is one JSON object. The baseline in the
same run is the smallest picture (1 product, 1 year), so the ratio shows what size costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from illustrations.finance import ProductInput  # noqa: E402
from illustrations.trees import IllustrationInput, build_scene, frames, render_svg  # noqa: E402

TARGET_MS = 20.0


def case(products: int, years: int) -> IllustrationInput:
    kinds = [("yearly", "low"), ("monthly", "medium"), ("simple", "high")]
    items = tuple(
        ProductInput(f"Продукт №{i + 1} с длинным названием", Decimal(5 + 7 * i), *kinds[i % 3])
        for i in range(products)
    )
    return IllustrationInput("Иван Петрович", Decimal("1500000"), years, items, monthly=Decimal("25000"))


def measure(fn, runs: int) -> dict:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 3),
        "min_ms": round(samples[0], 3),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()

    small, full = case(1, 1), case(6, 30)
    rows = {
        "svg 1 product × 1 year (baseline)": measure(lambda: render_svg(small), args.runs),
        "svg 6 products × 30 years": measure(lambda: render_svg(full), args.runs),
        "slider data 6 × 30 (31 frames)": measure(lambda: frames(build_scene(full)), max(args.runs // 3, 20)),
    }
    baseline = rows["svg 1 product × 1 year (baseline)"]["median_ms"]
    for row in rows.values():
        row["ratio_vs_baseline"] = round(row["median_ms"] / baseline, 2)
    target = rows["svg 6 products × 30 years"]["median_ms"]
    print(f"{'case':40} {'median ms':>10} {'p95 ms':>8} {'× base':>7}")
    for name, row in rows.items():
        print(f"{name:40} {row['median_ms']:>10.2f} {row['p95_ms']:>8.2f} {row['ratio_vs_baseline']:>7.2f}")
    verdict = "PASS" if target <= TARGET_MS else "FAIL"
    print(f"target: 6 × 30 median ≤ {TARGET_MS} ms → {target:.2f} ms {verdict}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.json:
        print(json.dumps({"bench": "illustrations", "target_ms": TARGET_MS, "pass": target <= TARGET_MS, "rows": rows}))


if __name__ == "__main__":
    main()
