"""Issue 15 (portfolio at scale): loading a folder and running work on each case where it was loaded
(:func:`vmo_lib.intake.loader.load_portfolio_with`), and the portfolio's reviews computed that way
(:func:`vmo_lib.portfolio.review.review_folder`), give what the serial path gives: the same cases, the
same reviews (every figure of ``to_dict``), the same errors.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest

from vmo_lib.analysis.review import review_case
from vmo_lib.errors import AnalysisError
from vmo_lib.intake.loader import load_portfolio, load_portfolio_with
from vmo_lib.portfolio.review import review_folder

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
AS_OF = "2026Q3"


def _summary(case) -> tuple[str, int, float]:
    """What a worker sends back: the case id, its flow rows and the sum of its amounts."""
    return case.case_id, len(case.flows), float(case.flows["amount"].sum())


def _fail_on(case, bad: str):
    if case.case_id == bad:
        raise AnalysisError(f"no answer for {case.case_id}")
    return case.case_id


def _plain(d) -> str:
    return json.dumps(d, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def serial():
    return load_portfolio(SAMPLE, as_of=AS_OF, workers=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_follow_the_cases(serial, workers):
    pf, out = load_portfolio_with(SAMPLE, AS_OF, workers, then=_summary)
    assert [c.case_id for c in pf.cases] == [c.case_id for c in serial.cases]
    # the second method: the same summary computed here on the cases load_portfolio gives
    assert out == [_summary(c) for c in serial.cases]
    assert len(out) == len(pf.cases) >= 10


def test_without_then_it_is_load_portfolio(serial):
    pf, out = load_portfolio_with(SAMPLE, AS_OF, 2)
    assert out == [None] * len(serial.cases)
    assert [c.case_id for c in pf.cases] == [c.case_id for c in serial.cases]
    assert list(pf.failures["path"]) == list(serial.failures["path"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_then_raises_its_own_error(serial, workers):
    bad = serial.cases[3].case_id
    with pytest.raises(AnalysisError, match=f"no answer for {bad}"):
        load_portfolio_with(SAMPLE, AS_OF, workers, then=functools.partial(_fail_on, bad=bad))


def test_a_duplicate_left_out_never_raises(tmp_path, serial):
    """A workbook left out (its case id is already used) is not part of the portfolio: what `then`
    does on it is never raised."""
    first = sorted(SAMPLE.glob("*.xlsx"))[0]
    tmp_path = tmp_path / "sample"
    shutil.copytree(SAMPLE, tmp_path)  # with its returns folders
    shutil.copy(first, tmp_path / ("zz-copy-" + first.name))
    bad = serial.cases[0].case_id
    assert load_portfolio(tmp_path, AS_OF, workers=1).cases[0].case_id == bad
    # the first copy is in the portfolio and fails: raised; with a then failing only on the copy: not
    with pytest.raises(AnalysisError):
        load_portfolio_with(tmp_path, AS_OF, 2, then=functools.partial(_fail_on, bad=bad))
    pf, out = load_portfolio_with(tmp_path, AS_OF, 2, then=_summary)
    assert len(pf.cases) == len(serial.cases) and len(pf.failures) == len(serial.failures) + 1
    assert pf.failures["path"].iloc[-1].endswith("zz-copy-" + first.name)
    assert out == [_summary(c) for c in serial.cases]


def test_reviews_in_workers_are_the_reviews_here(serial):
    """review_folder with two workers against review_case on each case in this process: every figure
    of each review's plain data, and its parts computed on first use."""
    pf, reviews = review_folder(SAMPLE, AS_OF, workers=2, iterations=2000, seed=3)
    assert [r.case_id for r in reviews] == [c.case_id for c in serial.cases]
    for case, r in zip(serial.cases, reviews, strict=True):
        here = review_case(case, AS_OF, iterations=2000, seed=3)
        assert _plain(r.to_dict(detail=False)) == _plain(here.to_dict(detail=False))
        assert _plain(r.to_dict()) == _plain(here.to_dict())
        assert r.tornado.equals(here.tornado) and r.early_warning.equals(here.early_warning)
    some = next(r for r in reviews if r.simulation is not None)
    assert some.risk_figures()["risk_p50"] == pytest.approx(some.simulation.percentile(50))


def test_to_dict_is_kept_and_copied(serial):
    r = review_case(serial.cases[0], AS_OF, iterations=500)
    d = r.to_dict(detail=False)
    d["expected_npv"] = "changed"
    d["npv_basis"]["annual_rate"] = "changed"
    again = r.to_dict(detail=False)
    assert again["expected_npv"] == r.status.expected_npv  # the caller's change stays with the caller
    assert again["npv_basis"]["annual_rate"] == r.expected.annual_rate
    assert "benefits" in r.to_dict() and "benefits" not in again
