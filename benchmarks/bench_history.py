"""Benchmark: the quarterly history store (vmo_lib.history.store) at portfolio scale.

Run::

    .venv/bin/python benchmarks/bench_history.py [--cases 1000] [--quarters 12]

Data: the 16 sample workbooks reviewed as of 2026Q3 (``review_case``, Monte Carlo included, as
``vmo review`` computes it), their records (``records_from_review``) copied under new case ids up to
``--cases`` cases, and the same rows relabelled for ``--quarters`` quarters.

Printed figures (issue 12's targets):

* **record vs review** — time of ``record_quarter`` for one quarter of ``--cases`` cases, against the
  review's own analysis time for as many cases (``review_case`` per case, measured on the 16 sample
  cases and scaled; the notebooks and packs of a real ``vmo review`` take far longer, so the ratio is
  an upper bound). Target: at most 0.10.
* **one case's trend** and **the portfolio trend** from a ``--cases`` × ``--quarters`` history, each
  opened afresh (``open_history`` + ``case_frames`` / ``portfolio_trend``). Target: under 1 s each;
  the ratio printed is the time over that 1 s baseline.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from vmo_lib.analysis.review import review_case
from vmo_lib.history.records import TABLES, records_from_review
from vmo_lib.history.replay import quarter_range
from vmo_lib.history.store import open_history
from vmo_lib.intake.loader import load_case, workbook_files

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--quarters", type=int, default=12)
    args = ap.parse_args()

    cases = [load_case(p, as_of="2026Q3") for p in workbook_files(ROOT / "data" / "sample")]
    t0 = time.perf_counter()
    reviews = [review_case(c, "2026Q3") for c in cases]
    review_per_case = (time.perf_counter() - t0) / len(cases)
    base = [records_from_review(r) for r in reviews]

    def quarter(q: str) -> dict[str, pd.DataFrame]:
        parts = {t: [] for t in TABLES}
        for i in range(args.cases):
            rec = base[i % len(base)]
            for t in TABLES:
                df = rec[t].copy()
                df["case_id"] = f"C{i:05d}"
                df["quarter"] = q
                parts[t].append(df)
        return {t: pd.concat(v, ignore_index=True) for t, v in parts.items()}

    quarters = quarter_range("2024Q1", "2099Q4")[: args.quarters]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.duckdb"
        frames = quarter(quarters[0])
        rows = sum(len(df) for df in frames.values())
        t0 = time.perf_counter()
        with open_history(path, read_only=False) as h:
            h.record_quarter(quarters[0], frames, run_id="r0")
        record = time.perf_counter() - t0
        review_all = review_per_case * args.cases
        print(f"record one quarter of {args.cases} cases ({rows:,} rows): {record:.2f} s; "
              f"review analysis of as many cases ({review_per_case * 1000:.0f} ms/case x {args.cases}): "
              f"{review_all:.1f} s; ratio {record / review_all:.3f} (target <= 0.10)")

        t0 = time.perf_counter()
        for i, q in enumerate(quarters[1:], start=1):
            fq = {t: df.assign(quarter=q) for t, df in frames.items()}
            with open_history(path, read_only=False) as h:
                h.record_quarter(q, fq, run_id=f"r{i}")
        print(f"history of {args.cases} cases x {len(quarters)} quarters built in {time.perf_counter() - t0:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")

        t0 = time.perf_counter()
        with open_history(path) as h:
            one = h.case_frames("C00042")
        t_case = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open_history(path) as h:
            trend = h.portfolio_trend()
        t_pf = time.perf_counter() - t0
        print(f"one case's trend ({len(one['case_quarter'])} quarters, {len(one['period_quarter'])} period rows): "
              f"{t_case:.3f} s; ratio to 1 s {t_case:.3f}")
        print(f"portfolio trend ({len(trend)} quarter rows over {args.cases} cases): {t_pf:.3f} s; "
              f"ratio to 1 s {t_pf:.3f}")


if __name__ == "__main__":
    main()
