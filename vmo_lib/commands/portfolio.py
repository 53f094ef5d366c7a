"""``vmo portfolio FOLDER --as-of 2026Q3 [--budget AMOUNT] [--json] [--export out.xlsx|out.csv]``.

The register of every case, the selection at a budget per calendar year, what the next slice of
budget would buy, double counting, and what the organisation's history says about each case type.

JSON keys (stable)
------------------
``as_of, view, cases`` (one object per case: the :data:`vmo_lib.portfolio.core.REGISTER_COLUMNS`),
``totals_by_currency`` (``currency, cases, baseline_npv, expected_npv, forward_npv, pv_costs, budget``;
money is never added across currencies), ``failures`` (``path, kind, error``), ``selection`` (null
without ``--budget``; else ``budget, candidates, value_basis, selected, value, note, spend`` — one
``{year, budget, spend, headroom}`` per calendar year — ``must_do`` and ``next_step``:
``{step, value_gain, entering, leaving, next_breakpoint, next_value_gain, sentence}``),
``nonfinite`` (case ids whose figures are not finite: in the register, left out of totals and
selection), ``portfolio_risk`` (null unless a target or ``--portfolio-iterations`` is given: the
portfolio Monte Carlo, :meth:`vmo_lib.portfolio.risk.PortfolioRisk.to_dict`), ``double_counting`` (one object per pair: ``kpi_key, org_unit, case_a, line_a, benefit_a, kpi_a,
case_b, line_b, benefit_b, kpi_b, overlap_from, overlap_to, overlap_quarters, amount_at_stake,
currency, note``), ``kpi_rollup`` and ``reference_class``: ``{history, uplifts, gmpp, sentences}``
(``sentences``: case type → sentence). NaN is null.

``--export`` writes ``.xlsx`` (sheets Register, Benefits, Selection, Double counting, KPI roll-up,
Reference class; text always stored as text, never as a formula) or ``.csv`` (the register; text
that a spreadsheet would run as a formula is prefixed with a quote), atomically.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("portfolio", help="portfolio register, selection at a budget, double counting, reference class",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="folder of business-case workbooks")
    p.add_argument("--as-of", required=True, help="review quarter, e.g. 2026Q3")
    p.add_argument("--budget", type=float, default=None, help="budget per calendar year for the selection")
    p.add_argument("--candidates", choices=("proposed", "active"), default="proposed",
                   help="proposed: proposed and approved cases (default); active: also cases in delivery")
    p.add_argument("--value", choices=("forward_npv", "ob_npv"), default="forward_npv",
                   help="what the selection maximises (ob_npv: optimism-bias-adjusted NPV)")
    p.add_argument("--must-do", action="append", default=None, metavar="CASE",
                   help="force a case in (repeatable; default: the Regulatory/mandatory candidates)")
    p.add_argument("--exclusive", action="append", default=[], metavar="A,B",
                   help="at most one of these cases (repeatable)")
    p.add_argument("--depends", action="append", default=[], metavar="A:B", help="A only if B (repeatable)")
    p.add_argument("--step", type=float, default=None, help="extra budget a year to price (default: the next breakpoint)")
    p.add_argument("--view", choices=("economic", "cash"), default="economic")
    p.add_argument("--risk-iterations", type=int, default=20_000,
                   help="Monte Carlo iterations per case review (0 = none); the default is the packs' and "
                        "vmo status's, so every figure agrees")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=None,
                   help="total expected benefits the portfolio should deliver: prints the chance of reaching it "
                        "(a portfolio Monte Carlo; default: portfolio.toml's [target] benefits)")
    p.add_argument("--portfolio-iterations", type=int, default=None,
                   help="iterations of the portfolio Monte Carlo (default 100,000 when a target is given; "
                        "0 = none)")
    p.add_argument("--workers", type=int, default=None, help="worker processes for loading and the register")
    p.add_argument("--export", default=None, metavar="PATH", help="write the tables to .xlsx or .csv")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _records(df) -> list[dict[str, Any]]:
    import json

    return json.loads(df.to_json(orient="records", date_format="iso"))


def _money(x: float, cur: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{cur + ' ' if cur else ''}{x:,.0f}"


def _neutralise(v: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading quote (OWASP CSV injection)."""
    return "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export_tables(path: str | os.PathLike[str], sheets: dict[str, Any]) -> Path:
    """Write named tables to ``.xlsx`` (one sheet each) or the first one to ``.csv``, atomically."""
    out = Path(path)
    if out.suffix.lower() == ".csv":
        first = next(iter(sheets.values()))
        text = first.map(_neutralise).to_csv(index=False)
        _atomic_write(out, text.encode("utf-8"))
        return out
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"--export {path}: expected a .xlsx or .csv file name")
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False, "nan_inf_to_errors": False})
    bold = wb.add_format({"bold": True})
    for name, df in sheets.items():
        ws = wb.add_worksheet(name[:31])
        for j, col in enumerate(df.columns):
            ws.write_string(0, j, str(col), bold)
            ws.set_column(j, j, max(10, min(40, len(str(col)) + 2)))
        for i, row in enumerate(df.itertuples(index=False), start=1):
            for j, v in enumerate(row):
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(i, j, v)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(i, j, float(v))
                elif hasattr(v, "item"):
                    ws.write_number(i, j, float(v.item())) if isinstance(v.item(), (int, float)) else ws.write_string(i, j, str(v))
                else:
                    ws.write_string(i, j, str(v))
        ws.freeze_panes(1, 1)
    wb.close()
    _atomic_write(out, buf.getvalue())
    return out


def run(args: argparse.Namespace) -> int:
    from types import SimpleNamespace

    from vmo_lib.analysis.review import review_case
    from vmo_lib.commands import dump_json
    from vmo_lib.intake.loader import load_portfolio
    from vmo_lib.periods import review_quarter
    from vmo_lib.portfolio import core as P
    from vmo_lib.portfolio import reference_class as R
    from vmo_lib.portfolio import risk as PR
    from vmo_lib.portfolio.review import review_portfolio
    from vmo_lib.portfolio.settings import load_portfolio_settings

    as_of = review_quarter(args.as_of)  # a malformed --as-of is a UsageError: exit 2
    pf = load_portfolio(args.folder, as_of=as_of, workers=args.workers)
    exclusive = [[x.strip() for x in g.split(",") if x.strip()] for g in args.exclusive]
    depends: dict[str, list[str]] = {}
    for d in args.depends:
        a, _, b = d.partition(":")
        if not a or not b:
            print(f"vmo: --depends {d!r}: expected A:B (A only if B)", file=sys.stderr)
            return 2
        depends.setdefault(a.strip(), []).append(b.strip())
    settings = load_portfolio_settings(args.folder, {
        "budget": args.budget, "value": None if args.value == "forward_npv" else args.value, "target": args.target,
        "must_do": args.must_do, "exclusive": exclusive or None, "depends_on": depends or None})
    pr = review_portfolio([review_case(c, as_of, view=args.view, seed=args.seed, iterations=args.risk_iterations)
                           for c in pf.cases], as_of, settings=settings, failures=pf.failures, seed=args.seed)
    reg = SimpleNamespace(as_of=as_of, view=args.view, cases=pr.register, benefits=pr.benefits)
    totals = pr.totals
    dc = pr.double_counting  # one row per KPI group (near-linear in the number of claims)
    kpis = P.kpi_rollup(reg.benefits)
    history = R.history_ratios(pf, args.as_of)
    uplifts = R.reference_class_uplifts(history)
    gmpp = R.gmpp_budget_variance(None)
    types = sorted({str(c.meta.get("case_type") or "") for c in pf} - {""})
    sentences = {t: R.reference_class_sentence(t, history, gmpp) for t in types}

    sel = pr.selection  # the one selection: committed cases first, then the discretionary choice
    if pr.selection_infeasible:
        print(f"vmo: {pr.selection_note}", file=sys.stderr)
        return 1
    selection = step = None
    if sel is not None:
        selection = {"budget": pr.annual_budget, **sel.to_dict(), "decisions": _records(sel.decisions.reset_index())}
        # what the next slice of budget would buy among the discretionary candidates
        options, costs = P.selection_options(pf, as_of, "proposed", settings.value, args.view, reg.cases)
        if len(options):
            available = {int(y): float(v) for y, v in sel.budget["available"].items()}
            must = (list(options.index[options["must_do"].astype(bool)]) if settings.must_do is None
                    else [m for m in settings.must_do if m in options.index])
            step = P.budget_step(options["value"], costs, available, args.step, must, settings.exclusive,
                                 settings.depends_on)
            selection["next_step"] = {"step": step.step, "value_gain": step.value_gain, "entering": step.entering,
                                      "leaving": step.leaving, "next_breakpoint": step.next_breakpoint,
                                      "next_value_gain": step.next_value_gain,
                                      "sentence": step.sentence(str(options["currency"].iloc[0]))}

    # the portfolio's chance of meeting its benefit target (when a target or iterations are given)
    p_iter = args.portfolio_iterations
    if p_iter is None:
        p_iter = PR.DEFAULT_ITERATIONS if pr.target_benefits is not None else 0
    if p_iter < 0:
        print(f"vmo: --portfolio-iterations {p_iter}: expected a whole number >= 0", file=sys.stderr)
        return 2
    p_risk = pr.risk(iterations=p_iter) if p_iter else None

    if args.export:
        sheets = {"Register": reg.cases, "Benefits": reg.benefits}
        if sel is not None:
            sheets["Selection"] = sel.decisions.reset_index().rename(columns=str)
        sheets["Double counting"] = dc.groups
        sheets["KPI roll-up"] = kpis
        sheets["Reference class"] = uplifts
        export_tables(args.export, sheets)

    if args.json:
        dump_json({
            "as_of": reg.as_of, "view": reg.view, "basis": pr.basis.describe(),
            "cases": [r.to_dict(detail=False) for r in pr.reviews.values()],
            "register": _records(reg.cases),
            "totals_by_currency": _records(totals),
            "failures": _records(pf.failures[["path", "kind", "error"]]),
            "nonfinite": list(pr.nonfinite),
            "portfolio_risk": None if p_risk is None else p_risk.to_dict(),
            "selection": selection, "double_counting": dc.to_dict(top=50), "kpi_rollup": _records(kpis),
            "reference_class": {"history": _records(history), "uplifts": _records(uplifts), "gmpp": _records(gmpp),
                                "sentences": sentences, "attribution": R.GMPP_ATTRIBUTION},
        })
        return _left_out(pf)

    print(f"Portfolio {args.folder} as of {reg.as_of}: {len(pf)} case(s), {len(pf.failures)} not loaded")
    cols = ["case_id", "status", "decision", "verdict", "rag", "in_force_npv", "expected_npv", "forward_npv", "vfm"]
    t = reg.cases[cols].copy()
    for c in ("in_force_npv", "expected_npv", "forward_npv"):
        t[c] = t[c].map(_money)
    t["vfm"] = t["vfm"].map(lambda x: "n/a" if math.isnan(x) else f"{x:.2f}")
    print(t.to_string(index=False))
    print(f"Portfolio basis: {pr.basis.describe()}")
    for _, r in totals.iterrows():
        on = "on the portfolio basis" if r["restated"] else "NOT restated (own bases)"
        print(f"Total {r['currency']} ({r['cases']} cases, {on}): NPV in force {_money(r['in_force_npv_pb'])}, "
              f"expected NPV {_money(r['expected_npv_pb'])}, forward NPV {_money(r['forward_npv_pb'])}")
    for _, f in pf.failures.iterrows():
        print(f"not loaded: {Path(str(f['path'])).name}: {f['error']}")
    if pr.nonfinite_note:
        print(pr.nonfinite_note)
    if sel is not None:
        print(f"\nSelection at {pr.annual_budget:,.0f} a year: committed {', '.join(sel.committed) or 'none'}; "
              f"selected {', '.join(sel.selection.selected) or 'nothing'}; not funded {', '.join(sel.not_funded) or 'none'} "
              f"(value {_money(sel.value)})") if isinstance(pr.annual_budget, (int, float)) else print(
            f"\nSelection: committed {', '.join(sel.committed) or 'none'}; selected "
            f"{', '.join(sel.selection.selected) or 'nothing'}")
        if sel.note:
            print(f"  {sel.note}")
        if step is not None:
            print(f"  {step.sentence()}")
    elif pr.selection_note:
        print(f"\n{pr.selection_note}")
    if p_risk is not None:
        shown = PR.portfolio_risk_summary(p_risk, top=5)
        print(f"\nPortfolio Monte Carlo ({p_risk.currency} on the portfolio basis):")
        head = shown["headline"].copy()
        print(head.map(_money).to_string())
        print(shown["sentence"])
        d = shown["drivers"]
        print("Cases driving the spread (share of the NPV variance): " + ", ".join(
            f"{c} {v:.0%}" for c, v in zip(d["case_id"], d["share of NPV variance"], strict=True)))
    print()
    for line in dc.text(10):  # the largest groups, then a count of the rest: bounded at any size
        print(line)
    print("\nReference class:")
    for t_, s in sentences.items():
        print(f"  {t_}: {s}")
    print(f"  ({R.GMPP_ATTRIBUTION}.)")
    if args.export:
        print(f"\nwritten: {args.export}")
    return _left_out(pf)


def _left_out(pf) -> int:
    """Exit 1, listing them on stderr, when some workbooks were not loaded (the figures leave them out)."""
    if not len(pf.failures):
        return 0
    names = ", ".join(Path(str(p)).name for p in pf.failures["path"])
    print(f"vmo: {len(pf.failures)} workbook(s) not loaded and left out of the portfolio: {names}", file=sys.stderr)
    return 1
