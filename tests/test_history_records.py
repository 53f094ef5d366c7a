"""The rows the history keeps of a review agree with the review they come from."""

import json

import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.history.records import TABLES, records_from_review
from vmo_lib.intake.loader import load_case


@pytest.fixture(scope="module")
def erp_records():
    case = load_case("data/sample/ERP-2024.xlsx")
    review = review_case(case, "2026Q3", iterations=2_000)
    return review, records_from_review(review)


def test_tables_have_their_declared_columns(erp_records):
    _, rec = erp_records
    assert set(rec) == set(TABLES)
    for name, cols in TABLES.items():
        assert list(rec[name].columns) == list(cols), name
        assert (rec[name]["quarter"] == "2026Q3").all() and (rec[name]["case_id"] == "ERP-2024").all()


def test_case_row_is_the_review(erp_records):
    review, rec = erp_records
    row = rec["case_quarter"].iloc[0]
    d = review.to_dict(detail=False)
    for key in ("expected_npv", "forward_npv", "approved_npv", "in_force_npv", "risk_p50", "decision", "rag"):
        assert row[key] == d[key], key
    assert json.loads(row["review_json"])["expected_npv"] == pytest.approx(d["expected_npv"], rel=1e-15)
    assert row["workbook_sha256"] == review.case.sha256


def test_line_totals_reconcile_with_the_period_rows(erp_records):
    review, rec = erp_records
    per = rec["period_quarter"]
    lines = rec["line_quarter"].set_index("line_id")
    # a second route to each line's outlook total: the sum of its period rows; sign convention of the
    # status tables is positive amounts, dis-benefits negative in both
    sums = per.groupby("line_id")["amount"].sum()
    for lid, total in lines["expected_total"].items():
        assert sums[lid] == pytest.approx(total, rel=1e-12, abs=1e-6), lid
    fc = per[per["source"] == "forecast"].groupby("line_id")["amount"].sum()
    assert lines["forecast_total"].sum() == pytest.approx(fc.sum(), rel=1e-12)
    # every period row sourced "actual" carries the amount reported in the workbook for that line/period
    flows = review.case.flows
    reported = flows[(flows["scenario"] == "actual") & flows["amount"].notna()].set_index(["line_id", "period"])
    got = per[per["source"] == "actual"].set_index(["line_id", "period"])["amount"]
    assert len(got) > 40
    for key, amount in got.items():
        assert reported.loc[key, "amount"] == pytest.approx(amount), key
