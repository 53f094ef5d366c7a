"""Benchmark of the portfolio Monte Carlo (:func:`vmo_lib.portfolio.risk.simulate_portfolio`, issue 14 item 3).

1,000 cases x 100,000 iterations: wall and CPU seconds, peak traced memory (tracemalloc) and the
process's peak RSS, against

* the named baseline "per-case-loop": the same model drawn case by case (one 100,000-iteration draw per
  case and per kind, totals accumulated, then a second pass for each case's contribution to variance);
  the ratio baseline / vectorised is printed;
* the target set for it: under 15 s and under 500 MB on the shared 2-core machine (a quarter of the
  30 s the whole of ``vmo portfolio`` on 1,000 cases is allowed, issue 15).

Cases: by default 1,000 synthetic cases (seeded moments: benefits 1-50 m, sd 5-40 % of them, costs
alike); ``--folder`` takes the outlooks of a generated portfolio instead (``scripts/make_large_portfolio.py``:
each case reviewed without its own Monte Carlo, then :func:`vmo_lib.portfolio.risk.case_outlook_moments`,
timed apart). Figures are machine-bound: read the ratios.

Usage::

    .venv/bin/python benchmarks/bench_portfolio_risk.py [--cases 1000] [--iterations 100000] [--folder DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmo_lib.portfolio.risk import MOMENT_COLUMNS, case_outlook_moments, simulate_portfolio  # noqa: E402

TARGET_SECONDS, TARGET_BYTES = 15.0, 500e6
RHO_B = RHO_C = 0.3


def synthetic_moments(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mb = rng.uniform(1e6, 50e6, n)
    mc = mb * rng.uniform(0.5, 1.1, n)
    return pd.DataFrame({"case_id": [f"S{i:04d}" for i in range(n)], "fixed_benefits": mb * rng.uniform(0, 0.3, n),
                         "mean_benefits": mb, "sd_benefits": mb * rng.uniform(0.05, 0.4, n),
                         "fixed_costs": mc * rng.uniform(0, 0.5, n), "mean_costs": mc,
                         "sd_costs": mc * rng.uniform(0.05, 0.4, n),
                         "corr_benefits_costs": rng.uniform(0, 0.3, n)})[list(MOMENT_COLUMNS)]


def per_case_loop(m: pd.DataFrame, iterations: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The baseline: the same model, one case at a time (totals, then each case's share of the NPV variance)."""
    g = np.random.default_rng([seed, 0]).standard_normal((iterations, 2))
    a_b, s_b, a_c, s_c = math.sqrt(RHO_B), math.sqrt(1 - RHO_B), math.sqrt(RHO_C), math.sqrt(1 - RHO_C)
    rows = list(m.itertuples(index=False))

    def draws(i: int, r) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, 1, i])
        eb, e2 = rng.standard_normal(iterations), rng.standard_normal(iterations)
        ec = r.corr_benefits_costs * eb + math.sqrt(1 - r.corr_benefits_costs ** 2) * e2
        b = r.fixed_benefits + r.mean_benefits + r.sd_benefits * (a_b * g[:, 0] + s_b * eb)
        c = r.fixed_costs + r.mean_costs + r.sd_costs * (a_c * g[:, 1] + s_c * ec)
        return b, c

    tb, tn = np.zeros(iterations), np.zeros(iterations)
    for i, r in enumerate(rows):
        b, c = draws(i, r)
        tb += b
        tn += b - c
    dev = tn - tn.mean()
    share = np.empty(len(rows))
    for i, r in enumerate(rows):
        b, c = draws(i, r)
        x = b - c
        share[i] = float((x - x.mean()) @ dev)
    return tb, tn, share / share.sum()


def _timed(fn, *a, **kw):
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, wall, cpu, peak


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--folder", default=None, help="a generated portfolio (scripts/make_large_portfolio.py)")
    ap.add_argument("--skip-baseline", action="store_true")
    a = ap.parse_args(argv)
    print(f"portfolio Monte Carlo: {a.cases} cases x {a.iterations:,} iterations; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if a.folder:
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_large_portfolio import AS_OF

        from vmo_lib.analysis.review import review_case
        from vmo_lib.intake.loader import load_portfolio
        from vmo_lib.portfolio.settings import load_portfolio_settings

        pf = load_portfolio(a.folder, AS_OF)
        basis = load_portfolio_settings(a.folder).basis
        t = time.perf_counter()
        rows = [case_outlook_moments(review_case(c, AS_OF, iterations=0), basis) for c in pf.cases[: a.cases]]
        m = pd.DataFrame([r for r in rows if r["restated"]])[list(MOMENT_COLUMNS)]
        print(f"  outlook moments of {len(m)} generated cases (reviews without their own Monte Carlo): "
              f"{time.perf_counter() - t:.1f} s")
    else:
        m = synthetic_moments(a.cases)
    out, wall, cpu, peak = _timed(simulate_portfolio, m, a.iterations, 0, benefit_correlation=RHO_B,
                                  cost_correlation=RHO_C, target=float(m["mean_benefits"].sum()))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    s = out.summary()
    ok = wall < TARGET_SECONDS and max(peak, rss) < TARGET_BYTES
    print(f"{'step':22s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s}")
    print(f"{'vectorised (chunks)':22s} {wall:8.2f} {cpu:8.2f} {peak / 1e6:8.0f}  process peak RSS {rss / 1e6:,.0f} MB; "
          f"target < {TARGET_SECONDS:.0f} s and < {TARGET_BYTES / 1e6:.0f} MB: {'met' if ok else 'MISSED'}")
    print(f"  total NPV P10/P50/P90 {s['npv_p10'] / 1e9:,.2f} / {s['npv_p50'] / 1e9:,.2f} / {s['npv_p90'] / 1e9:,.2f} bn; "
          f"chance of reaching the mean benefits: {s['prob_meeting_target']:.1%}")
    if not a.skip_baseline:
        (tb, tn, share), w0, c0, p0 = _timed(per_case_loop, m, a.iterations, 0)
        print(f"{'per-case-loop':22s} {w0:8.2f} {c0:8.2f} {p0 / 1e6:8.0f}  (baseline) vectorised is {w0 / wall:.1f}x "
              f"faster (wall), {c0 / cpu:.1f}x (CPU)")
        # the two methods draw different numbers from the same model: their figures agree to sampling error
        sd = float(tn.std())
        print(f"  agreement: NPV mean {abs(tn.mean() - out.npv.mean()) / sd:.3f} sd apart, NPV sd "
              f"{out.npv.std() / sd:.3f}x, largest share {share.max():.3f} vs "
              f"{out.cases['share_npv_variance'].max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
