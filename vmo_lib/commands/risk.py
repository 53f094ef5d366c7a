"""``vmo risk PATH [--as-of QUARTER | --approved] [--iterations N] [--seed S] [--json]``: how wrong the case could be.

Runs :mod:`vmo_lib.analysis.risk` on one workbook: Monte Carlo of the NPV from the three-point estimates,
switching values, the tornado and the optimism-bias adjustment.

What is simulated (the *basis*, printed on every figure and carried in the JSON):

* default: the **outlook as of** the review quarter (``--as-of``, default today's quarter by
  :func:`vmo_lib.periods.review_quarter`, the one rule): actuals to date, fixed, then the forecast, then the
  plan in force; the ranges, overrun and delay act only on the periods after the review. It answers "where
  will this case end up from here", the question a review pack asks.
* ``--approved``: the **approved plan** (``--scenario``, default the baseline) as at approval, with no
  actuals: the risk the board accepted.

JSON keys (stable): ``case_id``, ``scenario`` (``expected`` on the outlook), ``view``, ``currency``,
``basis`` (``"outlook as of 2026Q3"`` or ``"approved plan"``), ``as_of`` (null for the approved plan);
``monte_carlo``: ``basis, as_of, iterations, seed, deterministic_npv, mean, std, p10, p50, p90, prob_negative,
prob_below_zero, reference_npv, prob_reach_approved, expected_shortfall_worst_decile`` (``deterministic_npv``
is the expected NPV on the outlook; ``reference_npv`` the approved NPV in force, ``prob_reach_approved`` the
chance of getting back to it); ``monte_carlo_settings``: ``rho, cost_overrun, delay, stochastic_lines,
lines, fixed_through``; ``three_point``: ``pessimistic, likely, optimistic`` (NPVs); ``switching_values``:
list of ``driver, value, unit, npv_at_value, note``; ``tornado``: list of ``driver, kind, low, high,
npv_low, npv_high, swing, base_npv, switching_change``; ``optimism_bias``: ``capex, opex, duration,
benefits, delay_periods, reference_class, from_case``; ``optimism_bias_appraisal`` (always on the approved
plan): list of ``metric, label, before, after, change``. NaN is ``null``.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("risk", help="risk analysis of a workbook: Monte Carlo, switching values, tornado, optimism bias",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="business-case workbook (.xlsx)")
    basis = p.add_mutually_exclusive_group()
    basis.add_argument("--as-of", metavar="QUARTER",
                       help="simulate the outlook as of this review quarter (default: today's quarter)")
    basis.add_argument("--approved", action="store_true",
                       help="simulate the approved plan (--scenario) instead of the outlook")
    p.add_argument("--iterations", type=int, default=100_000, help="Monte Carlo iterations (default 100,000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same numbers")
    p.add_argument("--scenario", default="baseline",
                   help="with --approved: baseline (default), current (the baseline in force) or a scenario name")
    p.add_argument("--view", choices=("economic", "cash"), default="economic")
    p.add_argument("--reference-class", action="store_true",
                   help="add the fat-tailed IT cost overrun (Flyvbjerg & Budzier 2011) to the Monte Carlo")
    p.add_argument("--ob-delay", action="store_true",
                   help="draw a benefit delay uniformly between 0 and the optimism-bias delay")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.risk import (
        appraisal_with_optimism_bias,
        monte_carlo,
        switching_values,
        three_point_npv,
        tornado,
    )
    from vmo_lib.analysis.scenarios import optimism_bias
    from vmo_lib.commands import dump_json
    from vmo_lib.formatting import format_money, format_percent
    from vmo_lib.intake.loader import load_case
    from vmo_lib.periods import review_quarter

    if args.iterations < 1:
        print("vmo: --iterations must be at least 1", file=sys.stderr)
        return 2
    as_of = None if args.approved else review_quarter(args.as_of)   # UsageError (exit 2) when malformed
    case = load_case(args.path) if as_of is None else load_case(args.path, as_of=as_of)
    if as_of is not None:  # the baseline in force at the review date (a later re-baseline is not yet)
        from vmo_lib.analysis.realisation import known_at

        case = known_at(case, as_of)
    scenario = case.current_baseline if args.scenario == "current" else args.scenario
    if scenario not in case.scenarios:
        print(f"vmo: {args.path}: no scenario {scenario!r}; the case has {', '.join(case.scenarios)}", file=sys.stderr)
        return 2
    if as_of is not None and scenario not in ("baseline", case.current_baseline):
        print(f"vmo: --scenario {args.scenario} picks a plan to simulate: add --approved (the outlook as of "
              f"{as_of} follows the plan in force, {case.current_baseline})", file=sys.stderr)
        return 2
    mc = monte_carlo(case, iterations=args.iterations, seed=args.seed, scenario=scenario, view=args.view,
                     cost_overrun="reference-class" if args.reference_class else None,
                     delay="optimism-bias" if args.ob_delay else None, as_of=as_of)
    three = three_point_npv(case, scenario, args.view, as_of=as_of)
    sv = switching_values(case, scenario, args.view, as_of=as_of)
    tor = tornado(case, scenario, args.view, as_of=as_of)
    ob_table = appraisal_with_optimism_bias(case, "baseline" if as_of is not None else scenario, args.view)
    cur = str(case.meta.get("currency") or "")
    if args.json:
        dump_json({
            "case_id": case.case_id, "scenario": mc.scenario, "view": args.view, "currency": cur,
            "basis": mc.basis, "as_of": mc.as_of,
            "monte_carlo": mc.summary(), "monte_carlo_settings": mc.settings, "three_point": three,
            "switching_values": sv.to_dict(orient="records"), "tornado": tor.to_dict(orient="records"),
            "optimism_bias": optimism_bias(case).to_dict(),
            "optimism_bias_appraisal": ob_table.reset_index().to_dict(orient="records"),
        })
        return 0

    def money(x: float) -> str:
        return format_money(x, cur)

    s = mc.summary()
    outlook = as_of is not None
    print(f"{case.case_id} — {case.title}")
    if outlook:
        fixed = mc.settings.get("fixed_through")
        print(f"Risk on the {mc.basis} ({args.view} view): actuals"
              f"{f' to {fixed}' if fixed else ''} fixed, then forecast, then the plan in force; "
              "ranges apply to what remains")
        print(f"Expected NPV            {money(s['deterministic_npv'])}")
        print(f"Approved NPV in force   {money(s['reference_npv'])}")
    else:
        print(f"Risk on the {mc.basis} ({scenario}, {args.view} view): no actuals")
        print(f"NPV as planned          {money(s['deterministic_npv'])}")
    print(f"Three-point NPV         pessimistic {money(three['pessimistic'])} · likely "
          f"{money(three['likely'])} · optimistic {money(three['optimistic'])}")
    print(f"Monte Carlo ({s['iterations']:,} iterations, seed {s['seed']}; {mc.basis})")
    print(f"  P10 / P50 / P90       {money(s['p10'])} / {money(s['p50'])} / {money(s['p90'])}")
    print(f"  mean ± std            {money(s['mean'])} ± {money(s['std'])}")
    print(f"  P(NPV < 0)            {format_percent(s['prob_below_zero'], 1)}")
    print(f"  P(NPV ≥ approved)     {format_percent(s['prob_reach_approved'], 1)}"
          f"  (approved NPV in force {money(s['reference_npv'])})")
    print(f"  worst-decile mean     {money(s['expected_shortfall_worst_decile'])}")
    print(f"Switching values ({mc.basis})")
    for r in sv.itertuples():
        print(f"  {r.driver:<20}  {r.note}")
    print(f"Largest sensitivities ({mc.basis}; NPV at low / high)")
    for r in tor.head(5).itertuples():
        print(f"  {r.driver:<20}  {money(r.npv_low)} / {money(r.npv_high)}")
    print(f"With optimism bias      NPV {money(ob_table.loc['npv', 'after'])} "
          f"(before {money(ob_table.loc['npv', 'before'])}; approved plan)")
    return 0
