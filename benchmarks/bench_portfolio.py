"""Portfolio at scale: load + appraise 1,000 generated cases (serial vs parallel), and the selection.

Generates (once, cached under /tmp) a portfolio of varied cases with
``scripts/make_large_portfolio.py`` — 5–100 lines, 8–40 quarters, every status — then times, in one run:

* load, serial (``load_portfolio(folder)``) vs parallel (``workers=2``): the baseline is the serial load;
* appraisal of every case: :func:`vmo_lib.portfolio.batch_appraisal` (one matrix product) against
  the baseline of :func:`vmo_lib.appraisal.appraise` called case by case;
* the full register (realisation status of every case, no Monte Carlo) with 2 workers;
* the exact selection (``scipy.optimize.milp``) of the active candidates at a budget per year, and
  the next-budget-step analysis.

Targets (issue 6): load + appraisal < 30 s on 2 cores; selection < 2 s. Figures are machine-bound:
read the ratios.

Usage::

    .venv/bin/python benchmarks/bench_portfolio.py [--cases 1000] [--folder /tmp/vmo_bench_portfolio_1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from make_large_portfolio import AS_OF, generate  # noqa: E402

from vmo_lib import portfolio as P  # noqa: E402
from vmo_lib.appraisal import appraise  # noqa: E402
from vmo_lib.loader import load_portfolio  # noqa: E402


def _timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--folder", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-serial-load", action="store_true", help="time only the parallel load")
    ap.add_argument("--register", action="store_true", help="also time the full register (slow)")
    a = ap.parse_args(argv)
    folder = Path(a.folder or f"/tmp/vmo_bench_portfolio_{a.cases}")
    _, t_gen = _timed(generate, folder, a.cases, 0, a.workers)
    print(f"portfolio: {a.cases} generated cases in {folder} (generation/cache check {t_gen:.1f} s)")

    if not a.skip_serial_load:
        serial, t_ser = _timed(load_portfolio, folder, AS_OF)
        print(f"load serial            {t_ser:7.2f} s  {1000 * t_ser / a.cases:6.1f} ms/case  (baseline)")
    par, t_par = _timed(load_portfolio, folder, AS_OF, workers=a.workers)
    ratio = f"  {t_ser / t_par:4.2f}x vs serial" if not a.skip_serial_load else ""
    print(f"load workers={a.workers}        {t_par:7.2f} s  {1000 * t_par / a.cases:6.1f} ms/case{ratio}")
    n = len(par)
    if len(par.failures):
        print(f"  {len(par.failures)} workbook(s) failed to load: {par.failures['error'].iloc[0]}")
    lines = sum(len(c.lines) for c in par)
    print(f"  {n} cases, {lines} lines, {sum(len(c.flows) for c in par)} flow rows")

    _, t_loop = _timed(lambda: [appraise(c, c.current_baseline) for c in par])
    batch, t_batch = _timed(P.batch_appraisal, par)
    print(f"appraise case by case  {t_loop:7.2f} s  {1000 * t_loop / n:6.2f} ms/case  (baseline)")
    print(f"batch_appraisal        {t_batch:7.2f} s  {1000 * t_batch / n:6.2f} ms/case  {t_loop / t_batch:5.1f}x")
    print(f"LOAD + APPRAISAL       {t_par + t_batch:7.2f} s  (target < 30 s)")

    if a.register:
        reg, t_reg = _timed(P.build_register, par, AS_OF, risk_iterations=0, workers=a.workers)
        print(f"register (status) w={a.workers}  {t_reg:7.2f} s  {1000 * t_reg / n:6.1f} ms/case")

    (opts, costs), t_opt = _timed(P.selection_options, par, AS_OF, "active")
    budget = float(costs.sum(axis=0).max() * 0.4)
    must = list(opts.index[opts["must_do"]])
    # keep the must-dos affordable: a generated portfolio is not a plan
    must = [m for m in must if (costs.loc[must[: must.index(m) + 1]].sum(axis=0) <= budget).all()]
    sel, t_sel = _timed(P.select_portfolio, opts["value"], costs, budget, must_do=must,
                        exclusive=[tuple(opts.index[:3])], depends_on={opts.index[5]: [opts.index[6]]})
    print(f"selection options      {t_opt:7.2f} s  ({len(opts)} candidates x {costs.shape[1]} years)")
    print(f"selection (milp)       {t_sel:7.3f} s  (target < 2 s): {len(sel.selected)} chosen, value {sel.value:,.0f}"
          f" at {budget:,.0f} a year, {len(must)} must-do")
    step, t_step = _timed(P.budget_step, opts["value"], costs, budget, step=budget * 0.05, must_do=must)
    print(f"budget step (2 milp+)  {t_step:7.3f} s: +5% budget buys {step.value_gain:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
