"""The committed sample portfolio (data/sample/) tells the stories its README promises.

The workbooks are read here with a small openpyxl reader of our own, independent of
``vmo_lib.intake.loader``, so these tests check the files themselves; NPVs are recomputed with plain numpy
(quarterly rate ``(1+r)^(1/4) - 1``, a yearly case at ``r``, period 0 undiscounted) and cross-checked against
``vmo_lib.analysis.appraisal``. The new cases of issue 11 (a yearly case, a cancelled case, a quarter with only
a dis-benefit due, a re-baseline approved after the review period) are checked against figures worked by hand
from the generator's numbers.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from vmo_lib import schema
from vmo_lib.periods import period_offset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SCRIPT = ROOT / "scripts" / "make_sample_portfolio.py"
AS_OF = "2026Q3"
#: The period a 2026Q3 review covers, by period length: a yearly case's last completed year.
REVIEWED = {"quarter": "2026Q3", "year": "2025"}


def _script():
    spec = importlib.util.spec_from_file_location("make_sample_portfolio", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script runs
    spec.loader.exec_module(module)
    return module


# --- an independent reader of the committed files ---------------------------------------------------
@dataclass
class Sheetful:
    meta: dict
    costs: pd.DataFrame  # attribute columns + one column per period label
    benefits: pd.DataFrame
    actuals: pd.DataFrame
    forecast: pd.DataFrame
    baselines: pd.DataFrame
    periods: list[str]


def _table(ws, columns) -> tuple[pd.DataFrame, list[str]]:
    rows = list(ws.iter_rows(min_row=schema.HEADER_ROW, values_only=True))
    header = list(rows[0])
    labels = {c.label: c.key for c in columns}
    labels[schema.OPTION_COLUMN.label] = schema.OPTION_COLUMN.key
    keys, periods = [], []
    for h in header:
        if h in labels:
            keys.append(labels[h])
        elif h is not None and re.fullmatch(r"\d{4}(Q[1-4])?", str(h)):
            keys.append(str(h))
            periods.append(str(h))
        else:
            keys.append(None)
    data = [dict(zip(keys, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]
    df = pd.DataFrame(data, columns=[k for k in keys if k is not None])
    if "option" in df:  # the other options' lines (bau, do minimum) are not the case as appraised
        df = df[df["option"].isna() | (df["option"] == "preferred")].drop(columns="option")
    return df, periods


def read_sample(path: Path) -> Sheetful:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        labels = {c.label: c.key for c in schema.CASE_FIELDS}
        meta = {}
        for a, b, *_ in wb["Case"].iter_rows(min_row=schema.CASE_FIRST_ROW, values_only=True):
            if a in labels:
                meta[labels[a]] = b
        costs, periods = _table(wb["Costs"], schema.COST_COLUMNS)
        benefits, _ = _table(wb["Benefits"], schema.BENEFIT_COLUMNS)
        actuals, _ = _table(wb["Actuals"], schema.ACTUAL_COLUMNS)
        forecast, _ = _table(wb["Forecast"], schema.FORECAST_COLUMNS)
        baselines, _ = _table(wb["Baselines"], schema.BASELINE_COLUMNS)
    finally:
        wb.close()
    actuals, forecast = _with_returns(path, actuals, forecast)
    return Sheetful(meta, costs, benefits, actuals, forecast, baselines, periods)


#: The filled return's layout as the README documents it: sheet "Return" (actuals of its period) and sheet
#: "Forecast" (the owner's revised forecast), each a header row of labels then one row per line.
_RETURN_LABELS = {"Period": "period", "Line id": "line_id", "Actual amount": "amount",
                  "Measured KPI value": "kpi_value", "Comment": "comment", "Evidence": "evidence",
                  "Evidence source": "evidence_source"}
_FORECAST_LABELS = {"Period": "period", "Line id": "line_id", "Revised forecast": "amount", "Comment": "comment"}


def _labelled_rows(ws, labels: dict[str, str], needed: tuple[str, ...]) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(rows) if "Line id" in r)
    cols = {labels[h]: i for i, h in enumerate(rows[head]) if h in labels}
    out = []
    for r in rows[head + 1:]:
        d = {k: r[i] for k, i in cols.items()}
        if any(d.get(k) is not None for k in needed):
            out.append(d)
    return out


def _with_returns(path: Path, actuals: pd.DataFrame, forecast: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The workbook's actuals and forecast plus those of its filled returns (``<stem>.returns/*.xlsx``), read
    cell by cell here, not through vmo_lib; a revised forecast replaces the workbook's for its line and period."""
    for rp in sorted(path.with_name(path.stem + ".returns").glob("*.xlsx")):
        wb = openpyxl.load_workbook(rp, read_only=True, data_only=True)
        try:
            acts = _labelled_rows(wb["Return"], _RETURN_LABELS, ("amount", "kpi_value"))
            revised = _labelled_rows(wb["Forecast"], _FORECAST_LABELS, ("amount",))
        finally:
            wb.close()
        actuals = pd.concat([actuals, pd.DataFrame(acts, columns=actuals.columns)], ignore_index=True)
        if revised:
            new = pd.DataFrame(revised, columns=forecast.columns)
            keys = set(zip(new["line_id"], new["period"], strict=True))
            keep = [(lid, p) not in keys for lid, p in zip(forecast["line_id"], forecast["period"], strict=True)]
            forecast = pd.concat([forecast[keep], new], ignore_index=True)
    return actuals, forecast


@pytest.fixture(scope="module")
def sample() -> dict[str, Sheetful]:
    paths = sorted(SAMPLE.glob("*.xlsx"))
    return {p.stem: read_sample(p) for p in paths}


# --- hand-rolled NPV ------------------------------------------------------------------------------
def baseline_matrix(s: Sheetful) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(amounts lines × periods, line ids, sign: -1 cost / +1 benefit) of the approved baseline."""
    frames = [(s.costs, -1.0), (s.benefits, 1.0)]
    rows, ids, signs = [], [], []
    for df, sign in frames:
        for _, r in df.iterrows():
            rows.append([0.0 if pd.isna(r[p]) else float(r[p]) for p in s.periods])
            ids.append(r["line_id"])
            signs.append(sign)
    return np.array(rows), ids, np.array(signs)


def quarterly_npv(net: np.ndarray, annual_rate: float) -> float:
    q = (1 + annual_rate) ** 0.25 - 1
    return float(np.sum(net / (1 + q) ** np.arange(len(net))))


def case_npv(s: Sheetful, net: np.ndarray) -> float:
    rate = float(s.meta["discount_rate"])
    if s.meta["period_length"] == "year":
        return float(np.sum(net / (1 + rate) ** np.arange(len(net))))
    return quarterly_npv(net, rate)


def _t(s: Sheetful, period: str) -> int:
    return period_offset(period, s.meta["first_period"], s.meta["period_length"])


def baseline_npv(s: Sheetful) -> float:
    m, _, sign = baseline_matrix(s)
    return case_npv(s, sign @ m)


def rebaseline_matrix(s: Sheetful, version: str) -> np.ndarray:
    """The re-baseline ``version`` in the line order of :func:`baseline_matrix` (lines it omits: 0)."""
    _, ids, _ = baseline_matrix(s)
    m = np.zeros((len(ids), len(s.periods)))
    rb = s.baselines[s.baselines["version"] == version]
    for _, r in rb.iterrows():
        m[ids.index(r["line_id"]), _t(s, r["period"])] += float(r["amount"])
    return m


def expected_matrix(s: Sheetful, reference: np.ndarray | None = None) -> np.ndarray:
    """Actuals up to the period the review covers (missing = 0), then the forecast where given, else the
    reference plan (default: the original baseline)."""
    m = baseline_matrix(s)[0] if reference is None else reference.copy()
    _, ids, _ = baseline_matrix(s)
    as_of_t = _t(s, REVIEWED[s.meta["period_length"]])
    pos = {lid: i for i, lid in enumerate(ids)}
    m[:, : as_of_t + 1] = 0.0
    for _, r in s.actuals.iterrows():
        if not pd.isna(r["amount"]):
            m[pos[r["line_id"]], _t(s, r["period"])] += float(r["amount"])
    for _, r in s.forecast.iterrows():
        t = _t(s, r["period"])
        assert t > as_of_t, f"forecast for a reported period {r['period']}"
        m[pos[r["line_id"]], t] = float(r["amount"])
    return m


def expected_npv(s: Sheetful, reference: np.ndarray | None = None) -> float:
    sign = baseline_matrix(s)[2]
    return case_npv(s, sign @ expected_matrix(s, reference))


def pv_costs(s: Sheetful, m: np.ndarray) -> float:
    sign = baseline_matrix(s)[2]
    return case_npv(s, (sign < 0) @ m)


def hand_verdict(reference_npv: float, expected: float, pv_cost: float) -> str:
    """The README's verdict rule, restated: negative after promising >= 0 -> destroyed; more than 5 % of PV
    costs below -> at risk; more than 5 % above -> created; else on track."""
    pct = (expected - reference_npv) / pv_cost
    if reference_npv >= 0 > expected:
        return "value destroyed"
    return "at risk" if pct < -0.05 else "value created" if pct > 0.05 else "on track"


def test_hand_rolled_npv_matches_a_worked_example():
    # 8% a year -> 1.9427% a quarter; -100 now, +60 in each of the next two quarters.
    q = 1.08 ** 0.25 - 1
    assert quarterly_npv(np.array([-100.0, 60.0, 60.0]), 0.08) == pytest.approx(-100 + 60 / (1 + q) + 60 / (1 + q) ** 2)
    assert quarterly_npv(np.array([-100.0, 60.0, 60.0]), 0.08) == pytest.approx(16.5916, abs=1e-4)


# --- the script -------------------------------------------------------------------------------------
def test_two_runs_build_identical_cases():
    mod = _script()
    first, second = mod.build_portfolio(), mod.build_portfolio()
    assert [c.case_id for _, c in first] == [c.case_id for _, c in second]
    for (_, a), (_, b) in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a.flows, b.flows)
        pd.testing.assert_frame_equal(a.lines, b.lines)
        assert a.meta == b.meta


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    _script().write_sample_portfolio(out)
    return out


def _cell_values(path: Path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def test_regenerated_workbooks_have_the_committed_cell_contents(regenerated):
    committed = sorted(p.name for p in SAMPLE.glob("*.xlsx"))
    assert sorted(p.name for p in regenerated.glob("*.xlsx")) == committed
    for name in committed:
        assert _cell_values(regenerated / name) == _cell_values(SAMPLE / name), f"{name} differs: run `make sample`"
    assert (regenerated / "README.md").read_text(encoding="utf-8") == (SAMPLE / "README.md").read_text(encoding="utf-8")
    # the filled returns beside the workbooks (DATA-2025.returns/2026Q3.xlsx) are regenerated too
    returns = sorted(p.relative_to(SAMPLE).as_posix() for p in SAMPLE.glob("*.returns/*.xlsx"))
    assert returns == ["DATA-2025.returns/2026Q3.xlsx"]
    assert sorted(p.relative_to(regenerated).as_posix() for p in regenerated.glob("*.returns/*.xlsx")) == returns
    for name in returns:
        assert _cell_values(regenerated / name) == _cell_values(SAMPLE / name), f"{name} differs: run `make sample`"


# --- the set ----------------------------------------------------------------------------------------
def test_every_sample_workbook_loads_and_validates_without_errors():
    loader = pytest.importorskip("vmo_lib.intake.loader")
    portfolio = loader.load_portfolio(SAMPLE, as_of=AS_OF)
    assert len(portfolio.failures) == 0, portfolio.failures.to_dict("records")
    assert sorted(portfolio.case_ids) == sorted(p.stem for p in SAMPLE.glob("*.xlsx"))
    for case in portfolio:
        if len(case.issues):
            assert set(case.issues["severity"]) <= {"warning"}


def test_at_least_ten_cases_with_realistic_sizes(sample):
    assert 10 <= len(sample) <= 16  # `make demo` stays fast
    for cid, s in sample.items():
        assert s.meta["case_id"] == cid
        assert s.meta["currency"] == "GBP"
        assert s.meta["period_length"] == ("year" if cid == "DEVICE-2024" else "quarter"), cid
        assert s.meta["horizon"] >= 2 and len(s.periods) == s.meta["horizon"]
        total_cost = s.costs[s.periods].sum().sum()
        assert 300_000 <= total_cost <= 50_000_000, (cid, total_cost)


def test_covers_every_status_and_benefit_type(sample):
    statuses = {s.meta["status"] for s in sample.values()}
    assert statuses == set(schema.CASE_STATUSES)
    types = set(pd.concat([s.benefits["benefit_type"] for s in sample.values()]))
    assert types == set(schema.BENEFIT_TYPES)
    assert len({s.meta["strategic_objective"] for s in sample.values()}) in (3, 4)
    assert len({s.meta["org_unit"] for s in sample.values()}) >= 5
    assert "Regulatory/mandatory" in {s.meta["case_type"] for s in sample.values()}


def test_the_portfolio_has_one_double_counted_kpi_pair(sample):
    def norm(text: str) -> str:
        return " ".join(str(text).casefold().split())

    claims = []
    for cid, s in sample.items():
        for _, b in s.benefits.iterrows():
            active = {p for p in s.periods if not pd.isna(b[p]) and b[p] != 0}
            unit = b["org_unit"] if isinstance(b["org_unit"], str) and b["org_unit"] else s.meta["org_unit"]
            claims.append((cid, b["line_id"], norm(b["kpi"]), norm(unit), active))
    pairs = {
        frozenset({(a[0], a[1]), (b[0], b[1])})
        for i, a in enumerate(claims) for b in claims[i + 1:]
        if a[0] != b[0] and a[2] == b[2] and a[3] == b[3] and a[4] & b[4]
    }
    assert pairs == {frozenset({("PORTAL-2025", "B1"), ("CHATBOT-2025", "B1")})}
    kpis = {sample[c].benefits.set_index("line_id").loc["B1", "kpi"] for c in ("PORTAL-2025", "CHATBOT-2025")}
    assert len(kpis) == 2, "the two spellings differ, so a detector must normalise"


def test_dis_benefit_is_entered_negative(sample):
    found = 0
    for s in sample.values():
        dis = s.benefits[s.benefits["benefit_type"] == "dis-benefit"]
        for _, b in dis.iterrows():
            amounts = np.array([0.0 if pd.isna(b[p]) else b[p] for p in s.periods])
            assert (amounts <= 0).all() and amounts.sum() < 0
            acts = s.actuals[s.actuals["line_id"] == b["line_id"]]["amount"].astype(float)
            assert len(acts) and (acts < 0).all()
            found += 1
    assert found >= 1


def test_amounts_have_the_conventional_signs(sample):
    """Costs never negative; benefits never negative except dis-benefits, which are never positive."""
    for cid, s in sample.items():
        dis = set(s.benefits.loc[s.benefits["benefit_type"] == "dis-benefit", "line_id"])
        costs = set(s.costs["line_id"])
        for df in (s.costs, s.benefits):
            for _, r in df.iterrows():
                values = [float(r[p]) for p in s.periods if not pd.isna(r[p])]
                assert all(v <= 0 for v in values) if r["line_id"] in dis else all(v >= 0 for v in values), cid
        for df in (s.actuals, s.forecast, s.baselines):
            for _, r in df.iterrows():
                if pd.isna(r["amount"]):
                    continue
                ok = r["amount"] <= 0 if r["line_id"] in dis else r["amount"] >= 0
                assert ok, (cid, r["line_id"], r["period"], r["amount"])
        assert costs.isdisjoint(set(s.benefits["line_id"])), cid


def test_three_point_estimates_are_ordered_and_likely_is_the_sum(sample):
    with_range = lines = pert = 0
    drivers: dict[str, int] = {}
    for cid, s in sample.items():
        for df in (s.costs, s.benefits):
            for _, r in df.iterrows():
                total = sum(0.0 if pd.isna(r[p]) else float(r[p]) for p in s.periods)
                if total == 0:
                    continue  # a non-monetised KPI
                lines += 1
                if isinstance(r.get("driver"), str):
                    drivers[r["driver"]] = drivers.get(r["driver"], 0) + 1
                pert += r.get("distribution") == "pert"
                if pd.isna(r["likely"]):
                    continue
                with_range += 1
                assert r["likely"] == pytest.approx(total, abs=0.5), (cid, r["line_id"])
                assert r["low"] <= r["likely"] <= r["high"], (cid, r["line_id"])
    assert with_range / lines >= 0.75
    assert pert >= 5
    assert sum(n >= 2 for n in drivers.values()) >= 3  # shared drivers


def test_actuals_run_to_the_review_date_and_no_further(sample):
    for cid, s in sample.items():
        status = s.meta["status"]
        if status == "proposed":
            assert s.actuals.empty and s.forecast.empty and s.meta["approval_date"] is None
            continue
        last = max(s.actuals["period"], key=lambda p: _t(s, p))
        horizon_end = s.periods[-1]
        expected_last = horizon_end if status == "closed" else REVIEWED[s.meta["period_length"]]
        assert last == expected_last, cid
        if status in ("live", "closed"):
            assert s.actuals["kpi_value"].notna().any(), f"{cid}: measured KPI values"
    assert sum(s.actuals["comment"].notna().sum() for s in sample.values()) >= 5


def test_benefit_baselines_are_measured_before_go_live(sample):
    for cid, s in sample.items():
        go_live = str(s.meta["go_live_period"])
        start = pd.Timestamp(int(go_live[:4]), 3 * int(go_live[-1]) - 2 if "Q" in go_live else 1, 1)
        for _, b in s.benefits.iterrows():
            assert pd.Timestamp(b["baseline_date"]) < start, (cid, b["line_id"])
            for key in ("owner", "kpi", "unit", "baseline_value", "target_value", "target_date", "frequency",
                        "data_source", "enabler", "confidence"):
                assert not pd.isna(b[key]) and b[key] != "", (cid, b["line_id"], key)


def test_rebaselined_cases_keep_the_original_and_restate_every_line(sample):
    rebased = {cid: s for cid, s in sample.items() if not s.baselines.empty}
    assert sorted(rebased) == ["FIELD-2025", "PAY-2024"]
    for cid, uplift in (("PAY-2024", 1.25), ("FIELD-2025", 1.3)):
        s = rebased[cid]
        assert set(s.baselines["version"]) == {"RB1"}
        every_line = set(s.costs["line_id"]) | set(s.benefits["line_id"])  # all monetised in these two cases
        assert set(s.baselines["line_id"]) == every_line, cid  # a re-baseline restates every line
        c2 = s.costs.set_index("line_id").loc["C2", s.periods]
        rb_c2 = s.baselines[s.baselines["line_id"] == "C2"]["amount"].sum()
        assert rb_c2 == pytest.approx(uplift * c2.sum(), rel=1e-3), cid  # the original is kept
    approved = {cid: pd.Timestamp(s.baselines["approved"].iloc[0]).date() for cid, s in rebased.items()}
    assert approved == {"PAY-2024": dt.date(2025, 9, 30), "FIELD-2025": dt.date(2026, 10, 20)}


def test_green_book_case_is_real_at_three_and_a_half_percent(sample):
    gb = [s for s in sample.values() if s.meta["discount_schedule"] == "green book"]
    assert len(gb) == 1
    assert gb[0].meta["price_base"] == "real" and gb[0].meta["discount_rate"] == pytest.approx(0.035)


# --- the stories, in numbers ------------------------------------------------------------------------
def test_chatbot_destroys_value(sample):
    s = sample["CHATBOT-2025"]
    assert baseline_npv(s) > 1_000_000
    assert expected_npv(s) < -250_000
    b1 = s.benefits.set_index("line_id").loc["B1", s.periods].astype(float).fillna(0)
    acts = s.actuals[(s.actuals["line_id"] == "B1")].set_index("period")["amount"]
    assert acts.sum() < 0.35 * b1[acts.index].sum()  # a fraction of plan


def test_crm_creates_value_and_data_platform_is_at_risk_but_positive(sample):
    crm, data = sample["CRM-2025"], sample["DATA-2025"]
    assert expected_npv(crm) > baseline_npv(crm) * 1.1
    assert 0 < expected_npv(data) < 0.85 * baseline_npv(data)


def test_erp_slipped_two_quarters(sample):
    s = sample["ERP-2024"]
    planned = s.benefits.set_index("line_id").loc["B2", s.periods].astype(float).fillna(0)
    first_planned = next(p for p in s.periods if planned[p] > 0)
    acts = s.actuals[(s.actuals["line_id"] == "B2") & (s.actuals["amount"] > 0)]
    first_actual = min(acts["period"], key=lambda p: period_offset(p, "2000Q1", "quarter"))
    assert period_offset(first_actual, first_planned, "quarter") == 2
    assert 0 < expected_npv(s) < baseline_npv(s)


def test_hand_rolled_baseline_npv_agrees_with_the_appraisal_module(sample):
    appraisal = pytest.importorskip("vmo_lib.analysis.appraisal")
    mod = _script()
    built = {c.case_id: c for _, c in mod.build_portfolio()}
    for cid, s in sample.items():
        if s.meta["discount_schedule"] != "flat":
            continue
        assert baseline_npv(s) == pytest.approx(appraisal.npv_of(built[cid], "baseline"), rel=1e-9, abs=0.01), cid


def test_readme_lists_every_case(sample):
    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    for cid in sample:
        assert text.count(f"| {cid} |") == 2, cid  # the register and the "what each case exercises" table


# --- the cases that exercise the review rules (issue 11) --------------------------------------------
@functools.cache
def _loaded(case_id: str):
    from vmo_lib.intake.loader import load_case

    return load_case(SAMPLE / f"{case_id}.xlsx", as_of="2026Q4")  # actuals up to 2026Q4 are allowed


def _status(case_id: str, as_of: str):
    from vmo_lib.analysis.realisation import case_status

    return case_status(_loaded(case_id), as_of)


def _decision(case_id: str, as_of: str) -> str:
    from vmo_lib.analysis.review import decide

    meta = _loaded(case_id).meta
    return decide(_status(case_id, as_of), meta["status"], meta["case_type"])[0]


def forward_npv(s: Sheetful) -> float:
    """What remains after the review period, discounted to the first period after it."""
    sign = baseline_matrix(s)[2]
    rest = (sign @ expected_matrix(s))[_t(s, REVIEWED[s.meta["period_length"]]) + 1:]
    return case_npv(s, rest)


def _npv8(flows: list[float]) -> float:
    return sum(x / 1.08 ** t for t, x in enumerate(flows))


def test_yearly_case_is_reviewed_for_its_last_completed_year(sample):
    s = sample["DEVICE-2024"]
    assert s.periods == ["2024", "2025", "2026", "2027", "2028", "2029"]
    assert sorted(set(s.actuals["period"])) == ["2024", "2025"]  # the 2026 return is not due before the year ends
    assert s.forecast.empty
    # Worked by hand from the generator: C1 £800k a year; C2 £450k (2024) + £250k (2025); C3 £60k (2025);
    # B1 £700k in 2025, then £1.4m a year; B2 4,000 then 8,000 hours at £35 (£140k, £280k).
    base = [-1_250_000, -270_000, 880_000, 880_000, 880_000, 880_000]
    # Actuals: C2 +10% (£495k, £275k), B1 90% of plan in 2025 (£630k), the rest as planned; 2026 on: the baseline.
    exp = [-1_295_000, -365_000, 880_000, 880_000, 880_000, 880_000]
    assert _npv8(base) == pytest.approx(1_198_770.02, abs=0.01)
    assert _npv8(exp) == pytest.approx(1_065_807.05, abs=0.01)
    assert baseline_npv(s) == pytest.approx(_npv8(base), abs=0.01)
    assert expected_npv(s) == pytest.approx(_npv8(exp), abs=0.01)
    pv_cost = 1_250_000 + 1_110_000 / 1.08 + sum(800_000 / 1.08 ** t for t in range(2, 6))
    assert pv_cost == pytest.approx(4_731_205.0, abs=1.0)  # a shortfall of £132,963: -2.8 %, inside the band

    q3 = _status("DEVICE-2024", "2026Q3")
    assert q3.as_of == "2025"
    assert q3.baseline_npv == pytest.approx(_npv8(base), abs=0.01)
    assert q3.expected_npv == pytest.approx(_npv8(exp), abs=0.01)
    assert q3.verdict.label == hand_verdict(_npv8(base), _npv8(exp), pv_cost) == "on track"
    assert q3.realisation_pct == pytest.approx((630_000 + 140_000) / (700_000 + 140_000))

    q4 = _status("DEVICE-2024", "2026Q4")  # now the review covers 2026, whose actual is missing
    assert q4.as_of == "2026"
    y2026 = q4.expected[q4.expected["period"] == "2026"]
    assert (y2026["source"] == "plan").all()
    assert y2026.loc[y2026["amount"] != 0, "estimated"].all() and (y2026["amount"] != 0).sum() == 3


def test_cancelled_case_has_actuals_to_the_cancellation_and_nothing_after(sample):
    s = sample["LOYALTY-2025"]
    assert s.meta["status"] == "cancelled"
    cancel_t = _t(s, "2026Q3")
    assert max(_t(s, p) for p in s.actuals["period"]) == cancel_t
    m, ids, sign = baseline_matrix(s)
    planned_after = {(ids[i], s.periods[t]) for i in range(len(ids)) for t in range(cancel_t + 1, len(s.periods))
                     if m[i, t] != 0}
    forecast = set(zip(s.forecast["line_id"], s.forecast["period"], strict=True))
    assert len(planned_after) == 3 * 13 and planned_after <= forecast  # C2, B1, B2 2026Q4-2029Q4 (C1's plan ended)
    assert (s.forecast["amount"] == 0).all()
    assert (expected_matrix(s)[:, cancel_t + 1:] == 0).all()
    ben = s.actuals[s.actuals["line_id"].str.startswith("B")]
    assert set(ben["period"]) == {"2026Q3"} and (ben["amount"] == 0).all()  # nothing realised when benefits fell due
    # the expected NPV is the actuals alone, discounted one by one
    q = 1.10 ** 0.25 - 1
    by_hand = sum((-1 if r.line_id.startswith("C") else 1) * r.amount / (1 + q) ** _t(s, r.period)
                  for r in s.actuals.itertuples())
    assert expected_npv(s) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand < -1_000_000 < 1_000_000 < baseline_npv(s)

    st = _status("LOYALTY-2025", AS_OF)
    assert st.expected_npv == pytest.approx(by_hand, abs=0.01)
    assert st.forward_npv == 0
    assert st.verdict.label == hand_verdict(baseline_npv(s), by_hand, pv_costs(s, m)) == "value destroyed"
    assert _decision("LOYALTY-2025", AS_OF) == "closed"  # never "continue", though nothing remains to lose


def test_review_quarter_with_only_a_dis_benefit_due(sample):
    s = sample["WMS-2025"]
    b = s.benefits.set_index("line_id")

    def due(lid: str) -> set[str]:
        return {p for p in s.periods if not pd.isna(b.loc[lid, p]) and b.loc[lid, p] != 0}

    assert {lid: float(b.loc[lid, "2026Q3"]) for lid in b.index if "2026Q3" in due(lid)} == {"D1": -85_000.0}
    assert b.loc["D1", "benefit_type"] == "dis-benefit" and due("D1") == {"2026Q3"}
    assert due("B1") == {"2025Q4", "2026Q4", "2027Q4", "2028Q4", "2029Q4"}  # peak season
    assert due("B2") == {"2026Q1", "2027Q1", "2028Q1", "2029Q1", "2030Q1"}  # year-end stock count
    q3 = s.actuals[(s.actuals["period"] == "2026Q3") & s.actuals["line_id"].isin(b.index)]
    assert list(q3["line_id"]) == ["D1"] and float(q3["amount"].iloc[0]) < -85_000  # 20 % above plan

    from vmo_lib.analysis.realisation import realisation_by_line

    lines = realisation_by_line(_loaded("WMS-2025"), AS_OF).set_index("line_id")
    assert lines.loc["B1", "plan_period"] == 0 and lines.loc["B2", "plan_period"] == 0  # nothing due
    assert lines.loc["D1", "plan_period"] == -85_000
    assert lines.loc["D1", "actual_period"] == float(q3["amount"].iloc[0])
    # the anchor client leaves: the owner forecasts a fifth of the peak saving and half the stock saving
    fc = s.forecast.set_index(["line_id", "period"])["amount"]
    assert fc[("B1", "2027Q4")] == 0.2 * 540_000 and fc[("B2", "2027Q1")] == 0.5 * 150_000
    st = _status("WMS-2025", AS_OF)
    m = baseline_matrix(s)[0]
    assert st.expected_npv == pytest.approx(expected_npv(s), abs=0.01)
    assert st.verdict.label == hand_verdict(baseline_npv(s), expected_npv(s), pv_costs(s, m)) == "value destroyed"
    assert st.forward_npv == pytest.approx(forward_npv(s), abs=0.01) and forward_npv(s) < -100_000
    assert _decision("WMS-2025", AS_OF) == "stop"  # what remains costs more than it returns


def test_rebaseline_approved_after_the_review_period(sample):
    s = sample["FIELD-2025"]
    approved = pd.Timestamp(s.baselines["approved"].iloc[0]).date()
    assert dt.date(2026, 9, 30) < approved <= dt.date(2026, 12, 31)  # after 2026Q3, within 2026Q4
    m, ids, sign = baseline_matrix(s)
    rb = rebaseline_matrix(s, "RB1")
    q3_t = _t(s, "2026Q3")
    b1, b2 = ids.index("B1"), ids.index("B2")
    # the original baseline had benefits due in 2026Q3 (B1 £180k/4; B2 3,000/4 visits at £85 = £63,750, to the
    # £100: £63,800); RB1 none yet
    assert (m[b1, q3_t], m[b2, q3_t]) == (45_000, 63_800) and rb[b1, q3_t] + rb[b2, q3_t] == 0
    reported = s.actuals[s.actuals["period"] == "2026Q3"].set_index("line_id")["amount"]
    assert reported["B1"] == 0 and reported["B2"] == 0
    # the owner's forecast already follows RB1, so the expected NPV does not depend on the baseline in force
    np.testing.assert_array_equal(expected_matrix(s), expected_matrix(s, rb))
    np.testing.assert_array_equal(expected_matrix(s)[:, q3_t + 1:], rb[:, q3_t + 1:])
    base, rb_npv, exp = case_npv(s, sign @ m), case_npv(s, sign @ rb), expected_npv(s)
    vs_original = hand_verdict(base, exp, pv_costs(s, m))
    vs_rb1 = hand_verdict(rb_npv, exp, pv_costs(s, rb))
    assert (vs_original, vs_rb1) == ("at risk", "on track")

    q3, q4 = _status("FIELD-2025", "2026Q3"), _status("FIELD-2025", "2026Q4")
    assert q3.baseline_npv == pytest.approx(base, abs=0.01) and q3.expected_npv == pytest.approx(exp, abs=0.01)
    assert q3.verdict_vs_original.label == vs_original
    # RB1 is not in force before its approval: the 2026Q3 review judges the case against the original
    assert q3.baseline_in_force == "baseline" and q3.verdict.label == vs_original
    assert q3.current_baseline_npv == pytest.approx(base, abs=0.01)
    assert q4.baseline_in_force == "rebaseline:RB1"
    assert q4.current_baseline_npv == pytest.approx(rb_npv, abs=0.01) and q4.verdict.label == vs_rb1
    assert (_decision("FIELD-2025", "2026Q3"), _decision("FIELD-2025", "2026Q4")) == ("recover", "continue")


def test_readme_verdicts_and_decisions_are_those_of_the_code(sample):
    from vmo_lib.analysis.realisation import VERDICTS
    from vmo_lib.analysis.review import DECISIONS

    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    specs = _script().sample_specs()
    assert sorted(sp.meta["case_id"] for sp in specs) == sorted(sample)
    assert {sp.verdict for sp in specs} == set(VERDICTS)
    assert {sp.decision for sp in specs} == set(DECISIONS)
    for sp in specs:
        cid = sp.meta["case_id"]
        assert f"| {cid} | {sp.exercises} | {sp.verdict} | {sp.decision} |" in text
        assert (_status(cid, AS_OF).verdict.label, _decision(cid, AS_OF)) == (sp.verdict, sp.decision), cid
