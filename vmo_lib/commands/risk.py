"""``vmo risk PATH [--iterations N] [--seed S] [--json]``: how wrong the case could plausibly be.

Runs :mod:`vmo_lib.analysis.risk` on one workbook: Monte Carlo of the NPV from the three-point estimates,
switching values, the tornado and the optimism-bias adjustment.

JSON keys (stable): ``case_id``, ``scenario``, ``view``, ``currency``;
``monte_carlo``: ``iterations, seed, deterministic_npv, mean, std, p10, p50, p90, prob_negative,
expected_shortfall_worst_decile``; ``monte_carlo_settings``: ``rho, cost_overrun, delay,
stochastic_lines, lines``; ``three_point``: ``pessimistic, likely, optimistic`` (NPVs);
``switching_values``: list of ``driver, value, unit, npv_at_value, note``; ``tornado``: list of
``driver, kind, low, high, npv_low, npv_high, swing, base_npv, switching_change``;
``optimism_bias``: ``capex, opex, duration, benefits, delay_periods, reference_class, from_case``;
``optimism_bias_appraisal``: list of ``metric, label, before, after, change``. NaN is ``null``.
"""

from __future__ import annotations

import argparse
import math
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("risk", help="risk analysis of a workbook: Monte Carlo, switching values, tornado, optimism bias",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="business-case workbook (.xlsx)")
    p.add_argument("--iterations", type=int, default=100_000, help="Monte Carlo iterations (default 100,000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same numbers")
    p.add_argument("--scenario", default="baseline",
                   help="baseline (default), current (the baseline in force) or a scenario name")
    p.add_argument("--view", choices=("economic", "cash"), default="economic")
    p.add_argument("--reference-class", action="store_true",
                   help="add the fat-tailed IT cost overrun (Flyvbjerg & Budzier 2011) to the Monte Carlo")
    p.add_argument("--ob-delay", action="store_true",
                   help="draw a benefit delay uniformly between 0 and the optimism-bias delay")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _money(x: float, cur: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{cur} {x:,.0f}"


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.appraisal import npv_of
    from vmo_lib.analysis.risk import appraisal_with_optimism_bias, monte_carlo, switching_values, tornado
    from vmo_lib.analysis.scenarios import THREE_POINT_SCENARIOS, optimism_bias, three_point_scenarios
    from vmo_lib.commands import dump_json
    from vmo_lib.intake.loader import load_case

    if args.iterations < 1:
        print("vmo: --iterations must be at least 1", file=sys.stderr)
        return 2
    case = load_case(args.path)
    scenario = case.current_baseline if args.scenario == "current" else args.scenario
    if scenario not in case.scenarios:
        print(f"vmo: {args.path}: no scenario {scenario!r}; the case has {', '.join(case.scenarios)}", file=sys.stderr)
        return 2
    mc = monte_carlo(case, iterations=args.iterations, seed=args.seed, scenario=scenario, view=args.view,
                     cost_overrun="reference-class" if args.reference_class else None,
                     delay="optimism-bias" if args.ob_delay else None)
    tp = three_point_scenarios(case, scenario)
    three = {s: npv_of(tp, s, args.view) for s in THREE_POINT_SCENARIOS}
    sv = switching_values(case, scenario, args.view)
    tor = tornado(case, scenario, args.view)
    ob_table = appraisal_with_optimism_bias(case, scenario, args.view)
    cur = str(case.meta.get("currency") or "")
    if args.json:
        dump_json({
            "case_id": case.case_id, "scenario": scenario, "view": args.view, "currency": cur,
            "monte_carlo": mc.summary(), "monte_carlo_settings": mc.settings, "three_point": three,
            "switching_values": sv.to_dict(orient="records"), "tornado": tor.to_dict(orient="records"),
            "optimism_bias": optimism_bias(case).to_dict(),
            "optimism_bias_appraisal": ob_table.reset_index().to_dict(orient="records"),
        })
        return 0
    s = mc.summary()
    print(f"{case.case_id} — {case.title}  ({scenario}, {args.view} view)")
    print(f"NPV as planned          {_money(s['deterministic_npv'], cur)}")
    print(f"Three-point NPV         pessimistic {_money(three['pessimistic'], cur)} · likely "
          f"{_money(three['likely'], cur)} · optimistic {_money(three['optimistic'], cur)}")
    print(f"Monte Carlo ({s['iterations']:,} iterations, seed {s['seed']})")
    print(f"  P10 / P50 / P90       {_money(s['p10'], cur)} / {_money(s['p50'], cur)} / {_money(s['p90'], cur)}")
    print(f"  mean ± std            {_money(s['mean'], cur)} ± {_money(s['std'], cur)}")
    print(f"  P(NPV < 0)            {s['prob_negative']:.1%}")
    print(f"  worst-decile mean     {_money(s['expected_shortfall_worst_decile'], cur)}")
    print("Switching values")
    for r in sv.itertuples():
        print(f"  {r.driver:<20}  {r.note}")
    print("Largest sensitivities (NPV at low / high)")
    for r in tor.head(5).itertuples():
        print(f"  {r.driver:<20}  {_money(r.npv_low, cur)} / {_money(r.npv_high, cur)}")
    print(f"With optimism bias      NPV {_money(ob_table.loc['npv', 'after'], cur)} "
          f"(before {_money(ob_table.loc['npv', 'before'], cur)})")
    return 0
