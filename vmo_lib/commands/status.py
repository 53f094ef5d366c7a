"""``vmo status PATH --as-of 2026Q3 [--json] [--view economic|cash]``: benefits realisation and value verdict.

Loads one business-case workbook (with the filled actuals returns in ``<workbook stem>.returns/``
beside it) and prints, as of the review quarter: the verdict in words with the figures behind it,
the NPVs (approved baseline, baseline in force, expected = actuals then forecast, forward-looking),
the value bridge (cost, benefit and timing effects that add up to the NPV change), realisation to
date, a RAG per benefit and the measurement gaps. Variances: positive = better than plan.

``--json`` prints one object with the stable keys of
:meth:`vmo_lib.analysis.realisation.CaseStatus.to_dict` (:data:`vmo_lib.analysis.realisation.STATUS_KEYS`), among
them ``case_id, as_of, baseline_npv, current_baseline_npv, expected_npv, forward_npv, verdict, rag,
realisation_pct, cost_spend_pct, bridge`` (``cost``, ``benefit``, ``timing``, which sum to
``expected_npv - baseline_npv``), ``benefits`` and ``gaps``. Percentages are fractions; NaN is null.

Exit code: 0 when the status was produced (whatever the verdict), 1 when the workbook or a return
has errors, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from vmo_lib.commands import add_command
from vmo_lib.commands import clean as _clean


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "status", "the review of one case: benefits realised, value bridge, verdict and decision",
        "Review one business case as of a quarter: whether it is creating or destroying value and why.\n"
        "Shows the verdict and the decision it calls for, the NPV approved, expected (actuals to date,\n"
        "then forecast, else plan) and still to come, the value bridge (how cost, benefit and timing\n"
        "moved the NPV), benefits realised to date line by line, and measurement gaps. Filled actuals\n"
        "returns in the folder <workbook name>.returns beside the workbook are read too. A variance\n"
        "above zero is better than plan.",
        ["vmo status data/sample/CRM-2025.xlsx --as-of 2026Q3",
         "vmo status data/sample/ERP-2024.xlsx --as-of 2026Q3 --view cash   # cash-releasing benefits only"])
    p.add_argument("path", metavar="WORKBOOK", help="one business-case workbook (.xlsx)")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="review quarter, e.g. 2026Q3")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="benefits counted: economic (every monetised benefit, default) or cash (cash-releasing only)")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys listed in the README)")
    p.add_argument("--history", metavar="PATH", default=None,
                   help="quarterly history consulted for an earlier quarter (default: vmo-history.duckdb beside the workbook)")
    p.set_defaults(func=run)


def _pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{0.0 if abs(x) < 0.005 else x:.0%}"


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.review import review_case
    from vmo_lib.commands import dump_json, one_workbook
    from vmo_lib.intake.loader import load_case
    from vmo_lib.periods import review_quarter

    as_of = review_quarter(args.as_of)  # a malformed --as-of is a UsageError: exit 2
    workbook = one_workbook(args.path, "status")
    case = load_case(workbook, as_of=as_of)
    from vmo_lib.history.replay import replay_from_file
    from vmo_lib.history.store import DEFAULT_FILE, HistoryError

    history = getattr(args, "history", None) or Path(workbook).with_name(DEFAULT_FILE)
    try:  # an earlier quarter: the forecasts as recorded then, or reconstructed from today's files
        case, _, note = replay_from_file(case, as_of, history)
    except HistoryError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return 2
    if note:
        print(f"vmo: note: {note}", file=sys.stderr)
    review = review_case(case, as_of, view=args.view, seed=getattr(args, "seed", 0) or 0)
    if args.json:
        dump_json(review.to_dict())
        return 0
    print(format_status(review.status))
    print(f"\nDecision: {review.decision.upper()}: {_clean(review.decision_reason)}")
    return 0


def format_status(s) -> str:
    """The human summary of a :class:`~vmo_lib.analysis.realisation.CaseStatus` (what ``vmo status`` prints)."""
    from vmo_lib.analysis.realisation import VARIANCE_NOTE
    from vmo_lib.commands import money, money_change, table

    cur = s.currency

    def m(x: float, sign: bool = False) -> str:
        return money_change(x, cur) if sign else money(x, cur)

    out = [f"{_clean(s.case_id)} · {_clean(s.title)} · as of {s.as_of} ({s.view} view, {cur})", ""]
    out.append(f"Verdict: {s.verdict.label.upper()}  (RAG {s.rag}: {_clean(s.rag_reason)})")
    out.append(f"  {s.verdict_sentence}")
    out.append(f"  Rule: {s.verdict.rule}.")
    out.append("")
    npv = [("Approved", m(s.baseline_npv), "the business case as approved")]
    if s.baseline_in_force != "baseline":
        npv.append(("In force", m(s.current_baseline_npv), f"the plan after re-baselining ({s.baseline_in_force})"))
    npv.append(("Expected", m(s.expected_npv), f"actuals to {s.as_of}, then forecast, else plan"))
    if s.continue_signal == "complete":
        npv.append(("Still to come", "–", "nothing remains in the horizon"))
    else:
        npv.append(("Still to come", m(s.forward_npv),
                    f"what remains, valued at {s.forward_discounted_to}; money already spent ignored"))
    out.append("Net present value (discounted to the case's first period)")
    out.append(table(["NPV", "Amount", "Meaning"], npv, align="lrl", indent=2))
    out.append("")
    out.append("Value bridge: how costs, benefits and timing moved the NPV to the expected one")
    headers = ["Starting from", "Starting NPV", "Costs", "Benefits", "Timing", "Expected NPV"]
    b = s.bridge
    rows = [("approved baseline", m(b.start), m(b.cost, True), m(b.benefit, True), m(b.timing, True), m(b.end))]
    if s.bridge_current is not None:
        c = s.bridge_current
        rows.append((f"plan in force ({s.baseline_in_force})", m(c.start), m(c.cost, True), m(c.benefit, True),
                     m(c.timing, True), m(c.end)))
    out.append(table(headers, rows, indent=2))
    t = s.totals
    out.append("")
    out.append(f"Realisation to date: benefits {_pct(s.realisation_pct)} of plan "
               f"({m(t['benefit_actual_to_date'])} of {m(t['benefit_plan_to_date'])}); "
               f"costs {_pct(s.cost_spend_pct)} of plan ({m(t['cost_actual_to_date'])} of {m(t['cost_plan_to_date'])})")
    if len(s.benefits):
        out.append("")
        rows = [(f"{r.line_id} {r.name or ''}", m(r.plan_to_date), m(r.actual_to_date), m(r.variance_to_date, True),
                 _pct(r.realisation_pct), _pct(r.kpi_progress_pct), str(r.rag).upper())
                for r in s.benefits.itertuples(index=False)]
        out.append(table(["Benefit", "Plan to date", "Actual", "Variance", "Realised", "KPI progress", "RAG"],
                         rows, align="lrrrrrl", indent=2, max_width=40))
    out.append("")
    if len(s.gaps):
        out.append(f"Measurement gaps ({len(s.gaps)}):")
        for g in s.gaps.itertuples(index=False):
            when = f" [{g.periods}]" if g.periods else ""
            out.append(f"  {_clean(g.line_id)}: {g.gap}: {_clean(g.detail)}{when}")
    else:
        out.append("Measurement gaps: none")
    out.append("")
    out.append(VARIANCE_NOTE)
    return "\n".join(out)
