"""``vmo appraise PATH [--scenario S] [--view economic|cash] [--rate R] [--cashflows] [--json]``: the case-level metrics.

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

from vmo_lib.commands import RateAction, add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "appraise", "the investment appraisal of one business case (NPV, IRR, payback, ...)",
        "Appraise one business-case workbook as approved: present value of costs and benefits, net present\n"
        "value (NPV), internal rate of return (IRR and modified IRR), return on investment, benefit-cost\n"
        "ratio, payback and equivalent annual cost. Money is discounted to the case's first period at the\n"
        "case's own discount rate unless you give --rate.",
        ["vmo appraise data/sample/CRM-2025.xlsx",
         "vmo appraise data/sample/CRM-2025.xlsx --rate 3.5% --cashflows   # at 3.5% a year, with the cash flows",
         "vmo appraise data/sample/CRM-2025.xlsx --view cash                # cash-releasing benefits only"])
    p.add_argument("path", metavar="WORKBOOK", help="one business-case workbook (.xlsx)")
    p.add_argument("--scenario", default="baseline",
                   help="which plan to appraise: baseline (the approved plan, default), current (the plan in "
                        "force after any re-baseline) or the name of a scenario in the workbook")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="economic: every benefit valued in money (default); cash: only benefits that release cash")
    p.add_argument("--rate", action=RateAction, default=None, metavar="RATE",
                   help="discount at this flat annual rate instead of the case's own: 0.035 or 3.5%%")
    p.add_argument("--cashflows", action="store_true",
                   help="also show the costs, benefits and discounted net cash flow of every period")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys listed in the README)")
    p.set_defaults(func=run)


def _pct(x: float) -> str:
    from vmo_lib.formatting import format_percent

    return "none" if x is None or math.isnan(x) else format_percent(x, 1)


def _years(x: float) -> str:
    return "never" if x is None or math.isnan(x) else f"{x:,.1f} years"


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.appraisal import appraise
    from vmo_lib.commands import clean, dump_json, money, one_workbook, table
    from vmo_lib.errors import UsageError
    from vmo_lib.formatting import format_number, format_percent
    from vmo_lib.intake.loader import load_case

    case = load_case(one_workbook(args.path, "appraise"))
    scenario = case.current_baseline if args.scenario == "current" else args.scenario
    if scenario not in case.scenarios:
        raise UsageError(f"{args.path} has no scenario {scenario!r}; its scenarios are {', '.join(case.scenarios)} "
                         "(or use --scenario current for the plan in force)")
    a = appraise(case, scenario=scenario, view=args.view, annual_rate=args.rate)
    if args.json:
        dump_json(a.to_dict(cashflows=args.cashflows))
        return 0
    cur = a.currency

    def m(x: float) -> str:
        return money(x, cur)

    rate = (f"{format_percent(a.annual_rate, 1)} a year" if a.discount_schedule == "flat"
            else f"the {a.discount_schedule} schedule")
    view = "every monetised benefit" if a.view == "economic" else "cash-releasing benefits only"
    print(f"{clean(case.case_id)} · {clean(case.title)}")
    print(f"Plan appraised: {a.scenario}; {view}; {a.price_base} prices, discounted at {rate}")
    print()
    rows = [
        ("Present value of costs", m(a.pv_costs), f"capital {m(a.pv_capex)}, running {m(a.pv_opex)}"),
        ("Present value of benefits", m(a.pv_benefits),
         f"cash-releasing {m(a.pv_cash_benefits)}, dis-benefits {m(a.pv_disbenefits)}"),
        ("Net present value (NPV)", m(a.npv), "benefits minus costs, discounted"),
        ("Internal rate of return", _pct(a.irr),
         "a year" + (f"; {a.irr_note}" if "Ambiguous" in a.irr_note else "")),
        ("Modified IRR", _pct(a.mirr), "a year"),
        ("Return on investment", _pct(a.roi), "(benefits − costs) / costs, discounted"),
        ("Benefit-cost ratio", "none" if math.isnan(a.bcr) else format_number(a.bcr, 2), "benefits / costs"),
        ("Payback", _years(a.payback_years), "until the cash spent is back"),
        ("Discounted payback", _years(a.discounted_payback_years), "the same, discounted"),
        ("Equivalent annual cost", m(a.equivalent_annual_cost), "the costs as an even yearly charge"),
    ]
    print(table(["Measure", "Value", "What it is"], rows, align="lrl"))
    for note in a.notes:
        print(f"Note: {clean(note)}")
    if args.cashflows:
        cf = a.cashflows
        print()
        print(f"Cash flows by period ({cur}; the discount factor brings each period to {cf['period'].iloc[0]})")
        print(table(["Period", "Costs", "Benefits", "Net", "Discount factor", "Discounted net",
                     "Cumulative discounted"],
                    [(r.period, m(r.costs), m(r.benefits), m(r.net), f"{r.discount_factor:.4f}", m(r.pv_net),
                      m(r.cumulative_pv_net)) for r in cf.itertuples(index=False)]))
    return 0
