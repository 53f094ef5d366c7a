"""Options of the economic case (issue 14 item 4): business as usual, do minimum and the preferred option.

Hand-worked figures: a yearly case at 10 % (factors 1, 1/1.1, 1/1.21) and the quarterly fixture case at
8 % a year (factor of quarter t = 1.08 ** (-t / 4)), computed here from the formula, not the library.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import VALID_BENEFITS, VALID_COSTS

from vmo_lib import schema
from vmo_lib.analysis.greenbook import options_appraisal
from vmo_lib.analysis.review import review_case
from vmo_lib.errors import ValidationError
from vmo_lib.intake.loader import load_case
from vmo_lib.intake.options import split_options
from vmo_lib.model import make_case
from vmo_lib.outputs.greenbook import greenbook_block, options_block


def _same(a: dict, b: dict) -> bool:
    """Review dicts equal, NaN equal to NaN (the JSON of ``vmo status``)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _yearly_case():
    # BAU: keep the old system, 55 a year in today's money -> 55, 60.5/1.1 = 55, 66.55/1.21 = 55: PV 165
    # Do minimum: patch for 30 now, saves 22 and 24.2 -> PV benefits 20 + 20 = 40, NPV 10, BCR 4/3
    # Preferred: build for 100, saves 110 and 121 -> PV benefits 100 + 100 = 200, NPV 100, BCR 2
    return make_case(
        {"case_id": "OPT", "first_period": "2026", "period_length": "year", "horizon": 3, "discount_rate": 0.10},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100]},
               {"line_id": "C0", "name": "Keep the old system", "category": "opex", "amounts": [55, 60.5, 66.55]},
               {"line_id": "CM", "name": "Patch", "amounts": [30]}],
        benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 110, 121]},
                  {"line_id": "BM", "name": "Patch saving", "amounts": [0, 22, 24.2]}])


def test_options_by_hand():
    case = split_options(_yearly_case(), {"C0": "bau", "CM": "do minimum", "BM": "do minimum", "C1": "preferred"})
    assert case.lines["line_id"].tolist() == ["C1", "B1"]
    assert set(case.flows["line_id"]) == {"C1", "B1"}
    r = review_case(case, "2026Q1", iterations=0)
    o = options_appraisal(r)
    assert o.index.tolist() == ["bau", "do minimum", "preferred"]
    assert o["pv_costs"].tolist() == pytest.approx([165.0, 30.0, 100.0])
    assert o["pv_benefits"].tolist() == pytest.approx([0.0, 40.0, 200.0])
    assert o["npv"].tolist() == pytest.approx([-165.0, 10.0, 100.0])
    assert o.loc["do minimum", "bcr"] == pytest.approx(4 / 3) and o.loc["preferred", "bcr"] == pytest.approx(2.0)
    assert o.loc["bau", "bcr"] == pytest.approx(0.0)
    assert o["npv_vs_bau"].tolist() == pytest.approx([0.0, 175.0, 265.0])
    # the preferred row is the in-force appraisal, and no other figure counts the other options' lines
    assert o.loc["preferred", "npv"] == pytest.approx(r.in_force.npv)
    alone = make_case(dict(case.meta), costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
                      benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 110, 121]}])
    assert r.expected.npv == pytest.approx(100.0)
    assert _same(r.to_dict(), review_case(alone, "2026Q1", iterations=0).to_dict())
    h = options_block(r).html
    assert "Options compared (economic case)" in h and "Business as usual" in h and "£265" in h
    assert "Options compared" in greenbook_block(r).html


def test_bau_only_costs_and_no_do_minimum():
    case = split_options(_yearly_case(), {"C0": "bau", "CM": "bau"})  # BM stays in the preferred case
    o = options_appraisal(review_case(case, "2026Q1", iterations=0))
    assert o.index.tolist() == ["bau", "preferred"]
    assert o.loc["bau", "pv_costs"] == pytest.approx(195.0)
    # preferred: costs 100; benefits 200 + 40
    assert o.loc["preferred", "npv"] == pytest.approx(140.0)
    assert o.loc["preferred", "npv_vs_bau"] == pytest.approx(335.0)


def test_no_options_stated():
    case = _yearly_case()
    assert split_options(case, {}) is case and split_options(case, {"C1": "preferred"}) is case
    r = review_case(case, "2026Q1", iterations=0)
    assert options_appraisal(r) is None
    assert "No options stated" in options_block(r).html


def test_do_minimum_without_bau_has_no_incremental_npv():
    case = split_options(_yearly_case(), {"CM": "do minimum", "BM": "do minimum"})
    o = options_appraisal(review_case(case, "2026Q1", iterations=0))
    assert o.index.tolist() == ["do minimum", "preferred"] and o["npv_vs_bau"].isna().all()
    assert "NPV_vs_BAU" not in options_block(review_case(case, "2026Q1", iterations=0)).html


# --- from a workbook -------------------------------------------------------------------------------
def _add_option_column(ws, tags: dict[str, str]) -> str:
    """Head the first free column of row HEADER_ROW 'Option' and tag lines by id; returns its letter."""
    hr = schema.HEADER_ROW
    j = ws.max_column + 1
    while j > 1 and ws.cell(hr, j - 1).value in (None, ""):
        j -= 1
    ws.cell(hr, j, "Option")
    for r in range(schema.TABLE_FIRST_ROW, ws.max_row + 1):
        lid = ws.cell(r, 1).value
        if lid in tags:
            ws.cell(r, j, tags[lid])
    return openpyxl.utils.get_column_letter(j)


BAU_COST = {"line_id": "C9", "name": "Keep the old CRM", "category": "opex", "amounts": [20] * 8}
DM_COST = {"line_id": "C8", "name": "Upgrade in place", "category": "capex", "amounts": [50]}
PROFILE = {k: VALID_BENEFITS[0][k] for k in ("owner", "kpi", "unit", "baseline_value", "baseline_date", "target_value",
                                             "target_date", "frequency", "data_source", "confidence")}
DM_BENEFIT = {"line_id": "B9", "name": "Fewer outages", "benefit_type": "cash-releasing", **PROFILE,
              "amounts": [0, 0, 0, 10, 10, 10, 10, 10]}


def test_workbook_options_kept_apart(case_factory, workbook_factory):
    tagged = case_factory(rebaselines=[], costs=[*VALID_COSTS, BAU_COST, DM_COST], benefits=[*VALID_BENEFITS, DM_BENEFIT])

    def edit(wb):
        _add_option_column(wb["Costs"], {"C9": "bau", "C8": "Do minimum", "C1": "preferred"})
        _add_option_column(wb["Benefits"], {"B9": "do minimum"})

    case = load_case(workbook_factory(tagged, name="tagged.xlsx", edit=edit), as_of="2026Q3")
    assert case.lines["line_id"].tolist() == ["C1", "C2", "B1", "B2"]
    assert sorted(case.options) == ["bau", "do minimum"]
    assert case.options["do minimum"].lines["line_id"].tolist() == ["C8", "B9"]
    plain = load_case(workbook_factory(case_factory(rebaselines=[]), name="plain.xlsx"), as_of="2026Q3")
    r, r0 = review_case(case, "2026Q3", iterations=200), review_case(plain, "2026Q3", iterations=200)
    assert _same(r.to_dict(), r0.to_dict())  # no other figure counts the options' lines

    v = [1.08 ** (-t / 4) for t in range(8)]
    o = options_appraisal(r)
    assert o.loc["bau", "pv_costs"] == pytest.approx(20 * sum(v))
    assert o.loc["bau", "npv"] == pytest.approx(-20 * sum(v))
    dm_npv = 10 * sum(v[3:]) - 50
    assert o.loc["do minimum", "npv"] == pytest.approx(dm_npv)
    assert o.loc["do minimum", "bcr"] == pytest.approx(10 * sum(v[3:]) / 50)
    pref = (40 * sum(v[3:]) - 5 * (v[2] + v[3])) - (100 + 100 * v[1] + 50 * v[2] + 10 * sum(v[2:]))
    assert o.loc["preferred", "npv"] == pytest.approx(pref) == r.in_force.npv
    assert o.loc["do minimum", "npv_vs_bau"] == pytest.approx(dm_npv + 20 * sum(v))
    assert o.loc["preferred", "npv_vs_bau"] == pytest.approx(pref + 20 * sum(v))


def test_unknown_option_is_an_error_naming_the_cell(case_factory, workbook_factory):
    letters = {}

    def edit(wb):
        letters["c"] = _add_option_column(wb["Costs"], {"C2": "maybe"})

    with pytest.raises(ValidationError) as err:
        load_case(workbook_factory(case_factory(rebaselines=[]), edit=edit), as_of="2026Q3")
    issues = err.value.issues
    bad = issues[issues["rule"] == "choice.not_allowed"]
    row = schema.TABLE_FIRST_ROW + 1  # C2 is the second cost line
    assert bad[["sheet", "cell"]].values.tolist() == [["Costs", f"{letters['c']}{row}"]]
    assert "'maybe' is not one of: preferred, bau, do minimum" in bad["message"].iloc[0]


def test_sample_workbook_without_or_with_blank_option_column_is_unchanged(tmp_path):
    src = SAMPLE / "CRM-2025.xlsx"
    if not src.exists():
        pytest.skip("no sample portfolio")
    as_of = "2026Q3"
    before = load_case(src, as_of=as_of)
    assert before.options == {}
    wb = openpyxl.load_workbook(src)
    ids = [wb["Costs"].cell(r, 1).value for r in range(schema.TABLE_FIRST_ROW, wb["Costs"].max_row + 1)]
    _add_option_column(wb["Costs"], {i: "preferred" for i in ids[:1] if i})
    _add_option_column(wb["Benefits"], {})
    copy = tmp_path / "CRM-2025.xlsx"
    wb.save(copy)
    after = load_case(copy, as_of=as_of)
    assert after.options == {}
    d0, d1 = (review_case(c, as_of, iterations=200).to_dict() for c in (before, after))
    assert _same(d0, d1)
    assert after.lines.equals(before.lines) and after.flows.equals(before.flows)
    assert not math.isnan(d0["expected_npv"])
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_written_workbook_keeps_the_options_and_the_sample_erp_compares_three(case_factory, workbook_factory,
                                                                              tmp_path):
    """write_case_workbook writes the options' lines tagged in an Option column; loading gives them back."""
    from vmo_lib.intake.template import write_case_workbook

    tagged = case_factory(rebaselines=[], costs=[*VALID_COSTS, BAU_COST, DM_COST], benefits=[*VALID_BENEFITS, DM_BENEFIT])

    def edit(wb):
        _add_option_column(wb["Costs"], {"C9": "bau", "C8": "do minimum"})
        _add_option_column(wb["Benefits"], {"B9": "do minimum"})

    case = load_case(workbook_factory(tagged, name="tagged.xlsx", edit=edit), as_of="2026Q3")
    path = write_case_workbook(case, tmp_path / "again.xlsx")
    ws = openpyxl.load_workbook(path)["Benefits"]
    heads = [ws.cell(schema.HEADER_ROW, j).value for j in range(1, ws.max_column + 1)]
    assert heads[-1] == "Option"
    back = load_case(path, as_of="2026Q3")
    assert sorted(back.options) == ["bau", "do minimum"]
    assert back.options["do minimum"].lines["line_id"].tolist() == ["C8", "B9"]
    assert back.lines["line_id"].tolist() == case.lines["line_id"].tolist()
    o0 = options_appraisal(review_case(case, "2026Q3", iterations=0))
    o1 = options_appraisal(review_case(back, "2026Q3", iterations=0))
    assert o1["npv"].tolist() == pytest.approx(o0["npv"].tolist(), abs=1e-6)

    src = SAMPLE / "ERP-2024.xlsx"
    if not src.exists():
        pytest.skip("no sample portfolio")
    erp = load_case(src, as_of="2026Q3")
    o = options_appraisal(review_case(erp, "2026Q3", iterations=0))
    assert o.index.tolist() == ["bau", "do minimum", "preferred"]
    # BAU by hand: 150k a quarter 2026Q1-2033Q4 (t = 8..39) and 450k a quarter 2025Q3-2026Q2 (t = 6..9)
    rate = float(erp.meta["discount_rate"])
    v = [(1 + rate) ** (-t / 4) for t in range(40)]
    pv_bau = 150_000 * sum(v[8:40]) + 450_000 * sum(v[6:10])
    assert o.loc["bau", "pv_costs"] == pytest.approx(pv_bau, rel=1e-9)
    assert o.loc["preferred", "npv"] > o.loc["do minimum", "npv"] > o.loc["bau", "npv"]
