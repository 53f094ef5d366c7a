"""Benchmark: movement across quarters (vmo_lib.history.movement) on a large history.

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_movement.py [--cases 1000] [--quarters 12]

Data: the sample case CRM-2025 reviewed once (records_from_review), its rows copied to ``--cases``
case ids and ``--quarters`` quarter labels with the expected totals, NPVs and RAG nudged by a seeded
random walk, so every comparison has something to find. Timed (best of 3):

* the index's movement of every case (:func:`index_movement` on the per-case frames the batch hands
  over, and on one all-cases frame as the portfolio notebook gets it);
* one case's movement section (:func:`vmo_lib.outputs.movement.case_movement`, chart included);
* the portfolio's value by quarter (:func:`portfolio_by_quarter`).

Baseline named in the output: ``review_case`` of the same sample case without Monte Carlo (the
cheapest review a pack is made from); ratios are per case against it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis.review import review_case
from vmo_lib.history import movement as mv
from vmo_lib.history.records import records_from_review
from vmo_lib.intake.loader import load_case
from vmo_lib.outputs import movement as mo

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "CRM-2025.xlsx"


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build(n_cases: int, n_quarters: int, seed: int = 12) -> tuple[dict[str, pd.DataFrame], Any]:
    case = load_case(SAMPLE, as_of="2026Q3")
    base = records_from_review(review_case(case, "2026Q3", iterations=0))
    rng = np.random.default_rng(seed)
    labels = np.array([f"{2024 + i // 4}Q{i % 4 + 1}" for i in range(n_quarters)], dtype=object)
    ids = np.array([f"C{c:05d}" for c in range(n_cases)], dtype=object)
    drift = 1 + rng.normal(0, 0.02, (n_cases, n_quarters)).cumsum(axis=1)          # per case and quarter
    frames = {}
    for t, df in base.items():
        n = len(df)
        reps = n_cases * n_quarters
        big = df.iloc[np.tile(np.arange(n), reps)].reset_index(drop=True)
        cix = np.repeat(np.arange(n_cases), n_quarters * n)
        qix = np.tile(np.repeat(np.arange(n_quarters), n), n_cases)
        big["case_id"] = ids[cix]
        big["quarter"] = labels[qix]
        if t == "case_quarter":
            big["expected_npv"] = big["expected_npv"].to_numpy() * drift[cix, qix]
            big["rag"] = np.array(["green", "amber", "red"], dtype=object)[rng.integers(0, 3, len(big))]
        elif t == "line_quarter":
            big["expected_total"] = big["expected_total"].to_numpy() * drift[cix, qix]
        frames[t] = big
    return frames, case


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--quarters", type=int, default=12)
    a = ap.parse_args()
    t0 = time.perf_counter()
    frames, case = build(a.cases, a.quarters)
    rows = {t: len(v) for t, v in frames.items()}
    print(f"history: {a.cases:,} cases x {a.quarters} quarters, rows {rows} (built in {time.perf_counter() - t0:.1f}s)")
    t_review = best(lambda: review_case(case, "2026Q3", iterations=0))
    print(f"baseline: review_case(CRM-2025, iterations=0) {t_review * 1e3:.1f} ms per case")

    by_case = mv.split_by_case(frames)
    t_split = best(lambda: mv.split_by_case(frames), 1)
    t_index = best(lambda: mv.index_movement(by_case), 1)
    t_index_all = best(lambda: mv.index_movement(frames), 1)
    one = by_case[next(iter(by_case))]
    t_case = best(lambda: mo.case_movement(one))
    t_pf = best(lambda: mv.portfolio_by_quarter(frames))
    n = a.cases
    print(f"split_by_case (all cases):              {t_split:8.2f} s")
    print(f"index_movement (per-case frames):       {t_index:8.2f} s  = {t_index / n * 1e3:6.1f} ms per case"
          f"  = {t_index / n / t_review:5.2f} x the baseline review")
    print(f"index_movement (one all-cases frame):   {t_index_all:8.2f} s")
    print(f"case_movement (one case, chart incl.):  {t_case:8.3f} s  = {t_case / t_review:5.2f} x the baseline review")
    print(f"portfolio_by_quarter (all cases):       {t_pf:8.3f} s")


if __name__ == "__main__":
    main()
