"""``vmo appraise PATH [--scenario S] [--view economic|cash] [--json]``: the case-level metrics.

JSON keys (stable; documented in the README): ``case_id, scenario, view, currency, price_base,
periods_per_year, discount_schedule, annual_rate, pv_costs, pv_capex, pv_opex, pv_benefits,
pv_benefits_by_type, pv_cash_benefits, pv_disbenefits, npv, irr, irr_per_period, irr_note, mirr, roi,
bcr, payback, payback_years, discounted_payback, discounted_payback_years, equivalent_annual_cost,
undiscounted_costs, undiscounted_benefits, notes`` and, with ``--cashflows``, ``cashflows``.
NaN (no answer, e.g. never pays back) is ``null``.
"""

from __future__ import annotations

import argparse
import math
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("appraise", help="appraise a business-case workbook (NPV, IRR, payback, ...)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="business-case workbook (.xlsx)")
    p.add_argument("--scenario", default="baseline",
                   help="baseline (default), current (the baseline in force after re-baselining) or a scenario name")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="economic: all monetised benefits (default); cash: cash-releasing benefits only")
    p.add_argument("--rate", type=float, default=None, help="override the annual discount rate (flat)")
    p.add_argument("--cashflows", action="store_true", help="include the per-period cash-flow table")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _fmt_money(x: float, cur: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{cur} {x:,.0f}"


def _fmt_pct(x: float) -> str:
    return "none" if x is None or math.isnan(x) else f"{x:.2%}"


def _fmt_num(x: float, unit: str = "") -> str:
    return "never" if x is None or math.isnan(x) else f"{x:,.2f}{unit}"


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.appraisal import appraise
    from vmo_lib.commands import dump_json
    from vmo_lib.intake.loader import load_case

    case = load_case(args.path)
    scenario = case.current_baseline if args.scenario == "current" else args.scenario
    if scenario not in case.scenarios:
        print(f"vmo: {args.path}: no scenario {scenario!r}; the case has {', '.join(case.scenarios)}", file=sys.stderr)
        return 2
    a = appraise(case, scenario=scenario, view=args.view, annual_rate=args.rate)
    if args.json:
        dump_json(a.to_dict(cashflows=args.cashflows))
        return 0
    cur = a.currency
    rows = [
        ("Case", f"{case.case_id} — {case.title}"),
        ("Scenario / view", f"{a.scenario} / {a.view} ({a.price_base} prices, {a.discount_schedule} "
                            f"{'schedule' if a.discount_schedule != 'flat' else f'{a.annual_rate:.2%} a year'})"),
        ("PV costs", _fmt_money(a.pv_costs, cur) + f"  (capex {_fmt_money(a.pv_capex, cur)}, opex {_fmt_money(a.pv_opex, cur)})"),
        ("PV benefits", _fmt_money(a.pv_benefits, cur) + f"  (cash-releasing {_fmt_money(a.pv_cash_benefits, cur)},"
                                                         f" dis-benefits {_fmt_money(a.pv_disbenefits, cur)})"),
        ("NPV", _fmt_money(a.npv, cur)),
        ("IRR (annual)", _fmt_pct(a.irr) + (f"  — {a.irr_note}" if "Ambiguous" in a.irr_note else "")),
        ("MIRR (annual)", _fmt_pct(a.mirr)),
        ("ROI (PVB−PVC)/PVC", _fmt_pct(a.roi)),
        ("Benefit-cost ratio", _fmt_num(a.bcr)),
        ("Payback", _fmt_num(a.payback_years, " years")),
        ("Discounted payback", _fmt_num(a.discounted_payback_years, " years")),
        ("Equivalent annual cost", _fmt_money(a.equivalent_annual_cost, cur)),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for note in a.notes:
        print(f"note: {note}")
    return 0
