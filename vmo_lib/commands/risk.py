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

from vmo_lib.commands import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "risk", "how wrong one case could be: Monte Carlo, switching values, sensitivities, optimism bias",
        "Simulate one business case many times over, drawing each cost and benefit from its low / likely /\n"
        "high estimates, and show the range of NPV that results (P10, P50, P90), the chance the NPV ends\n"
        "below zero and the chance it gets back to the approved NPV; how far each driver can move before\n"
        "the NPV reaches zero (switching values); the drivers that move the NPV most; and the NPV after the\n"
        "Green Book optimism-bias uplift.\n\n"
        "By default it simulates the outlook as of the review quarter: actuals to date are fixed and only\n"
        "what remains is uncertain. With --approved it simulates the approved plan as the board accepted it.",
        ["vmo risk data/sample/ERP-2024.xlsx --as-of 2026Q3 --seed 0",
         "vmo risk data/sample/ERP-2024.xlsx --approved                # the risk accepted at approval",
         "vmo risk data/sample/ERP-2024.xlsx --as-of 2026Q3 --reference-class   # add IT cost-overrun history"])
    p.add_argument("path", metavar="WORKBOOK", help="one business-case workbook (.xlsx)")
    basis = p.add_mutually_exclusive_group()
    basis.add_argument("--as-of", metavar="QUARTER",
                       help="simulate the outlook as of this review quarter (default: today's quarter)")
    basis.add_argument("--approved", action="store_true",
                       help="simulate the approved plan (--scenario) instead of the outlook")
    p.add_argument("--iterations", type=int, default=100_000, help="Monte Carlo iterations (default 100,000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same figures")
    p.add_argument("--scenario", default="baseline",
                   help="with --approved: baseline (the approved plan, default), current (the plan in force after "
                        "any re-baseline) or the name of a scenario in the workbook")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="economic: every monetised benefit (default); cash: cash-releasing benefits only")
    p.add_argument("--reference-class", action="store_true",
                   help="add the cost overruns IT projects have historically had (Flyvbjerg & Budzier 2011, "
                        "a long tail of large overruns) to the simulation")
    p.add_argument("--ob-delay", action="store_true",
                   help="also delay benefits by a random amount, up to the Green Book optimism-bias delay")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys listed in the README)")
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
    from vmo_lib.commands import clean, dump_json, money, one_workbook, table
    from vmo_lib.errors import UsageError
    from vmo_lib.formatting import format_percent
    from vmo_lib.intake.loader import load_case
    from vmo_lib.periods import review_quarter

    if args.iterations < 1:
        raise UsageError(f"--iterations {args.iterations}: the simulation needs at least 1 iteration")
    as_of = None if args.approved else review_quarter(args.as_of)   # UsageError (exit 2) when malformed
    path = one_workbook(args.path, "risk")
    case = load_case(path) if as_of is None else load_case(path, as_of=as_of)
    if as_of is not None:  # the baseline in force at the review date (a later re-baseline is not yet)
        from vmo_lib.analysis.realisation import known_at

        case = known_at(case, as_of)
    scenario = case.current_baseline if args.scenario == "current" else args.scenario
    if scenario not in case.scenarios:
        raise UsageError(f"{args.path} has no scenario {scenario!r}; its scenarios are {', '.join(case.scenarios)} "
                         "(or use --scenario current for the plan in force)")
    if as_of is not None and scenario not in ("baseline", case.current_baseline):
        raise UsageError(f"--scenario {args.scenario} picks a plan to simulate: add --approved (the outlook as of "
                         f"{as_of} follows the plan in force, {case.current_baseline})")
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

    def m(x: float) -> str:
        return money(x, cur)

    s = mc.summary()
    outlook = as_of is not None
    print(f"{clean(case.case_id)} · {clean(case.title)}")
    if outlook:
        fixed = mc.settings.get("fixed_through")
        print(f"Risk on the {mc.basis} ({args.view} view): actuals"
              f"{f' to {fixed}' if fixed else ''} fixed, then forecast, then the plan in force; "
              "ranges apply to what remains")
        print(f"Expected NPV            {m(s['deterministic_npv'])}")
        print(f"Approved NPV in force   {m(s['reference_npv'])}")
    else:
        print(f"Risk on the {mc.basis} ({scenario}, {args.view} view): no actuals")
        print(f"NPV as planned          {m(s['deterministic_npv'])}")
    print(f"Three-point NPV         pessimistic {m(three['pessimistic'])} · likely "
          f"{m(three['likely'])} · optimistic {m(three['optimistic'])}")
    print(f"Monte Carlo ({s['iterations']:,} iterations, seed {s['seed']}; {mc.basis})")
    print(f"  P10 / P50 / P90       {m(s['p10'])} / {m(s['p50'])} / {m(s['p90'])}"
          "  (1 run in 10 ends below P10, half below P50, 9 in 10 below P90)")
    print(f"  mean ± std            {m(s['mean'])} ± {m(s['std'])}  (average ± standard deviation)")
    print(f"  P(NPV < 0)            {format_percent(s['prob_below_zero'], 1)}  (chance the NPV ends below zero)")
    print(f"  P(NPV ≥ approved)     {format_percent(s['prob_reach_approved'], 1)}"
          f"  (chance of getting back to the approved NPV in force, {m(s['reference_npv'])})")
    print(f"  worst-decile mean     {m(s['expected_shortfall_worst_decile'])}  (average of the worst 1 run in 10)")
    print()
    print(f"Switching values: how far each driver can move before the NPV reaches zero ({mc.basis})")
    print(table(["Driver", "Switching value"], [(r.driver, r.note) for r in sv.itertuples()], align="ll", indent=2))
    print()
    print(f"Largest sensitivities: the NPV at each driver's low and high estimate ({mc.basis})")
    print(table(["Driver", "NPV at low", "NPV at high", "Swing"],
                [(r.driver, m(r.npv_low), m(r.npv_high), m(r.swing)) for r in tor.head(5).itertuples()], indent=2))
    print()
    print(f"With optimism bias      NPV {m(ob_table.loc['npv', 'after'])} "
          f"(before {m(ob_table.loc['npv', 'before'])}; approved plan)")
    return 0
