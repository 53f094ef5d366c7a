"""Build tests/fixtures/libreoffice_finance.json: cash-flow series and what LibreOffice Calc computes.

Run (needs LibreOffice, ``soffice`` on PATH; the tests only need the JSON it writes)::

    .venv/bin/python scripts/make_libreoffice_fixture.py [--out tests/fixtures/libreoffice_finance.json]

What it does:

1. Generates seeded, varied series: conventional cases, long monthly series (120-180 periods),
   several sign changes (several IRRs), no-root series, zero flows (leading, interior, trailing),
   tiny and huge amounts, tiny, zero, negative and huge rates, and irregular dates for XNPV/XIRR
   (including dates out of order after the first and two flows on the same day).
2. Writes an .xlsx (openpyxl) whose result cells are *formulas only*, with no cached values:
   ``=v0+NPV(rate, v1..vn)``, ``=NPV(rate, v0..vn)``, ``=IRR(v)``, ``=IRR(v, guess)``,
   ``=MIRR(v, f, r)``, ``=XNPV(rate, v, d)``, ``=XIRR(v, d)``, ``=XIRR(v, d, guess)``, plus a
   sentinel ``=1+1``.
3. Has LibreOffice headless convert it to .xlsx, which recalculates every formula on load (there is
   no cached value to keep), and reads the results back with openpyxl ``data_only=True``.
4. Refuses to write the fixture unless the sentinel reads 2 and every formula cell holds a number or
   an error code (a cell left empty would mean LibreOffice did not calculate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter

SEED = 20240601
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "libreoffice_finance.json"
FIRST_VALUE_COL = 20  # column T: flows start here on both sheets
RESULTS = ("npv_t0", "excel_npv", "irr", "irr_guess", "mirr", "xnpv", "xirr", "xirr_guess")
EXCEL_EPOCH = dt.date(1899, 12, 30)


def _case(kind: str, values: Any, rng: np.random.Generator, **extra: Any) -> dict[str, Any]:
    """One series with the rates it will be evaluated at."""
    case = {
        "kind": kind,
        "values": [float(x) for x in np.asarray(values, dtype=float)],
        "rate": float(extra.pop("rate", rng.choice([0.035, 0.05, 0.08, 0.1, 0.12, 0.0, 1e-9, -0.3, 5.0]))),
        "guess": float(extra.pop("guess", rng.choice([0.1, -0.1, 0.05, 0.3, 0.5]))),
        "finance_rate": float(extra.pop("finance_rate", rng.choice([0.05, 0.08, 0.1]))),
        "reinvest_rate": float(extra.pop("reinvest_rate", rng.choice([0.03, 0.06, 0.12]))),
        "dates": extra.pop("dates", None),
    }
    assert not extra, extra
    return case


def generate_cases(seed: int = SEED) -> list[dict[str, Any]]:
    """The seeded series: about 140 of them, each labelled with the behaviour it exercises."""
    rng = np.random.default_rng(seed)
    cases: list[dict[str, Any]] = []
    # Microsoft's documented examples, so the fixture also pins them in LibreOffice.
    cases.append(_case("ms_irr", [-70000, 12000, 15000, 18000, 21000, 26000], rng, guess=-0.1))
    cases.append(_case("ms_mirr", [-120000, 39000, 30000, 21000, 37000, 46000], rng,
                       finance_rate=0.1, reinvest_rate=0.12))
    cases.append(_case("ms_xirr", [-10000, 2750, 4250, 3250, 2750], rng, rate=0.09,
                       dates=["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]))
    for _ in range(35):  # conventional yearly or quarterly business cases
        n = int(rng.integers(3, 41))
        invest = rng.uniform(1e4, 5e6)
        flows = invest * rng.uniform(0.05, 0.6) * rng.lognormal(0, 0.3, n)
        flows[0] = -invest
        cases.append(_case("conventional", flows.round(2), rng))
    for _ in range(15):  # long monthly series
        n = int(rng.integers(120, 181))
        invest = rng.uniform(1e5, 1e7)
        flows = invest * rng.uniform(0.005, 0.03) * rng.lognormal(0, 0.2, n)
        flows[0] = -invest
        cases.append(_case("monthly_long", flows.round(2), rng, rate=float(rng.choice([0.003, 0.0075, 0.01]))))
    for _ in range(20):  # several sign changes: refresh capex, decommissioning, known two-root shapes
        n = int(rng.integers(5, 30))
        invest = rng.uniform(1e4, 1e6)
        flows = invest * rng.uniform(0.1, 0.5) * rng.lognormal(0, 0.3, n)
        flows[0] = -invest
        flows[int(rng.integers(2, n - 1))] -= invest * rng.uniform(0.5, 2.0)
        if rng.random() < 0.5:
            flows[-1] -= invest * rng.uniform(0.5, 3.0)
        cases.append(_case("multi_sign", flows.round(2), rng))
    for a, b in ((0.1, 0.2), (0.05, 0.5), (-0.2, 0.3), (0.0, 0.15), (0.25, 0.26)):
        # (1+r)^2 roots at a and b: -1, (2+a+b), -(1+a)(1+b) scaled
        cases.append(_case("two_roots", np.array([-1.0, 2 + a + b, -(1 + a) * (1 + b)]) * 1000, rng))
    cases.append(_case("three_roots", np.poly([1 / 1.05, 1 / 1.2, 1 / 1.4])[::-1] * -1000, rng))
    for _ in range(10):  # no root at all
        n = int(rng.integers(2, 15))
        sign = rng.choice([-1.0, 1.0])
        cases.append(_case("one_sign", sign * rng.uniform(1, 1e5, n).round(2), rng))
    for flows in ([100, -100, 100], [-100, 150, -100], [-5000, 12000, -8000], [1000, -2500, 1700, -50]):
        cases.append(_case("no_real_root", flows, rng))
    cases.append(_case("all_zero", [0.0, 0.0, 0.0, 0.0], rng))
    for _ in range(10):  # zero flows: leading, interior, trailing
        n = int(rng.integers(6, 25))
        flows = rng.uniform(1e3, 5e4, n).round(2)
        flows[int(rng.integers(0, 3))] = -rng.uniform(5e4, 2e5)
        flows[rng.random(n) < 0.3] = 0.0
        if rng.random() < 0.5:
            flows = np.concatenate([[0.0, 0.0], flows])
        if rng.random() < 0.5:
            flows = np.concatenate([flows, [0.0, 0.0, 0.0]])
        if not (flows < 0).any():
            flows[int(np.argmax(flows > 0))] = -1e5
        cases.append(_case("zeros", flows, rng))
    for scale in (1e-6, 1e-3, 1e9, 1e12):  # tiny and huge amounts
        n = int(rng.integers(4, 20))
        flows = rng.uniform(0.1, 0.6, n) * scale
        flows[0] = -scale
        cases.append(_case("scale", flows, rng))
    for target in (-0.9, -0.5, -0.05, 0.0, 1.0, 3.0, 9.0):  # extreme IRRs
        n = int(rng.integers(3, 12))
        tail = rng.uniform(1, 3, n - 1)
        # choose the outlay so that the IRR is exactly `target`
        outlay = float(np.sum(tail / (1 + target) ** np.arange(1, n)))
        cases.append(_case("extreme_irr", np.concatenate([[-outlay], tail]), rng, guess=0.1))
    start = dt.date(2020, 1, 15)
    for i in range(25):  # irregular dates
        n = int(rng.integers(3, 25))
        offsets = np.sort(rng.integers(1, 365 * 8, n - 1))
        if i % 5 == 0:
            offsets = rng.permutation(offsets)  # any order after the first date (Excel allows it)
        if i % 7 == 0 and n > 3:
            offsets[1] = offsets[0]  # two flows on the same day
        days = [start + dt.timedelta(days=int(k)) for k in np.concatenate([[0], offsets])]
        invest = rng.uniform(1e4, 1e6)
        flows = invest * rng.uniform(0.05, 0.5) * rng.lognormal(0, 0.3, n)
        flows[0] = -invest
        if i % 4 == 3:
            flows[int(rng.integers(2, n))] -= invest * rng.uniform(0.3, 1.0)
        cases.append(_case("dated", flows.round(2), rng, rate=float(rng.choice([0.035, 0.09, 0.15, -0.2])),
                           dates=[d.isoformat() for d in days]))
    for i, case in enumerate(cases):
        case["id"] = f"{i:03d}_{case['kind']}"
    return cases


def write_workbook(cases: list[dict[str, Any]], path: Path) -> None:
    """One row per case on sheet ``cases`` (dates on sheet ``dates``), result cells as formulas."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cases"
    wd = wb.create_sheet("dates")
    ws["A1"], ws["B1"], ws["C1"], ws["D1"], ws["E1"] = "id", "rate", "guess", "finance", "reinvest"
    for j, name in enumerate(RESULTS):
        ws.cell(row=1, column=6 + j, value=name)
    ws["R1"] = "=1+1"  # sentinel: must read 2 after LibreOffice recalculates
    for i, case in enumerate(cases, start=2):
        vals = case["values"]
        n = len(vals)
        first = get_column_letter(FIRST_VALUE_COL)
        second = get_column_letter(FIRST_VALUE_COL + 1)
        last = get_column_letter(FIRST_VALUE_COL + n - 1)
        ws.cell(row=i, column=1, value=case["id"])
        for col, key in enumerate(("rate", "guess", "finance_rate", "reinvest_rate"), start=2):
            ws.cell(row=i, column=col, value=case[key])
        for j, x in enumerate(vals):
            ws.cell(row=i, column=FIRST_VALUE_COL + j, value=x)
        rng_ = f"{first}{i}:{last}{i}"
        formulas = {
            "npv_t0": f"={first}{i}+NPV(B{i},{second}{i}:{last}{i})" if n > 1 else None,
            "excel_npv": f"=NPV(B{i},{rng_})",
            "irr": f"=IRR({rng_})",
            "irr_guess": f"=IRR({rng_},C{i})",
            "mirr": f"=MIRR({rng_},D{i},E{i})",
        }
        if case["dates"]:
            serials = [(dt.date.fromisoformat(d) - EXCEL_EPOCH).days for d in case["dates"]]
            for j, x in enumerate(serials):
                wd.cell(row=i, column=FIRST_VALUE_COL + j, value=x)
            drange = f"dates!{first}{i}:{last}{i}"
            formulas["xnpv"] = f"=XNPV(B{i},{rng_},{drange})"
            formulas["xirr"] = f"=XIRR({rng_},{drange})"
            formulas["xirr_guess"] = f"=XIRR({rng_},{drange},C{i})"
        for j, name in enumerate(RESULTS):
            if formulas.get(name):
                ws.cell(row=i, column=6 + j, value=formulas[name])
    wb.save(path)


def recalculate(src: Path, outdir: Path) -> tuple[Path, str]:
    """Convert with LibreOffice headless (a private profile, so parallel users do not collide)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("soffice not found: install LibreOffice (apt-get install libreoffice-calc-nogui)")
    version = subprocess.run([soffice, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    profile = outdir / "profile"
    cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
           "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir / "out"), str(src)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return outdir / "out" / src.name, version


def read_results(path: Path, cases: list[dict[str, Any]]) -> None:
    """Attach LibreOffice's numbers (or error codes) to each case; fail loudly if anything is missing."""
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb["cases"]
    if ws["R1"].value != 2:
        raise SystemExit(f"LibreOffice did not recalculate: sentinel =1+1 reads {ws['R1'].value!r}")
    for i, case in enumerate(cases, start=2):
        if ws.cell(row=i, column=1).value != case["id"]:
            raise SystemExit(f"row {i}: expected {case['id']}")
        lo: dict[str, Any] = {}
        for j, name in enumerate(RESULTS):
            if name.startswith("xnpv") or name.startswith("xirr"):
                if not case["dates"]:
                    continue
            if name == "npv_t0" and len(case["values"]) < 2:
                continue
            cell = ws.cell(row=i, column=6 + j)
            value = cell.value
            if value is None:
                raise SystemExit(f"{case['id']} {name}: empty after recalculation")
            if cell.data_type == "e" or isinstance(value, str):
                lo[name] = {"error": str(value)}
            else:
                lo[name] = float(value)
        case["libreoffice"] = lo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", type=Path, help="also copy the recalculated workbook here")
    args = parser.parse_args()
    cases = generate_cases()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "finance_formulas.xlsx"
        write_workbook(cases, src)
        result, version = recalculate(src, tmpdir)
        read_results(result, cases)
        if args.keep:
            shutil.copy(result, args.keep)
    errors = sum(isinstance(v, dict) for c in cases for v in c["libreoffice"].values())
    payload = {
        "description": "Cash-flow series and LibreOffice Calc results for NPV, IRR, MIRR, XNPV, XIRR. "
        "Generated by scripts/make_libreoffice_fixture.py; do not edit by hand.",
        "libreoffice_version": version,
        "seed": SEED,
        "formulas": {
            "npv_t0": "=v0+NPV(rate, v1..vn)", "excel_npv": "=NPV(rate, v0..vn)", "irr": "=IRR(v)",
            "irr_guess": "=IRR(v, guess)", "mirr": "=MIRR(v, finance_rate, reinvest_rate)",
            "xnpv": "=XNPV(rate, v, dates)", "xirr": "=XIRR(v, dates)", "xirr_guess": "=XIRR(v, dates, guess)",
        },
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"{len(cases)} cases, {errors} LibreOffice error results, {version} -> {args.out}")


if __name__ == "__main__":
    main()
