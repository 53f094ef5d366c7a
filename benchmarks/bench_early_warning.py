"""Benchmark: what the early warning (``vmo_lib.analysis.rampup.early_warning``) adds to a case review.

Run::

    .venv/bin/python benchmarks/bench_early_warning.py [--rounds 5] [--iterations 20000]

Baseline: ``review_case`` of the 16 sample cases as of 2026Q3 (which computes the early warning once,
without the logistic). Timed alternately, best of ``--rounds``: the early warning alone as
``review_case`` computes it, and with the logistic alternative fitted too. Prints each time and its
ratio to the baseline.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vmo_lib import load_case
from vmo_lib.analysis import rampup
from vmo_lib.analysis.review import review_case

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=20_000, help="Monte Carlo iterations of the baseline review")
    a = ap.parse_args()
    cases = [load_case(p) for p in sorted(SAMPLE.glob("*.xlsx"))]
    rampup.fit_logistic([0, 1, 1, 1, 1], [0, 1, 1, 1, 1])  # import scipy.optimize outside the timings
    reviews = [review_case(c, "2026Q3", iterations=0) for c in cases]
    rags = [r.status.benefits.set_index("line_id")["rag"] for r in reviews]
    best = {"review": float("inf"), "early warning": float("inf"), "with logistic": float("inf")}
    for _ in range(a.rounds):
        t = time.perf_counter()
        for c in cases:
            review_case(c, "2026Q3", iterations=a.iterations)
        best["review"] = min(best["review"], time.perf_counter() - t)
        for key, lg in (("early warning", False), ("with logistic", True)):
            t = time.perf_counter()
            for r, rag in zip(reviews, rags, strict=True):
                rampup.early_warning(r.case, "2026Q3", rag=rag, logistic=lg)
            best[key] = min(best[key], time.perf_counter() - t)
    base = best["review"]
    print(f"baseline: review_case of {len(cases)} sample cases ({a.iterations} iterations), best of {a.rounds}: "
          f"{base:.3f} s")
    for key in ("early warning", "with logistic"):
        print(f"{key:<14} {best[key]:.4f} s  = {best[key] / base:.1%} of the review "
              f"({best[key] / len(cases) * 1000:.2f} ms a case)")


if __name__ == "__main__":
    main()
