"""The faster forms used when a workbook is loaded give what the plain forms give.

Each test states the plain form (the pandas/bytes/numpy code the fast form replaced) as the
second method and compares values, dtypes and the type of every element, or works the
expected answer by hand.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from vmo_lib.intake import loader, validation, workbook
from vmo_lib.intake.workbook import BLANK, NUMBER, OTHER, TEXT
from vmo_lib.model import LINE_COLUMNS


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.dtypes) == list(b.dtypes)
    for c in a.columns:  # None and NaN, float and numpy float... are told apart
        assert [type(v) for v in a[c].tolist()] == [type(v) for v in b[c].tolist()], c


def _plain_lines(parts):
    return pd.concat([pd.DataFrame(p, columns=list(LINE_COLUMNS)) for p in parts], ignore_index=True)


def _obj(*values):
    a = np.empty(len(values), dtype=object)
    a[:] = list(values)
    return a


def _part(n, kind, **cols):
    part = {"line_id": _obj(*[f"{kind[0].upper()}{i}" for i in range(n)]), "case_id": _obj(*["X1"] * n),
            "kind": _obj(*[kind] * n), "row": np.arange(5, 5 + n, dtype=np.int64)}
    part.update(cols)
    return part


COSTS = _part(3, "cost", name=_obj("Build", None, "Run"), category=_obj("capex", "opex", None),
              owner=_obj(None, None, None), low=np.array([1.0, np.nan, 3.0]), likely=np.array([2.0, 2.5, np.nan]),
              high=np.array([3.0, 4.0, 5.0]), driver=_obj("x", 7.0, None))
BENEFITS = _part(2, "benefit", name=_obj("Save", "Grow"), benefit_type=_obj("cash-releasing", None),
                 owner=_obj("Ann", "Bob"), baseline_value=np.array([100.0, np.nan]),
                 baseline_date=_obj(dt.date(2025, 1, 1), None), low=np.array([1.0, 2.0]),
                 likely=np.array([1.5, 2.5]), high=np.array([2.0, 3.0]), driver=_obj(None, None))


@pytest.mark.parametrize("parts", [
    [COSTS, BENEFITS],  # text with text, text with blanks, numbers with an absent column, dates
    [COSTS],  # one sheet only
    [BENEFITS, COSTS],
    [COSTS, _part(0, "benefit")],  # an empty part: pandas' own path
    [COSTS, {**BENEFITS, "row": np.array([7, 8], dtype=np.int32)}],  # another integer dtype: pandas' own path
    [COSTS, {**BENEFITS, "low": np.array([1, 2], dtype=np.int64)}],  # float with int: pandas' own path
    [COSTS, {**BENEFITS, "target_date": _obj(dt.datetime(2026, 1, 1), None)}],  # datetimes: pandas' own path
    [COSTS, {**BENEFITS, "kpi": _obj(1, 2)}],  # whole numbers in an object column
    [COSTS, {**BENEFITS, "kpi": _obj(True, None)}],  # booleans
])
def test_lines_frame_is_the_concat_of_one_frame_per_sheet(parts):
    fast = loader._lines_frame(parts)
    _same_frame(fast, _plain_lines(parts))
    if len(parts) == 2 and parts[0] is COSTS and len(parts[1]["line_id"]):
        assert fast.loc[3, "name"] == "Save"  # by hand: Costs rows first, then Benefits


def test_lines_frame_dtypes_worked_by_hand():
    lines = loader._lines_frame([COSTS, BENEFITS])
    assert lines["name"].dtype == pd.StringDtype(na_value=np.nan)  # text in both sheets: pandas' str
    assert lines["category"].dtype == object and lines["category"].isna().tolist() == [False, False, True, True, True]
    assert lines["owner"].dtype == object  # blank in Costs (object), text in Benefits (str): object
    assert lines["owner"].tolist()[:3] == [None, None, None] and lines["owner"].tolist()[3:] == ["Ann", "Bob"]
    assert lines["baseline_value"].dtype == object  # absent from Costs (NaN), numbers in Benefits
    assert lines["low"].dtype == np.float64 and lines["row"].tolist() == [5, 6, 7, 5, 6]


def test_frame_of_keeps_object_columns_as_they_are():
    data = {"a": _obj("x", None), "t": np.array([1, 2], dtype=np.int64), "b": _obj("y", "z"),
            "v": np.array([0.5, np.nan])}
    frame = loader._frame_of(data, ["a", "t", "b", "v"])
    assert list(frame.columns) == ["a", "t", "b", "v"]
    assert [str(d) for d in frame.dtypes] == ["object", "int64", "object", "float64"]  # no str inference
    assert frame["a"].tolist() == ["x", None] and frame["b"].tolist() == ["y", "z"]
    assert isinstance(frame.index, pd.RangeIndex)


@pytest.mark.parametrize("xml,lo,hi", [
    (b"<sheetData><c><v>1</v></c></sheetData>", 1, 30),
    (b'<sheetData><c r="A1"><f>1+1</f></c></sheetData>', 1, 40),
    (b'<sheetData><c r="A1" t="e"><v>#DIV/0!</v></c></sheetData>', 1, 50),
    (b'<sheetData><c r="A1" t="e"', 1, 22),  # t="e" cut by the end: not found
    (b'<sheetData><c r="A1" t="e"', 1, 25),
    (b"<f", 0, 2), (b"<f", 0, 1), (b"<f", -2, -1), (b"<f", -3, 5), (b'xt="e"', -5, 99),
    (b"", 0, 5), (b"<", 0, 5), (b"abc<g<ff", 3, 8), (b"abc<g<ff", 6, 8),
    (b'<x:c t="n"><x:f>A1</x:f></x:c>', 0, 99),  # "<x:f" does not hold "<f"
])
def test_marker_prefilter_answers_as_bytes_find(xml, lo, hi):
    plain = xml.find(b"<f", lo, hi) >= 0 or xml.find(b't="e"', lo, hi) >= 0
    assert workbook._holds_marker(xml, lo, hi) is plain


def test_marker_prefilter_on_random_sheet_text():
    rng = np.random.default_rng(3)
    alphabet = np.frombuffer(b'<f t="e"/>c', dtype=np.uint8)
    for _ in range(400):
        xml = rng.choice(alphabet, size=int(rng.integers(0, 60))).tobytes()
        lo, hi = (int(x) for x in rng.integers(-10, 70, size=2))
        plain = xml.find(b"<f", lo, hi) >= 0 or xml.find(b't="e"', lo, hi) >= 0
        assert workbook._holds_marker(xml, lo, hi) is plain, (xml, lo, hi)


def test_numbers_of_a_column_of_numbers_and_blanks():
    values = _obj(1.5, None, float("nan"), float("inf"), -2.0, float("-inf"), 3)
    kinds = np.array([NUMBER, BLANK, NUMBER, NUMBER, NUMBER, NUMBER, NUMBER], dtype=np.int8)
    out, code = validation._numbers(values, kinds)
    ok, bad = validation._OK, validation._NOT_FINITE
    assert code.tolist() == [ok, ok, bad, bad, ok, bad, ok]  # worked by hand: NaN and +-inf are not finite
    assert np.array_equal(out, [1.5, np.nan, np.nan, np.nan, -2.0, np.nan, 3.0], equal_nan=True)
    # the same cells with one text cell go the general way: the numbers get the same answers
    out2, code2 = validation._numbers(np.append(values, "4"), np.append(kinds, np.int8(TEXT)))
    assert code2.tolist()[:-1] == code.tolist() and code2[-1] == validation._AS_TEXT
    assert np.array_equal(out2[:-1], out, equal_nan=True) and out2[-1] == 4.0
    _, code3 = validation._numbers(_obj(True), np.array([OTHER], dtype=np.int8))
    assert code3.tolist() == [validation._NOT_NUMBER]


def test_header_of_text_is_read_once_and_handed_out_fresh():
    rows = [[], [], [], ["Line id", "Cost line", "2026Q1", "2026Q2", "Mystery", None], ["C1", "Build", 1.0, 2.0]]
    first = workbook._parse_table("Costs", rows)
    first.unknown.append(("changed", "Z"))
    first.columns["x"] = "Z"
    again = workbook._parse_table("Costs", rows)
    assert again.columns == {"line_id": "A", "name": "B"}
    assert again.period_headers == [("2026Q1", "C"), ("2026Q2", "D")] and again.unknown == [("Mystery", "E")]
    # a number in the header is not cached with an equal text: its label (and so its message) differs
    numeric = workbook._parse_table("Costs", [[], [], [], ["Line id", 2026.0], ["C1", 1.0]])
    text = workbook._parse_table("Costs", [[], [], [], ["Line id", "2026"], ["C1", 1.0]])
    assert numeric.period_headers == [(2026.0, "B")] and text.period_headers == [("2026", "B")]


def test_period_answers_kept_for_text_only():
    assert validation._period_or_reason("2026Q1", "quarter") == ("2026Q1", "")
    assert validation._period_or_reason("2026 q1", "quarter") == ("2026Q1", "")
    assert validation._period_or_reason("nope", "quarter") == (False, "expected a quarter such as 2026Q3, found 'nope'")
    # equal numbers with different reprs are answered each on its own
    assert validation._period_or_reason(0.0, "quarter")[1].endswith("found 0.0")
    assert validation._period_or_reason(-0.0, "quarter")[1].endswith("found -0.0")
    assert validation._t("2026Q3", "2026Q1", "quarter") == 2 and validation._t("bad", "2026Q1", "quarter") is None


def test_issues_frame_is_the_frame_of_its_rows():
    iss = validation._Issues("f.xlsx")
    iss.add("case.unknown_field", "Case", "A9", "", "unknown field 'x' (ignored)")
    iss.add("column.unknown", "Costs", "AA4", "", "unknown column 'y' (ignored)")
    iss.add("column.unknown", "Costs", "C4", "", "unknown column 'z' (ignored)")
    rows = sorted(iss.rows, key=validation._issue_order)
    _same_frame(iss.frame(), pd.DataFrame(rows, columns=list(validation.ISSUE_COLUMNS), dtype=object))
    assert iss.frame()["cell"].tolist() == ["A9", "C4", "AA4"]  # sheet order, then row, then column


def test_a_case_without_amounts_has_an_empty_flows_table_of_canonical_dtypes(tmp_path):
    from vmo_lib.intake.template import write_case_workbook
    from vmo_lib.model import FLOW_COLUMNS, make_case, normalise_flows

    case = make_case({"case_id": "X1", "title": "Demo", "sponsor": "CFO", "strategic_objective": "Save",
                      "org_unit": "Finance", "approval_date": "2025-12-01", "horizon": 4},
                     costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": []}])
    loaded = loader.load_case(write_case_workbook(case, tmp_path / "x1.xlsx"), as_of="2026Q3", strict=False)
    assert len(loaded.flows) == 0 and loaded.lines["line_id"].tolist() == ["C1"]
    plain = normalise_flows(pd.DataFrame({c: np.empty(0, dtype=object) for c in FLOW_COLUMNS}))
    _same_frame(loaded.flows, plain)
    # with amounts: the flows are already in their canonical dtypes
    case = make_case(dict(case.meta), costs=[{"line_id": "C1", "name": "Build", "category": "capex",
                                              "amounts": [100, 0, 50]}])
    loaded = loader.load_case(write_case_workbook(case, tmp_path / "x2.xlsx"), as_of="2026Q3")
    _same_frame(loaded.flows, normalise_flows(loaded.flows))
    assert loaded.flows["amount"].tolist() == [100.0, 0.0, 50.0] and loaded.flows["t"].tolist() == [0, 1, 2]
