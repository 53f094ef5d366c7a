"""Benchmark of vmo_lib.analysis.risk.monte_carlo against a straightforward per-iteration loop.

Run: ``.venv/bin/python benchmarks/bench_risk.py`` (``make bench``). Prints, for the largest sample
case and for generated 100-line cases (40 quarters), the time of 100,000 iterations (cold: first call,
PERT tables built; warm: median of 3, with its CPU time, which a busy shared machine inflates less
than wall time), peak traced memory (tracemalloc) and the process's max RSS, and
the ratio against the named baseline "python-loop": a per-iteration loop (per-line numpy draws, flows
scaled, NPV by ``finance.npv``) timed on 1,000 iterations and scaled x100.

Target (issue 5): 100,000 iterations x 100 lines in under 0.5 s and under 300 MB on the 2-core machine.

Outlook (issue 11): ``monte_carlo(case, as_of=...)`` simulates the expected outlook (actuals to date
fixed); it is timed (warm, median of 3) against the named baseline "approved-plan" = the same case's
``monte_carlo(case)`` with the same iterations and seed, and the ratio outlook / approved-plan printed
(the outlook also builds the expected case from the actuals and forecast on every call).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmo_lib.analysis import finance  # noqa: E402
from vmo_lib.analysis.appraisal import discount_factors, line_matrices  # noqa: E402
from vmo_lib.analysis.risk import monte_carlo  # noqa: E402
from vmo_lib.analysis.scenarios import three_point_factors  # noqa: E402
from vmo_lib.model import make_case  # noqa: E402

ITERATIONS = 100_000
LOOP_SAMPLE = 1_000


def generated_case(n_lines: int = 100, horizon: int = 40, pert_share: float = 0.3, seed: int = 0):
    """A case with ``n_lines`` lines (half costs), three-point ranges, a third of lines on 5 drivers."""
    rng = np.random.default_rng(seed)
    costs, benefits = [], []
    for i in range(n_lines):
        amounts = (rng.random(horizon) * 1000).round(2)
        total = float(amounts.sum())
        spec = {"line_id": f"L{i:03d}", "name": f"line {i}", "amounts": amounts.tolist(),
                "low": 0.8 * total, "likely": total, "high": 1.5 * total,
                "distribution": "pert" if rng.random() < pert_share else "triangular",
                "driver": f"D{i % 5}" if i % 3 == 0 else None}
        (costs if i % 2 else benefits).append({**spec, "category": "capex" if i % 4 == 1 else "opex"})
    return make_case({"case_id": f"GEN-{n_lines}", "horizon": horizon, "discount_rate": 0.08}, costs=costs,
                     benefits=benefits)


def python_loop_npvs(case, iterations: int, seed: int = 0) -> np.ndarray:
    """The straightforward way: one iteration at a time, one draw per line, NPV of the net flow."""
    rng = np.random.default_rng(seed)
    costs, benefits = line_matrices(case)
    f = three_point_factors(case)
    df = discount_factors(case)
    c, b = costs.to_numpy(), benefits.to_numpy()
    n_c = c.shape[0]
    out = np.empty(iterations)
    for i in range(iterations):
        levels = []
        for lo, hi, dist in zip(f["lo"], f["hi"], f["distribution"], strict=True):
            if hi <= lo:
                levels.append(1.0)
            elif dist == "pert":
                a = 1 + 4 * (1 - lo) / (hi - lo)
                levels.append(lo + (hi - lo) * rng.beta(a, 1 + 4 * (hi - 1) / (hi - lo)))
            else:
                levels.append(rng.triangular(lo, 1.0, hi))
        lv = np.array(levels)
        net = (b * lv[n_c:, None]).sum(axis=0) - (c * lv[:n_c, None]).sum(axis=0)
        out[i] = finance.npv(None, net, factors=df)
    return out


def with_actuals(case, share: float = 0.5, seed: int = 1):
    """The case with actuals (plan x a random 0.8 .. 1.3) for its first ``share`` of periods, and the
    review quarter that closes them."""
    import pandas as pd

    from vmo_lib.model import normalise_flows

    rng = np.random.default_rng(seed)
    cut = max(1, int(case.horizon * share))
    plan = case.flows[(case.flows["scenario"] == "baseline") & (case.flows["t"] < cut)].copy()
    plan["scenario"] = "actual"
    plan["amount"] = plan["amount"] * rng.uniform(0.8, 1.3, len(plan))
    flows = normalise_flows(pd.concat([case.flows, plan], ignore_index=True))
    return case.with_flows(flows), case.periods[cut - 1]


def _warm(fn, repeat: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def measure_outlook(case, as_of: str, label: str) -> None:
    """Outlook simulation as of ``as_of`` against the approved-plan simulation of the same case."""
    monte_carlo(case, iterations=ITERATIONS, seed=0, as_of=as_of)          # cold call (PERT tables, imports)
    plan_s, plan_cpu = _warm(lambda: monte_carlo(case, iterations=ITERATIONS, seed=0))
    outlook_s, outlook_cpu = _warm(lambda: monte_carlo(case, iterations=ITERATIONS, seed=0, as_of=as_of))
    r = monte_carlo(case, iterations=ITERATIONS, seed=0, as_of=as_of)
    print(f"{label:<34} lines={len(case.lines):>3} horizon={case.horizon:>2}  as of {as_of}: outlook "
          f"{outlook_s:6.3f} s (CPU {outlook_cpu:5.3f} s)  approved-plan {plan_s:6.3f} s (CPU {plan_cpu:5.3f} s)  "
          f"ratio outlook/approved-plan {outlook_s / plan_s:5.2f}x wall, {outlook_cpu / plan_cpu:5.2f}x CPU  "
          f"[{r.basis}: P50 {r.p50:,.0f}, P(NPV<0) {r.prob_below_zero:.1%}]")


def measure(case, label: str) -> None:
    n_lines = len(case.lines)
    tracemalloc.start()
    t = time.perf_counter()
    r = monte_carlo(case, iterations=ITERATIONS, seed=0)
    cold = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    warm, cpu = [], []
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        monte_carlo(case, iterations=ITERATIONS, seed=0)
        warm.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    warm_s = statistics.median(warm)
    t = time.perf_counter()
    loop = python_loop_npvs(case, LOOP_SAMPLE)
    loop_s = (time.perf_counter() - t) * (ITERATIONS / LOOP_SAMPLE)
    print(f"{label:<34} lines={n_lines:>3} horizon={case.horizon:>2}  "
          f"cold {cold:6.3f} s  warm {warm_s:6.3f} s (CPU {statistics.median(cpu):5.3f} s)  peak traced {peak / 2**20:6.1f} MB  "
          f"python-loop (x{ITERATIONS // LOOP_SAMPLE}) {loop_s:7.1f} s  ratio {loop_s / warm_s:6.0f}x  "
          f"[P50 {r.p50:,.0f}, loop mean {loop.mean():,.0f} vs mc mean {r.mean:,.0f}]")


def main() -> None:
    print(f"vmo_lib.analysis.risk.monte_carlo, {ITERATIONS:,} iterations; baseline 'python-loop' = per-iteration loop "
          f"on {LOOP_SAMPLE:,} iterations scaled x{ITERATIONS // LOOP_SAMPLE}")
    sample = sorted((ROOT / "data" / "sample").glob("*.xlsx"))
    if sample:
        try:
            from vmo_lib.intake.loader import load_case
        except ImportError:  # pragma: no cover - loader not yet in the tree
            load_case = None
        if load_case is not None:
            cases = [load_case(p) for p in sample]
            largest = max(cases, key=lambda c: len(c.lines) * c.horizon)
            measure(largest, f"largest sample ({largest.case_id})")
    measure(generated_case(pert_share=0.0), "generated, all triangular")
    measure(generated_case(pert_share=0.3), "generated, 30% PERT")
    measure(generated_case(pert_share=1.0), "generated, all PERT")
    print(f"outlook: monte_carlo(case, as_of=...), {ITERATIONS:,} iterations; baseline 'approved-plan' = "
          f"monte_carlo(case), same iterations and seed")
    chatbot = ROOT / "data" / "sample" / "CHATBOT-2025.xlsx"
    if chatbot.exists():
        from vmo_lib.intake.loader import load_case

        measure_outlook(load_case(chatbot, as_of="2026Q3"), "2026Q3", "sample CHATBOT-2025")
    gen, review = with_actuals(generated_case(pert_share=0.3))
    measure_outlook(gen, review, "generated 30% PERT, half actuals")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of this process: {rss:.0f} MB (target: under 300 MB; includes pandas/scipy imports)")


if __name__ == "__main__":
    main()
