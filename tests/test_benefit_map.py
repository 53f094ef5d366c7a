"""The benefits dependency network: the Benefit map sheet's rules, the network's findings and value roll-up on
hand-built networks worked out by hand, the portfolio roll-up, the drawing and ``vmo map``.

Cell addresses are worked out here from the schema (column order of ``schema.BENEFIT_MAP_COLUMNS``, data from
``schema.TABLE_FIRST_ROW``), never from the reader.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest
from openpyxl.utils import get_column_letter

from vmo_lib import cli, schema
from vmo_lib.analysis.network import benefit_network, benefit_values
from vmo_lib.analysis.review import review_case
from vmo_lib.errors import AnalysisError, ValidationError
from vmo_lib.intake.benefit_map import map_frame
from vmo_lib.intake.loader import load_case, validate_workbook
from vmo_lib.model import make_case
from vmo_lib.portfolio.network import UNLINKED, strategic_rollup

AS_OF = "2026Q3"
SHEET = schema.BENEFIT_MAP_SHEET
FIRST = schema.TABLE_FIRST_ROW
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def mcol(key: str) -> str:
    return get_column_letter([c.key for c in schema.BENEFIT_MAP_COLUMNS].index(key) + 1)


def node(node_id, kind, name=None, owner=None, feeds="", planned=None, forecast=None, actual=None):
    return {"node_id": node_id, "kind": kind, "name": name, "owner": owner, "feeds": feeds,
            "planned_delivery": planned, "forecast_delivery": forecast, "actual_delivery": actual}


def with_map(case, rows):
    return dataclasses.replace(case, benefit_map=map_frame(rows) if rows is not None else None)


# --- the sheet: read, written, optional ----------------------------------------------------------------
GOOD_MAP = [
    node("C1", "enabler", "CRM configured", "CIO", "BC1", planned="2026-06-30", actual="2026-06-20"),
    node("BC1", "business change", "Guided selling in use", "Sales Director", "B1, B2"),
    node("B1", "benefit", feeds="IO1"),
    node("IO1", "investment objective", "Lower cost to serve", "CFO", "SO1"),
    node("SO1", "strategic objective", "Grow recurring revenue", "CEO"),
]


def test_a_map_round_trips_through_the_workbook(case_factory, workbook_factory):
    path = workbook_factory(with_map(case_factory(), GOOD_MAP))
    issues = validate_workbook(path, as_of=AS_OF)
    assert issues[issues["sheet"] == SHEET].empty
    m = load_case(path, as_of=AS_OF).benefit_map
    assert m["node_id"].tolist() == ["C1", "BC1", "B1", "IO1", "SO1"]
    assert m["feeds"].tolist() == [("BC1",), ("B1", "B2"), ("IO1",), ("SO1",), ()]
    assert m.loc[0, "planned_delivery"] == dt.date(2026, 6, 30) and m.loc[0, "actual_delivery"] == dt.date(2026, 6, 20)
    assert m["row"].tolist() == list(range(FIRST, FIRST + 5))


def test_a_workbook_without_the_sheet_or_with_it_empty_is_not_mapped_and_validates_as_before(case_factory,
                                                                                             workbook_factory):
    plain = workbook_factory(case_factory(), name="plain.xlsx")
    old = workbook_factory(case_factory(), name="old.xlsx", edit=lambda wb: wb.remove(wb[SHEET]))
    a, b = validate_workbook(plain, as_of=AS_OF), validate_workbook(old, as_of=AS_OF)
    assert a[["sheet", "cell", "rule"]].values.tolist() == b[["sheet", "cell", "rule"]].values.tolist()
    for p in (plain, old):
        case = load_case(p, as_of=AS_OF)
        assert case.benefit_map is None
        net = benefit_network(case, AS_OF, values={"B1": 10.0})
        assert not net.mapped and net.orphan_benefits == [] and "not mapped" in net.sentences()[0]


def test_every_map_problem_is_reported_at_once_naming_sheet_and_cell(case_factory, workbook_factory):
    rows = [
        node("E1", "enabler", "Go-live", None, "BC1, BX9"),                        # 5: owner, unknown id, no date
        node("BC1", "business change", "Process", "Ops", "BC2"),                  # 6: loop BC1 -> BC2 -> BC1
        node("BC2", "business change", "Process 2", "Ops", "BC1, B1"),            # 7
        node("B2", "benefit", feeds="BC2"),                                       # 8: backwards
        node("B2", "benefit"),                                                    # 9: duplicate
        node("B7", "benefit"),                                                    # 10: no such benefit line
        node("C1", "investment objective", "Objective", "CFO"),                   # 11: a cost line id
        node("IO1", "investment objective", None, "CFO", planned="2026-01-01"),   # 12: no name; dates
        node("bad id!", "enabler", "x", "y", planned="2026-03-31"),               # 13: invalid id
        node("SO1", None, "S", "CEO"),                                            # 14: no kind
        node("SO2", "objective", "x", "y"),                                       # 15: not a kind
    ]
    path = workbook_factory(with_map(case_factory(), rows))
    issues = validate_workbook(path, as_of=AS_OF)
    got = {(r, c) for r, c in issues.loc[issues["sheet"] == SHEET, ["rule", "cell"]].values}
    r = lambda i: FIRST + i  # noqa: E731
    assert got == {
        ("map.missing_owner", f"{mcol('owner')}{r(0)}"),
        ("map.unknown_id", f"{mcol('feeds')}{r(0)}"),
        ("map.no_planned_delivery", f"{mcol('planned_delivery')}{r(0)}"),
        ("map.cycle", f"{mcol('feeds')}{r(1)}"),
        ("map.kind_order", f"{mcol('feeds')}{r(3)}"),
        ("map.duplicate_id", f"{mcol('node_id')}{r(4)}"),
        ("map.not_a_benefit_line", f"{mcol('node_id')}{r(5)}"),
        ("map.id_clash", f"{mcol('node_id')}{r(6)}"),
        ("map.missing_value", f"{mcol('name')}{r(7)}"),
        ("map.dates_not_enabler", f"{mcol('planned_delivery')}{r(7)}"),
        ("map.invalid_id", f"{mcol('node_id')}{r(8)}"),
        ("map.missing_value", f"{mcol('kind')}{r(9)}"),
        ("choice.not_allowed", f"{mcol('kind')}{r(10)}"),
    }
    msg = dict(issues.loc[issues["sheet"] == SHEET, ["rule", "message"]].values)
    assert "BC1 -> BC2 -> BC1" in msg["map.cycle"] and f"rows {r(1)}, {r(2)}" in msg["map.cycle"]
    assert "'BX9'" in msg["map.unknown_id"]
    assert "'B2' (benefit) feeds 'BC2' (business change)" in msg["map.kind_order"]
    sev = dict(issues.loc[issues["sheet"] == SHEET, ["rule", "severity"]].values)
    assert sev["map.dates_not_enabler"] == sev["map.no_planned_delivery"] == "warning"
    assert sev["map.cycle"] == sev["map.unknown_id"] == "error"
    with pytest.raises(ValidationError) as exc:
        load_case(path, as_of=AS_OF)
    assert f"{SHEET}!" in str(exc.value) or any(exc.value.issues["sheet"] == SHEET)


def test_benefit_feeding_a_benefit_and_objective_feeding_a_lower_kind_are_kind_order_errors(case_factory,
                                                                                          workbook_factory):
    rows = [node("B1", "benefit", feeds="B2"), node("SO1", "strategic objective", "S", "CEO", "IO1"),
            node("IO1", "investment objective", "I", "CFO")]
    issues = validate_workbook(workbook_factory(with_map(case_factory(), rows)), as_of=AS_OF)
    cells = issues.loc[issues["rule"] == "map.kind_order", "cell"].tolist()
    assert cells == [f"{mcol('feeds')}{FIRST}", f"{mcol('feeds')}{FIRST + 1}"]


# --- the network: hand-built cases, worked by hand --------------------------------------------------
def _case(benefits=("B1", "B2", "B3", "B4"), rate=0.0):
    return make_case({"case_id": "N1", "first_period": "2026Q1", "horizon": 4, "discount_rate": rate,
                      "strategic_objective": "Run lean"},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                     benefits=[{"line_id": b, "name": f"Benefit {b}", "owner": f"Owner {b}", "amounts": [0, 10, 10, 10]}
                               for b in benefits])


def test_orphans_idle_enablers_unserved_objectives_and_benefits_put_at_risk():
    # E1 (late) -> BC1 -> B1, B2;  E2 (on time) -> B3;  E3 -> nothing;  B4 not on the map; IO2 served by nobody
    rows = [node("E1", "enabler", "Engine", "A", "BC1", planned="2026-06-30", forecast="2026-12-15"),
            node("E2", "enabler", "Devices", "A", "B3", planned="2026-06-30", actual="2026-06-19"),
            node("E3", "enabler", "App", "A", "", planned="2026-12-31"),
            node("BC1", "business change", "Scheduling", "B", "B1, B2"),
            node("B1", "benefit", feeds="IO1"), node("B2", "benefit", feeds="IO1"),
            node("IO1", "investment objective", "Cut cost", "C", "SO1"),
            node("IO2", "investment objective", "Unserved", "C", "SO1"),
            node("SO1", "strategic objective", "Run lean", "D")]
    net = benefit_network(with_map(_case(), rows), AS_OF, values={"B1": 100.0, "B2": 60.0, "B3": 5.0, "B4": 7.0})
    assert net.mapped
    assert net.orphan_benefits == ["B4"]  # B3 has E2 upstream; B4 is on no arrow
    assert net.enablers_without_benefit == ["E3"]
    assert net.objectives_without_benefit == ["IO2"]
    assert net.late_enablers["node_id"].tolist() == ["E1"]
    assert net.late_enablers.loc[0, "status"] == "forecast late"
    assert net.late_enablers.loc[0, "days_late"] == (dt.date(2026, 12, 15) - dt.date(2026, 6, 30)).days == 168
    assert net.benefits_at_risk["node_id"].tolist() == ["B1", "B2"]
    assert net.value_at_risk() == 160.0
    names = dict(zip(net.nodes["node_id"], net.nodes["name"], strict=True))
    assert names["B1"] == "Benefit B1" and names["B4"] == "Benefit B4"  # from the Benefits sheet
    assert dict(zip(net.nodes["node_id"], net.nodes["listed"], strict=True))["B4"] is False


@pytest.mark.parametrize(("planned", "forecast", "actual", "status", "days"), [
    ("2026-06-30", None, "2026-06-30", "delivered on time", math.nan),
    ("2026-06-30", None, "2026-07-10", "delivered late", 10),
    # an actual date after the review date (2026-09-30) is not known yet: judged as not delivered
    ("2026-06-30", None, "2026-10-05", "forecast late", 97),        # the later actual stands as the forecast
    ("2026-06-30", None, None, "overdue", 92),                       # 30 Jun -> 30 Sep
    ("2026-09-30", None, None, "overdue", 0),                        # due on the review date, not delivered
    ("2026-10-31", None, None, "due", math.nan),
    ("2026-10-31", "2026-11-15", None, "forecast late", 15),
    ("2026-10-31", "2026-10-20", None, "due", math.nan),
    (None, None, None, "no planned date", math.nan),
])
def test_enabler_lateness_at_the_review_date(planned, forecast, actual, status, days):
    rows = [node("E1", "enabler", "E", "A", "B1", planned=planned, forecast=forecast, actual=actual),
            node("B1", "benefit")]
    net = benefit_network(with_map(_case(("B1",)), rows), AS_OF, values={"B1": 1.0})
    got = net.nodes.set_index("node_id").loc["E1"]
    assert got["delivery_status"] == status
    assert (math.isnan(got["days_late"]) and math.isnan(days)) or got["days_late"] == days
    late = status in ("delivered late", "forecast late", "overdue")
    assert net.benefits_at_risk["node_id"].tolist() == (["B1"] if late else [])


def test_value_is_split_equally_along_the_arrows_and_adds_up():
    # B1 100 -> IO1; B2 60 -> IO1 and IO2 (30 each); B3 -20 (dis-benefit) -> IO2; B4 50 -> no objective.
    # IO1 -> SO1; IO2 -> SO1 and SO2. By hand: IO1 = 100 + 30 = 130; IO2 = 30 - 20 = 10;
    # SO1 = 130 + 10/2 = 135; SO2 = 5; unallocated = 50 (B4); 135 + 5 + 50 = 190 = 100 + 60 - 20 + 50.
    rows = [node("E1", "enabler", "E", "A", "B1, B2, B3, B4", planned="2026-01-31", actual="2026-01-31"),
            node("B1", "benefit", feeds="IO1"), node("B2", "benefit", feeds="IO1, IO2"),
            node("B3", "benefit", feeds="IO2"),
            node("IO1", "investment objective", "I1", "x", "SO1"), node("IO2", "investment objective", "I2", "x", "SO1, SO2"),
            node("SO1", "strategic objective", "S1", "y"), node("SO2", "strategic objective", "S2", "y")]
    net = benefit_network(with_map(_case(), rows), AS_OF, values={"B1": 100.0, "B2": 60.0, "B3": -20.0, "B4": 50.0})
    io = dict(zip(net.by_investment_objective["node_id"], net.by_investment_objective["value"], strict=True))
    so = dict(zip(net.by_strategic_objective["node_id"], net.by_strategic_objective["value"], strict=True))
    assert io == {"IO1": pytest.approx(130.0), "IO2": pytest.approx(10.0)}
    assert so == {"SO1": pytest.approx(135.0), "SO2": pytest.approx(5.0)}
    assert net.total_value == 190.0 and net.unallocated_value == pytest.approx(50.0)
    assert net.by_strategic_objective.set_index("node_id").loc["SO2", "benefits"] == ["B2", "B3"]
    assert net.late_enablers.empty and net.orphan_benefits == []


def test_a_loop_in_a_case_built_in_code_is_an_analysis_error():
    rows = [node("BC1", "business change", "a", "o", "BC2"), node("BC2", "business change", "b", "o", "BC1")]
    with pytest.raises(AnalysisError, match="loops"):
        benefit_network(with_map(_case(("B1",)), rows), AS_OF)


def test_benefit_values_are_the_discounted_expected_flows_per_line():
    # plan 0, 40, 40, 40; actual 30 in 2026Q2; as of 2026Q2 the outlook is 0, 30, 40, 40.
    case = make_case({"case_id": "V", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.08},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 40, 40, 40]},
                               {"line_id": "D1", "name": "Dip", "benefit_type": "dis-benefit", "amounts": [0, -5, 0, 0]}],
                     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 30}])
    r = review_case(case, "2026Q2", iterations=0)
    q = 1.08 ** 0.25 - 1
    v = benefit_values(r)
    assert v["B1"] == pytest.approx(30 / (1 + q) + 40 / (1 + q) ** 2 + 40 / (1 + q) ** 3)
    assert v["D1"] == pytest.approx(-5 / (1 + q))
    assert sum(v.values()) == pytest.approx(r.expected.pv_benefits)  # the appraisal's own total


# --- the portfolio roll-up --------------------------------------------------------------------------
def test_strategic_rollup_across_cases_by_objective_name():
    a = with_map(_case(("B1", "B2")), [node("B1", "benefit", feeds="SO1"), node("B2", "benefit", feeds="SOx"),
                                       node("SO1", "strategic objective", "Run lean", "x"),
                                       node("SOx", "strategic objective", "Delight customers", "y")])
    b = make_case({"case_id": "N2", "horizon": 2, "strategic_objective": "run  LEAN "},
                  benefits=[{"line_id": "B1", "name": "s", "amounts": [0, 1]}])  # not mapped
    c = with_map(make_case({"case_id": "N3", "horizon": 2, "currency": "EUR"},
                           benefits=[{"line_id": "B9", "name": "s", "amounts": [0, 1]}]),
                 [node("B9", "benefit"), node("S", "strategic objective", "Run lean", "x")])
    nets = [benefit_network(a, AS_OF, values={"B1": 100.0, "B2": 40.0}),
            benefit_network(b, AS_OF, values={"B1": 25.0}),
            benefit_network(c, AS_OF, values={"B9": 7.0}, currency="EUR")]
    df = strategic_rollup(nets)
    got = [tuple(r) for r in df[["currency", "strategic_objective", "value_mapped", "value_not_mapped", "value_total",
                                  "n_cases", "cases"]].values]
    assert got == [
        ("EUR", "Run lean", 0.0, 0.0, 0.0, 1, "N3"),
        ("EUR", UNLINKED, 7.0, 0.0, 7.0, 1, "N3"),
        ("GBP", "Run lean", 100.0, 25.0, 125.0, 2, "N1, N2"),
        ("GBP", "Delight customers", 40.0, 0.0, 40.0, 1, "N1"),
    ]
    # per currency the rows add up to the benefits' total value
    assert df.groupby("currency")["value_total"].sum().to_dict() == {"EUR": 7.0, "GBP": 165.0}


# --- drawing and pack blocks ------------------------------------------------------------------------
def _forty_nodes():
    nb = 14
    case = make_case({"case_id": "BIG", "first_period": "2026Q1", "horizon": 4},
                     benefits=[{"line_id": f"B{i}", "name": f"Benefit {i} <b>", "amounts": [0, 1, 1, 1]}
                               for i in range(1, nb + 1)])
    rows = [node(f"E{i}", "enabler", f"Enabler {i}", "x", f"BC{i % 8 + 1}", planned="2026-06-30",
                 actual="2026-08-01" if i == 3 else "2026-06-01") for i in range(1, 11)]
    rows += [node(f"BC{i}", "business change", f"Change {i}", "x", f"B{i}, B{i + 6}") for i in range(1, 9)]
    rows += [node(f"B{i}", "benefit", feeds=f"IO{i % 5 + 1}") for i in range(1, nb + 1)]
    rows += [node(f"IO{i}", "investment objective", f"IO {i}", "x", f"SO{i % 3 + 1}") for i in range(1, 6)]
    rows += [node(f"SO{i}", "strategic objective", f"SO {i}", "x") for i in range(1, 4)]
    return benefit_network(with_map(case, rows), AS_OF, values={f"B{i}": 1000.0 * i for i in range(1, nb + 1)},
                           rags={"B2": "red"})


def test_chart_of_forty_nodes_marks_the_late_enabler_and_red_benefit():
    from matplotlib.colors import to_hex

    from vmo_lib.outputs.charts import PALETTE
    from vmo_lib.outputs.network_chart import network_alt_text, network_chart

    net = _forty_nodes()
    assert len(net.nodes) == 40
    fig = network_chart(net)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "LATE +32d" in texts  # E3: planned 30 Jun, delivered 1 Aug
    assert any(t.startswith("RED") for t in texts)
    boxes = [p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]
    assert len(boxes) == 40
    late_boxes = [p for p in boxes if to_hex(p.get_edgecolor()) == PALETTE["red"] and p.get_linewidth() > 2.2]
    assert len(late_boxes) == 1  # the late enabler (benefits at risk have a dashed, thinner red outline)
    assert fig.get_size_inches()[1] >= 0.6 * 14  # grows with the tallest column (14 benefits)
    alt = network_alt_text(net)
    assert "10 enablers, 8 business changes, 14 benefits, 5 investment objectives, 3 strategic objectives" in alt
    assert "Red benefits: B2." in alt


def test_pack_block_embeds_the_drawing_with_alt_text_and_escapes_names():
    from vmo_lib.outputs.network_chart import benefit_map_block

    html = str(benefit_map_block(None, net=_forty_nodes()))
    assert '<img src="data:image/png;base64,' in html and 'alt="Benefits dependency network of BIG' in html
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert "Late enablers" in html and "E3" in html


# --- the sample and the command ---------------------------------------------------------------------
def test_sample_maps_do_not_change_any_review_figure():
    for cid in ("CRM-2025", "FIELD-2025", "CLOUD-2025"):
        case = load_case(SAMPLE / f"{cid}.xlsx", as_of=AS_OF)
        assert case.benefit_map is not None and len(case.benefit_map)
        a = review_case(case, AS_OF, iterations=0).to_dict()
        b = review_case(dataclasses.replace(case, benefit_map=None), AS_OF, iterations=0).to_dict()
        assert json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


def test_vmo_map_json_on_the_sample_late_enabler_case(capsys):
    assert cli.main(["map", str(SAMPLE / "FIELD-2025.xlsx"), "--as-of", AS_OF, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["mapped"] is True and d["case_id"] == "FIELD-2025" and d["review_date"] == "2026-09-30"
    [late] = d["late_enablers"]
    assert (late["node_id"], late["status"], late["days_late"], late["planned_delivery"], late["forecast_delivery"]) \
        == ("E1", "forecast late", 168, "2026-06-30", "2026-12-15")
    assert late["benefits_at_risk"] == ["B1", "B2"]
    assert [b["node_id"] for b in d["benefits_at_risk"]] == ["B1", "B2"]
    review = review_case(load_case(SAMPLE / "FIELD-2025.xlsx", as_of=AS_OF), AS_OF, iterations=0)
    assert d["total_value"] == pytest.approx(review.expected.pv_benefits)
    assert d["value_at_risk"] == pytest.approx(d["total_value"])  # both benefits hang on E1
    so = {r["name"]: r["value"] for r in d["by_strategic_objective"]}
    v = benefit_values(review)  # B1 -> IO1 -> lean; B2 split between IO1 (lean) and IO2 (digital)
    assert so["Run a lean, resilient operation"] == pytest.approx(v["B1"] + v["B2"] / 2)
    assert so["Delight customers digitally"] == pytest.approx(v["B2"] / 2)
    assert d["unallocated_value"] == 0.0


def test_vmo_map_on_a_folder_reports_each_case_and_the_rollup(tmp_path, capsys):
    for cid in ("CRM-2025", "ERP-2024"):
        shutil.copy(SAMPLE / f"{cid}.xlsx", tmp_path / f"{cid}.xlsx")
    assert cli.main(["map", str(tmp_path), "--as-of", AS_OF, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    cases = {c["case_id"]: c for c in d["cases"]}
    assert cases["CRM-2025"]["orphan_benefits"] == ["B3"]
    assert cases["CRM-2025"]["enablers_without_benefit"] == ["E2"]
    assert cases["ERP-2024"]["mapped"] is False
    rows = {r["strategic_objective"]: r for r in d["by_strategic_objective"]}
    lean = rows["Run a lean, resilient operation"]
    assert lean["cases"] == "CRM-2025, ERP-2024"
    assert lean["value_not_mapped"] == pytest.approx(cases["ERP-2024"]["total_value"])
    assert cli.main(["map", str(tmp_path), "--as-of", AS_OF]) == 0
    out = capsys.readouterr().out
    assert "ERP-2024 · benefits dependency network as of 2026Q3 (review date 2026-09-30): not mapped" in out
    assert "Orphan benefit(s), with no enabler to deliver them: B3 (Sales admin time released)." in out


def test_vmo_map_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert cli.main(["map", str(SAMPLE / "FIELD-2025.xlsx"), "--as-of", "soon"]) == 2
    assert cli.main(["map", str(tmp_path / "nope.xlsx"), "--as-of", AS_OF]) == 2
    assert cli.main(["map", str(SAMPLE), "--as-of", AS_OF, "--png", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("vmo:") == 3


def test_vmo_map_png_writes_the_drawing(tmp_path):
    target = tmp_path / "field.png"
    assert cli.main(["map", str(SAMPLE / "FIELD-2025.xlsx"), "--as-of", AS_OF, "--png", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
