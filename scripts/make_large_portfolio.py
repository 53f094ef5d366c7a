"""Generate a large, varied portfolio of business-case workbooks (the portfolio benchmark's input).

Each case has 5–100 lines (about a third costs), 8–40 quarters, a status from proposed to closed,
quarterly actuals up to the review quarter (with noise, overruns and shortfalls) for cases past
approval, and a complete benefit profile so it passes validation. Deterministic: case ``i`` of seed
``s`` is always the same. Workbooks are written with :func:`vmo_lib.intake.template.write_case_workbook`
in parallel processes. Never commit the output (1,000 workbooks).

Usage::

    .venv/bin/python scripts/make_large_portfolio.py OUT_FOLDER [--cases 1000] [--seed 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from vmo_lib.model import BusinessCase, make_case
from vmo_lib.periods import period_end_date, period_offset, period_range, period_start_date, shift_period
from vmo_lib.schema import CASE_TYPES

AS_OF = "2026Q3"
#: The generated portfolio's settings (vmo_lib.portfolio.settings), written beside the workbooks: the
#: cases are nominal, start 2022Q4..2027Q3 and are discounted at 6, 8 or 10 %; the basis restates
#: them to 2026Q1 at a real 3.5 % in 2026 prices, deflating at 2 % a year.
SETTINGS = """\
[budget]
annual = 400_000_000

[basis]
base_period = "2026Q1"
discount_rate = 0.035
price_base = "real"
price_year = 2026
inflation = 0.02

[selection]
benefit_target = 20_000_000_000
"""
_STATUSES = ("proposed", "approved", "in delivery", "live", "closed")
_OBJECTIVES = ("Grow recurring revenue", "Run a lean, resilient operation", "Delight customers digitally",
               "Stay safe and compliant")
_UNITS = ("Finance", "Sales", "Operations", "Customer Service", "Technology", "People", "Risk", "Marketing")
_BENEFIT_TYPES = ("cash-releasing", "non-cash-releasing", "cost avoidance")
_KPIS = ("Inbound calls", "Invoices per FTE", "Hours released", "Agency spend", "Licence spend",
         "Customer satisfaction", "Conversion rate", "Incidents", "Days sales outstanding", "Cycle time")


def generate_case(i: int, seed: int = 0) -> BusinessCase:
    """Case ``i`` of the generated portfolio (deterministic)."""
    rng = np.random.default_rng([seed, i])
    n_lines = int(rng.integers(5, 101))
    horizon = int(rng.integers(8, 41))
    status = _STATUSES[int(rng.integers(0, len(_STATUSES)))]
    # past cases start earlier so that they have actuals; proposals start after the review
    start_offset = {"proposed": int(rng.integers(1, 5)), "approved": int(rng.integers(-2, 3)),
                    "in delivery": -int(rng.integers(3, 12)), "live": -int(rng.integers(6, 20)),
                    "closed": -horizon - 1}[status]
    first = shift_period(AS_OF, start_offset, "quarter")
    periods = period_range(first, horizon, "quarter")
    before_start = period_start_date(first, "quarter") - dt.timedelta(days=1)
    go_live = int(rng.integers(1, max(2, horizon // 3)))
    n_cost = max(2, n_lines // 3)
    n_ben = n_lines - n_cost
    unit = _UNITS[i % len(_UNITS)]
    meta = {
        "case_id": f"GEN-{i:04d}", "title": f"Generated investment {i}", "sponsor": f"Sponsor {i % 37}",
        "portfolio": f"Portfolio {i % 5}", "strategic_objective": _OBJECTIVES[i % len(_OBJECTIVES)],
        "org_unit": unit, "case_type": CASE_TYPES[int(rng.integers(0, len(CASE_TYPES)))], "status": status,
        "approval_date": None if status == "proposed" else before_start,
        "first_period": first, "period_length": "quarter", "horizon": horizon, "go_live_period": periods[go_live],
        "currency": "GBP", "price_base": "nominal", "base_year": int(first[:4]),
        "discount_rate": float(rng.choice([0.06, 0.08, 0.1])), "discount_schedule": "flat",
    }
    costs, benefits, actuals = [], [], []
    tau = period_offset(AS_OF, first, "quarter")
    reported = status != "proposed"
    for k in range(n_cost):
        capex = k < max(1, n_cost // 2)
        level = float(rng.lognormal(11, 1))
        amounts = np.zeros(horizon)
        if capex:
            amounts[: go_live + 1] = level
        else:
            amounts[go_live:] = level / 4
        amounts = np.round(amounts, -2)
        lid = f"C{k + 1}"
        costs.append({"line_id": lid, "name": f"Cost {k + 1}", "category": "capex" if capex else "opex",
                      "low": float(amounts.sum() * 0.9), "likely": float(amounts.sum()),
                      "high": float(amounts.sum() * 1.5), "amounts": amounts.tolist()})
        if reported:
            overrun = float(rng.lognormal(0.08, 0.15))
            for t in range(min(tau, horizon - 1) + 1):
                if amounts[t]:
                    actuals.append({"period": periods[t], "line_id": lid, "amount": float(round(amounts[t] * overrun, -2))})
    for k in range(n_ben):
        level = float(rng.lognormal(10.5, 1))
        amounts = np.zeros(horizon)
        amounts[go_live + 1:] = level
        amounts = np.round(amounts, -2)
        lid = f"B{k + 1}"
        kpi = _KPIS[int(rng.integers(0, len(_KPIS)))]
        benefits.append({
            "line_id": lid, "name": f"Benefit {k + 1}", "benefit_type": _BENEFIT_TYPES[k % len(_BENEFIT_TYPES)],
            "owner": f"Owner {k % 9}", "kpi": kpi, "unit": "count", "baseline_value": 100.0,
            "baseline_date": before_start, "target_value": 80.0,
            "target_date": period_end_date(periods[-1], "quarter"), "value_per_unit": 1000.0, "frequency": "quarterly",
            "data_source": "Management information", "enabler": "The new system", "confidence": "medium",
            "low": float(amounts.sum() * 0.5), "likely": float(amounts.sum()), "high": float(amounts.sum() * 1.2),
            "amounts": amounts.tolist(),
        })
        if reported:
            realised = float(rng.uniform(0.4, 1.2))
            for t in range(min(tau, horizon - 1) + 1):
                if amounts[t]:
                    actuals.append({"period": periods[t], "line_id": lid, "amount": float(round(amounts[t] * realised, -2)),
                                    "kpi_value": 100.0 - 20.0 * realised * min(1.0, (t - go_live) / 4)})
    return make_case(meta, costs=costs, benefits=benefits, actuals=actuals)


def _write(args: tuple[int, int, str]) -> str:
    from vmo_lib.intake.template import write_case_workbook

    i, seed, folder = args
    case = generate_case(i, seed)
    return str(write_case_workbook(case, Path(folder) / f"{case.case_id}.xlsx"))


def generate(folder: str | os.PathLike[str], cases: int = 1000, seed: int = 0, workers: int = 2) -> Path:
    """Write the portfolio into ``folder`` unless a complete one with the same parameters is there.

    Returns the folder. A ``portfolio.json`` beside the workbooks records the parameters; a
    ``portfolio.toml`` (:data:`SETTINGS`) is written when missing.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    settings = out / "portfolio.toml"
    if not settings.exists():
        tmp_settings = settings.with_suffix(".toml.tmp")
        tmp_settings.write_text(SETTINGS)
        os.replace(tmp_settings, settings)
    marker = out / "portfolio.json"
    params = {"cases": cases, "seed": seed, "as_of": AS_OF, "generator": 1}
    if marker.exists() and json.loads(marker.read_text()) == params and len(list(out.glob("GEN-*.xlsx"))) == cases:
        return out
    for old in out.glob("GEN-*.xlsx"):
        old.unlink()
    jobs = [(i, seed, str(out)) for i in range(cases)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            list(ex.map(_write, jobs, chunksize=16))
    else:
        for j in jobs:
            _write(j)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(params))
    os.replace(tmp, marker)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    t = time.perf_counter()
    generate(a.folder, a.cases, a.seed, a.workers)
    print(f"{a.cases} cases in {a.folder} ({time.perf_counter() - t:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
