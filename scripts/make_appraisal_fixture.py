"""Appraise sample cases a second way, in a spreadsheet recalculated by LibreOffice.

For each chosen sample workbook this script lays out the baseline's per-period costs and benefits
(economic view: every monetised benefit, dis-benefits negative) in a sheet whose every metric is a
spreadsheet formula written the way a finance analyst would write it (``SUMPRODUCT`` for present
values, ``=v0+NPV(...)`` for the NPV, ``IRR``/``MIRR`` annualised, ``PMT`` for the equivalent annual
cost, a cumulative column for payback). LibreOffice headless recalculates the workbook and the
results are committed to ``tests/fixtures/appraisal_sample_cases.json``; ``tests/test_appraisal.py``
compares :func:`vmo_lib.appraise` with them. The period totals come from the case (the inputs are
shared); every metric is computed by the spreadsheet, independently of ``vmo_lib.analysis.finance``.

Run (needs ``soffice``; CI only reads the JSON)::

    .venv/bin/python scripts/make_appraisal_fixture.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import openpyxl

from vmo_lib.analysis.appraisal import line_matrices
from vmo_lib.intake.loader import load_case

ROOT = Path(__file__).resolve().parents[1]
CASES = ("RPA-2025", "M365-2022", "CRM-2025", "ERP-2024", "CHATBOT-2025")
OUT = ROOT / "tests" / "fixtures" / "appraisal_sample_cases.json"
METRICS = ("pv_costs", "pv_benefits", "npv", "irr", "mirr", "roi", "bcr", "payback",
           "discounted_payback", "equivalent_annual_cost")


def write_case_sheet(wb: openpyxl.Workbook, case_id: str, costs: list[float], benefits: list[float],
                     annual_rate: float, periods_per_year: int) -> None:
    """One sheet per case: inputs in columns A–C, working columns D–H, metrics in K."""
    ws = wb.create_sheet(case_id)
    n = len(costs)
    last = n + 1  # data rows 2..last
    ws.append(["t", "costs", "benefits", "net", "DF", "PV net", "cum net", "cum PV net", "payback x", "dpayback x"])
    for t, (c, b) in enumerate(zip(costs, benefits, strict=True)):
        r = t + 2
        ws.append([
            t, c, b,
            f"=C{r}-B{r}",
            f"=1/(1+$L$1)^A{r}",
            f"=D{r}*E{r}",
            f"=SUM($D$2:D{r})",
            f"=SUM($F$2:F{r})",
            # first crossing from negative to non-negative, interpolated inside the period
            "" if t == 0 else f'=IF(AND(G{r - 1}<0,G{r}>=0),A{r - 1}+(-G{r - 1})/D{r},"")',
            "" if t == 0 else f'=IF(AND(H{r - 1}<0,H{r}>=0),A{r - 1}+(-H{r - 1})/F{r},"")',
        ])
    k = periods_per_year
    ws["K1"], ws["L1"] = "rate per period", f"=(1+{annual_rate!r})^(1/{k})-1"
    formulas = {
        "pv_costs": f"=SUMPRODUCT(B2:B{last},E2:E{last})",
        "pv_benefits": f"=SUMPRODUCT(C2:C{last},E2:E{last})",
        "npv": f"=D2+NPV(L1,D3:D{last})",  # Excel's NPV discounts its first value: period 0 added apart
        "irr": f"=(1+IRR(D2:D{last}))^{k}-1",
        "mirr": f"=(1+MIRR(D2:D{last},L1,L1))^{k}-1",
        "roi": "=(L3-L2)/L2",
        "bcr": "=L3/L2",
        "payback": f'=IF(COUNT(I3:I{last})=0,"never",MIN(I3:I{last}))',
        "discounted_payback": f'=IF(COUNT(J3:J{last})=0,"never",MIN(J3:J{last}))',
        "equivalent_annual_cost": f"=PMT({annual_rate!r},{n}/{k},-L2)",
    }
    for i, (name, formula) in enumerate(formulas.items(), start=2):
        ws.cell(row=i, column=11, value=name)
        ws.cell(row=i, column=12, value=formula)
    ws["K20"], ws["L20"] = "sentinel", "=1+1"


def main() -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("soffice not found: apt-get install libreoffice-calc-nogui")
    version = subprocess.run([soffice, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    inputs = {}
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for case_id in CASES:
        case = load_case(ROOT / "data" / "sample" / f"{case_id}.xlsx", as_of="2026Q3")
        if case.meta["discount_schedule"] != "flat":
            raise SystemExit(f"{case_id}: pick a flat-rate case for this fixture")
        costs_m, benefits_m = line_matrices(case, "baseline", "economic")
        costs = [float(x) for x in costs_m.to_numpy().sum(axis=0)]
        benefits = [float(x) for x in benefits_m.to_numpy().sum(axis=0)]
        rate = float(case.meta["discount_rate"])
        inputs[case_id] = {"annual_rate": rate, "periods_per_year": case.periods_per_year,
                           "costs": costs, "benefits": benefits}
        write_case_sheet(wb, case_id, costs, benefits, rate, case.periods_per_year)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "appraisal.xlsx"
        wb.save(src)
        cmd = [soffice, f"-env:UserInstallation=file://{tmp / 'profile'}", "--headless", "--norestore",
               "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp / "out"), str(src)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        done = openpyxl.load_workbook(tmp / "out" / src.name, data_only=True)
    results = {}
    for case_id in CASES:
        ws = done[case_id]
        if ws["L20"].value != 2:
            raise SystemExit(f"{case_id}: LibreOffice did not recalculate (sentinel {ws['L20'].value!r})")
        got = {}
        for i, name in enumerate(METRICS, start=2):
            assert ws.cell(row=i, column=11).value == name
            value = ws.cell(row=i, column=12).value
            got[name] = None if value == "never" else float(value)
        results[case_id] = {**inputs[case_id], "libreoffice": got}
    OUT.write_text(json.dumps({"generator": "scripts/make_appraisal_fixture.py", "libreoffice": version,
                               "cases": results}, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(results)} cases, {version})")


if __name__ == "__main__":
    main()
