"""Excel-faithful financial core: NPV, IRR, XNPV, XIRR, MIRR, payback and Green Book discounting.

Every function accepts one cash-flow series (1-D) or many series at once (2-D, one series per row)
unless its docstring says otherwise; 2-D input returns one result per row.

Conventions (read these before comparing with a spreadsheet)
------------------------------------------------------------
* ``values[0]`` happens at t = 0 (today) and is **not** discounted; ``values[t]`` is discounted
  ``t`` periods. Excel's ``NPV(rate, v1..vn)`` discounts its first value one period, so
  ``npv(rate, [v0, ..., vn]) == v0 + NPV(rate, v1..vn)`` in Excel. :func:`excel_npv` reproduces
  Excel's own convention when that is what a reviewer has in their workbook.
* Rates are per period. Turn an annual rate into a quarterly one with :func:`per_period_rate`
  (compounding, ``(1 + r) ** (1 / 4) - 1``), never by dividing by 4.
* "No defined answer" (an IRR with no root, a payback that never happens, MIRR without both signs)
  is ``nan``. Functions with ``raise_on_failure=True`` raise :class:`vmo_lib.errors.AnalysisError`
  instead. Malformed input (wrong shapes, dates before the first date) raises ``ValueError``.
* A ``nan`` anywhere in a series makes that series' result ``nan``: an unknown flow makes the answer
  unknown. (Excel instead *skips* blank cells in ``NPV``/``IRR``, silently moving every later flow one
  period earlier; fill gaps with 0 explicitly if 0 is what you mean.)
* An IRR is only ever returned after checking ``|NPV(IRR)| <= 1e-9 * sum(|v_t| / (1 + IRR) ** t)``,
  or that the NPV changes sign within 4 units in the last place of the rate (the root as exact as
  a float can hold it, which matters near -100 %); a rate that fails is reported as ``nan``.

Which root: Excel's, from the same guess
----------------------------------------
:func:`irr` and :func:`xirr` first run Excel's documented iteration (Microsoft's IRR and XIRR pages):
Newton's method on the rate from ``guess`` (default 0.1), at most 20 steps for IRR and 100 for
XIRR, stopping when a step changes the rate by at most 0.00001 % (1e-7) for IRR and 0.000001 %
(1e-8) for XIRR. Where that converges to a rate above -100 %, the answer is Excel's root, polished to
full precision; on series with several roots this is the one Excel shows for the same guess.
Where the iteration does not converge (Excel shows ``#NUM!``), or converges to a rate at or below
-100 % (LibreOffice then shows e.g. -136 %; not a rate of return, never returned here), a root may
still exist: then the fall-backs documented in :func:`irr` and :func:`xirr` return one (the root
nearest the guess when Newton's method cannot reach it), and :func:`irr_report` lists every root. :func:`irr` solves 10,000 series in one
vectorised call (pyxirr is 1-D only) and checks every answer relative to the size of the flows
(pyxirr's tolerance is absolute). No numpy exception or floating-point warning leaves this module:
"no answer" is ``nan`` (or :class:`vmo_lib.errors.AnalysisError` with ``raise_on_failure=True``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "IrrReport",
    "annuity_factor",
    "discount_factors",
    "discounted_payback",
    "equivalent_annual_cost",
    "excel_npv",
    "green_book_discount_factors",
    "irr",
    "irr_report",
    "irr_roots",
    "mirr",
    "npv",
    "payback",
    "per_period_rate",
    "xirr",
    "xnpv",
]

#: A returned IRR must satisfy |NPV| <= RESIDUAL_TOLERANCE * sum(|v_t| * DF_t).
RESIDUAL_TOLERANCE = 1e-9
_NEWTON_MAX_ITER = 40
# Excel's documented iterations (support.microsoft.com, IRR and XIRR): IRR stops when the rate is
# "accurate within 0.00001 percent" or after 20 tries; XIRR within 0.000001 percent or after 100 tries.
# The tolerance is on the rate's change, absolute up to a rate of 100 % and relative above it (a float
# cannot resolve 1e-8 of a rate of 1e11, where Newton's steps then cycle between neighbouring floats).
EXCEL_IRR_MAX_ITER = 20
EXCEL_IRR_TOL = 1e-7
EXCEL_XIRR_MAX_ITER = 100
EXCEL_XIRR_TOL = 1e-8
_SAME_ROOT = 1e-5  # a polished root this close (relative) to Excel's stopping point is Excel's root
_DENSE_BELOW = 256  # active rows below which Newton evaluates NPV densely instead of by Horner
_NEWTON_STEP_TOL = 1e-13
_DAYS_PER_YEAR = 365.0
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")

# HM Treasury Green Book (2022), Annex A6, Table 8: long-term discount rates by year band.
_GREEN_BOOK_BREAKS = (30.0, 75.0, 125.0, 200.0, 300.0)
_GREEN_BOOK_RATES = {
    "standard": (0.035, 0.030, 0.025, 0.020, 0.015, 0.010),
    "health": (0.015, 0.0129, 0.0107, 0.0086, 0.0064, 0.0043),
}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def _as_flows(values: ArrayLike) -> tuple[NDArray[np.float64], bool]:
    """Return ``values`` as a float 2-D array (one series per row) and whether the input was 1-D."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return arr[np.newaxis, :], True
    if arr.ndim == 2:
        return arr, False
    raise ValueError(f"values must be 1-D (one series) or 2-D (one series per row), got {arr.ndim}-D")


def _quiet(fn: Any) -> Any:
    """Run ``fn`` with numpy's floating-point errors ignored.

    Overflow, division by zero and invalid operations are answered as ``nan``/``inf`` and then
    checked, never raised: a caller's ``numpy.seterr(all="raise")`` or ``warnings`` filter turning
    RuntimeWarnings into errors must not turn a "no answer" into a ``FloatingPointError``.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def _out(result: NDArray[np.float64], one: bool) -> Any:
    """Unwrap a one-row result to a Python float, keep arrays as arrays."""
    return float(result[0]) if one else result


def _analysis_error(message: str) -> Exception:
    """Build the error to raise when the caller asked for it (lazily, so errors.py stays optional)."""
    try:
        from vmo_lib.errors import AnalysisError
    except ImportError:  # pragma: no cover - errors module missing
        return ValueError(message)
    return AnalysisError(message)


def _horner(vt: NDArray[np.float64], x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Evaluate ``P(x) = sum_t v_t x**t`` and ``P'(x)`` for every column of ``vt`` (periods x series)."""
    n = vt.shape[0]
    p = vt[n - 1].copy()
    dp = np.zeros_like(p)
    for t in range(n - 2, -1, -1):
        dp *= x
        dp += p
        p *= x
        p += vt[t]
    return p, dp


def _npv_and_scale(v: NDArray[np.float64], r: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """NPV of each row of ``v`` at its rate ``r`` and the scale ``sum |v_t| / (1 + r)**t``."""
    with np.errstate(all="ignore"):
        x = 1.0 / (1.0 + r)
        p, _ = _horner(np.ascontiguousarray(v.T), x.copy())
        s, _ = _horner(np.ascontiguousarray(np.abs(v).T), x.copy())
    return p, s


def _is_verified_root(v: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.bool_]:
    """True where ``r`` is a finite rate > -1 whose NPV is zero relative to the size of the flows."""
    p, s = _npv_and_scale(v, r)
    with np.errstate(invalid="ignore"):
        rate_ok = np.isfinite(r) & (r > -1.0)
        small = rate_ok & np.isfinite(p) & np.isfinite(s) & (s > 0) & (np.abs(p) <= RESIDUAL_TOLERANCE * s)
    return small | _float_bracketed(v, r, rate_ok & ~small)


_BRACKET_ULPS = 4.0


def _float_bracketed(v: NDArray[np.float64], r: NDArray[np.float64], check: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Where ``check``: True when the NPV changes sign between ``r -/+ 4 ulp(r)``.

    Such a rate is the root to the last digits a float can hold even when the residual test cannot
    pass: near ``r = -1`` a float rate fixes ``1 + r`` only to ~1e-16 / (1 + r) relative, and the NPV
    with it (numpy-financial's ``[-3000, 2.4e-07, ...]`` series has its root at ``1 + r = 9.4e-10``).
    """
    out = np.zeros(r.shape, dtype=bool)
    rows = np.flatnonzero(check)
    if rows.size:
        rr = r[rows]
        step = _BRACKET_ULPS * np.spacing(np.abs(rr))
        lo, hi = rr - step, rr + step
        with np.errstate(all="ignore"):
            a = np.sign(_signed_npv(v[rows], lo))
            b = np.sign(_signed_npv(v[rows], hi))
            out[rows] = (lo > -1.0) & np.isfinite(a) & np.isfinite(b) & (a * b < 0)
    return out


def _to_day_numbers(dates: ArrayLike) -> NDArray[np.float64]:
    """Dates (date objects, ISO strings, numpy datetime64, or Excel serial numbers) as whole days."""
    arr = np.asarray(dates)
    if arr.ndim != 1:
        raise ValueError("dates must be 1-D")
    if arr.dtype.kind in "iuf":
        return np.floor(arr.astype(np.float64))  # Excel serials; Excel truncates them to integers
    days = np.asarray(arr, dtype="datetime64[D]")
    return (days - _EXCEL_EPOCH).astype(np.float64)


def _dated_times(dates: ArrayLike, n_values: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Day numbers and Excel's XNPV/XIRR times (d_i - d_first) / 365, checking Excel's date rules."""
    days = _to_day_numbers(dates)
    if days.shape[0] != n_values:
        raise ValueError(f"{n_values} values but {days.shape[0]} dates")
    if n_values == 0:
        return days, days
    if np.any(days < days[0]):
        raise ValueError("a date precedes the first date (Excel returns #NUM!)")
    return days, (days - days[0]) / _DAYS_PER_YEAR


# --------------------------------------------------------------------------------------------------
# discounting
# --------------------------------------------------------------------------------------------------
@_quiet
def per_period_rate(annual_rate: ArrayLike, periods_per_year: int) -> Any:
    """Convert an annual rate to the equivalent compound rate per period.

    Parameters
    ----------
    annual_rate : float or array_like
        Effective annual rate, e.g. ``0.035`` for 3.5 %.
    periods_per_year : int
        4 for quarters, 12 for months.

    Returns
    -------
    float or ndarray
        ``(1 + annual_rate) ** (1 / periods_per_year) - 1``.

    Notes
    -----
    Compounding ``k`` periods at the returned rate gives back exactly one year at ``annual_rate``.
    It is computed as ``expm1(log1p(r) / k)`` to stay accurate for very small rates.

    Examples
    --------
    >>> round(per_period_rate(0.035, 4), 10)
    0.008637446
    >>> round((1 + per_period_rate(0.035, 4)) ** 4 - 1, 12)
    0.035
    """
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    r = np.asarray(annual_rate, dtype=np.float64)
    out = np.expm1(np.log1p(r) / periods_per_year)
    return float(out) if out.ndim == 0 else out


@_quiet
def discount_factors(rate: float, n_periods: int) -> NDArray[np.float64]:
    """Discount factors ``1 / (1 + rate) ** t`` for ``t = 0 .. n_periods - 1``.

    Parameters
    ----------
    rate : float
        Discount rate per period; must be greater than -1 (otherwise every factor is ``nan``).
    n_periods : int
        Number of factors, period 0 included.

    Returns
    -------
    ndarray
        Factor for period 0 is 1 (period 0 is not discounted).

    Notes
    -----
    ``DF_t = (1 + r) ** -t``. Any factor vector (for example
    :func:`green_book_discount_factors`) can be passed to ``npv(None, values, factors=...)``.

    Examples
    --------
    >>> discount_factors(0.1, 3).round(6).tolist()
    [1.0, 0.909091, 0.826446]
    """
    t = np.arange(n_periods, dtype=np.float64)
    if not rate > -1.0:
        return np.full(n_periods, np.nan)
    return np.power(1.0 + float(rate), -t)


@_quiet
def green_book_discount_factors(
    n_periods: int, periods_per_year: int = 1, schedule: str = "standard"
) -> NDArray[np.float64]:
    """HM Treasury Green Book discount factors with the declining long-term schedule.

    Parameters
    ----------
    n_periods : int
        Number of factors, period 0 included.
    periods_per_year : int, default 1
        1 for annual periods, 4 for quarters (period ``t`` is year ``t / 4``).
    schedule : {"standard", "health"}
        ``"standard"``: 3.5 % for years 0-30, 3.0 % for 31-75, 2.5 % for 76-125, 2.0 % for 126-200,
        1.5 % for 201-300, 1.0 % after. ``"health"`` (health effects valued in QALYs):
        1.5 %, 1.29 %, 1.07 %, 0.86 %, 0.64 %, 0.43 % over the same bands.

    Returns
    -------
    ndarray
        ``DF[0] = 1``; use with ``npv(None, values, factors=...)``.

    Notes
    -----
    The rates are chained, not switched: for a year ``y`` in the band starting after break
    ``b`` with rate ``r_b``, ``DF(y) = DF(b) / (1 + r_b) ** (y - b)``. So ``DF(30) = 1/1.035**30`` and
    ``DF(31) = DF(30) / 1.03``. Fractional years (quarters) use the same formula with a fractional
    exponent, which equals compounding the quarterly equivalent rate.

    Source: HM Treasury, *The Green Book* (2022), Annex A6 "Discounting", Table 8 (standard and
    health schedules; the health rates are the published two-decimal values, 1.5 % x the standard
    rate / 3.5 %, rounded), as also tabulated in the ``greenbook`` R package's ``stpr_schedule``.

    Warnings
    --------
    Period 0 is "now" and is not discounted; a case whose first period is year 1 must put a zero (or
    its year-0 flows) in period 0.

    Examples
    --------
    >>> df = green_book_discount_factors(32)
    >>> bool(np.isclose(df[30], 1 / 1.035**30)), bool(np.isclose(df[31], df[30] / 1.03))
    (True, True)
    >>> q = green_book_discount_factors(5, periods_per_year=4)
    >>> bool(np.isclose(q[4], 1 / 1.035))
    True
    """
    try:
        rates = _GREEN_BOOK_RATES[schedule]
    except KeyError:
        raise ValueError(f"schedule must be one of {sorted(_GREEN_BOOK_RATES)}, got {schedule!r}") from None
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    years = np.arange(n_periods, dtype=np.float64) / periods_per_year
    log_df = np.zeros(n_periods)
    lower = 0.0
    for i, rate in enumerate(rates):
        upper = _GREEN_BOOK_BREAKS[i] if i < len(_GREEN_BOOK_BREAKS) else np.inf
        log_df -= np.clip(years - lower, 0.0, upper - lower) * math.log1p(rate)
        lower = upper
    return np.exp(log_df)


@_quiet
def annuity_factor(rate: ArrayLike, n_periods: ArrayLike) -> Any:
    """Present value of 1 paid at the end of each of ``n_periods`` periods.

    Parameters
    ----------
    rate : float or array_like
        Rate per period (> -1).
    n_periods : float or array_like
        Number of payments.

    Returns
    -------
    float or ndarray
        ``sum_{t=1..n} (1 + rate) ** -t``; equals ``n`` when ``rate == 0``.

    Notes
    -----
    ``A(r, n) = (1 - (1 + r) ** -n) / r``, computed as ``-expm1(-n log1p(r)) / r``.

    Warnings
    --------
    Payments are in arrears (end of periods 1..n), like Excel's ``PV(rate, n, -1)`` with type 0.

    Examples
    --------
    >>> round(annuity_factor(0.035, 10), 6)
    8.316605
    >>> annuity_factor(0.0, 10)
    10.0
    """
    r = np.asarray(rate, dtype=np.float64)
    n = np.asarray(n_periods, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(r == 0.0, n, -np.expm1(-n * np.log1p(r)) / np.where(r == 0.0, 1.0, r))
    out = np.where(r > -1.0, out, np.nan)
    return float(out) if out.ndim == 0 else out


@_quiet
def equivalent_annual_cost(rate: ArrayLike, pv: ArrayLike, n_years: ArrayLike) -> Any:
    """Equivalent annual cost: the level end-of-year amount with the same present value as ``pv``.

    Parameters
    ----------
    rate : float or array_like
        Annual discount rate.
    pv : float or array_like
        Present value of the costs (positive for a cost).
    n_years : float or array_like
        Life over which the cost is spread.

    Returns
    -------
    float or ndarray
        ``pv / annuity_factor(rate, n_years)``.

    Notes
    -----
    ``EAC = PV * r / (1 - (1 + r) ** -n)``, Excel ``PMT(rate, n, -pv)``.

    Warnings
    --------
    The annual amounts are assumed at the end of each year (arrears).

    Examples
    --------
    >>> round(equivalent_annual_cost(0.035, 1_000_000, 10), 2)
    120241.37
    """
    out = np.asarray(pv, dtype=np.float64) / np.asarray(annuity_factor(rate, n_years))
    return float(out) if out.ndim == 0 else out


def _period_factors(rate: float | None, factors: ArrayLike | None, n: int) -> NDArray[np.float64]:
    """The ``n`` discount factors of a constant per-period ``rate`` or of a given ``factors`` vector."""
    if factors is None:
        if rate is None:
            raise TypeError("give a rate or factors=")
        return discount_factors(rate, n)
    if rate is not None:
        raise TypeError("give either a rate or factors=, not both")
    df = np.asarray(factors, dtype=np.float64)
    if df.ndim != 1 or df.shape[0] < n:
        raise ValueError(f"factors must be 1-D with at least {n} entries")
    return df[:n]


@_quiet
def npv(rate: float | None, values: ArrayLike, *, factors: ArrayLike | None = None) -> Any:
    """Net present value with period 0 undiscounted (the appraisal convention).

    Parameters
    ----------
    rate : float or None
        Discount rate per period. Pass ``None`` when giving ``factors``.
    values : array_like
        Cash flows, 1-D (one series) or 2-D (one series per row); ``values[..., t]`` is period ``t``.
    factors : array_like, optional
        A discount-factor vector to use instead of a constant rate (e.g.
        :func:`green_book_discount_factors`); its first ``n`` entries are used, ``factors[0]`` for
        period 0 (normally 1).

    Returns
    -------
    float or ndarray
        One NPV per series. ``nan`` where a series contains ``nan`` or ``rate <= -1``.

    Notes
    -----
    ``NPV = sum_{t=0}^{n-1} v_t / (1 + r) ** t``; for 2-D input it is the matrix product
    ``values @ DF``, which prices every row at once.

    Warnings
    --------
    Excel's ``NPV(rate, v1, ..., vn)`` discounts its *first* value one period. The Excel formula
    equal to ``npv(rate, [v0, v1, ..., vn])`` is ``=v0 + NPV(rate, v1..vn)``; for Excel's own
    convention use :func:`excel_npv`.

    Examples
    --------
    Microsoft's NPV example: 8 %, an investment of 40,000 today and five yearly returns. Excel's
    ``=NPV(8%, 8000, 9200, 10000, 12000, 14500) + -40000`` shows 1,922.06:

    >>> flows = [-40_000, 8_000, 9_200, 10_000, 12_000, 14_500]
    >>> round(npv(0.08, flows), 2)
    1922.06
    >>> round(-40_000 + excel_npv(0.08, flows[1:]), 2)
    1922.06

    Many series at once, and a Green Book factor vector instead of a rate:

    >>> npv(0.1, [[-100, 121], [-50, 66]]).round(6).tolist()
    [10.0, 10.0]
    >>> round(npv(None, [-100, 50, 60], factors=green_book_discount_factors(3)), 4)
    4.3198
    """
    v, one = _as_flows(values)
    return _out(v @ _period_factors(rate, factors, v.shape[1]), one)


@_quiet
def excel_npv(rate: float, values: ArrayLike) -> Any:
    """Excel's ``NPV(rate, values)``: the first value is discounted one full period.

    Parameters
    ----------
    rate : float
        Discount rate per period.
    values : array_like
        Cash flows at the end of periods 1..n, 1-D or 2-D (one series per row).

    Returns
    -------
    float or ndarray

    Notes
    -----
    ``NPV_excel = sum_{i=1}^{n} v_i / (1 + r) ** i = npv(rate, values) / (1 + rate)``.

    Warnings
    --------
    This is Excel's timing, kept for reconciliation only. Appraisals use :func:`npv`.

    Examples
    --------
    Microsoft's example: 10 %, a cost of 10,000 one year from today, then 3,000, 4,200, 6,800:

    >>> round(excel_npv(0.10, [-10_000, 3_000, 4_200, 6_800]), 2)
    1188.44
    """
    out = np.asarray(npv(rate, values), dtype=np.float64) / (1.0 + rate)
    return float(out) if out.ndim == 0 else out


@_quiet
def xnpv(rate: float, values: ArrayLike, dates: ArrayLike) -> Any:
    """Excel's ``XNPV``: NPV of flows on arbitrary dates, actual/365 from the first date.

    Parameters
    ----------
    rate : float
        Annual discount rate.
    values : array_like
        Cash flows, 1-D or 2-D (rows share the dates).
    dates : array_like
        One date per value: ``datetime.date``, ISO strings, ``numpy.datetime64`` or Excel serial
        numbers. No date may precede the first one (Excel's rule); the others may be in any order.

    Returns
    -------
    float or ndarray
        ``nan`` when ``rate <= -1`` or a flow is ``nan``.

    Notes
    -----
    ``XNPV = sum_i v_i / (1 + r) ** ((d_i - d_1) / 365)``; the first flow is not discounted.

    Warnings
    --------
    Days count from the *first date in the list*, not from a valuation date, and a year is always
    365 days (leap days included in the day count).

    Examples
    --------
    Microsoft's XNPV example at 9 %:

    >>> flows = [-10_000, 2_750, 4_250, 3_250, 2_750]
    >>> dates = ["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]
    >>> round(xnpv(0.09, flows, dates), 2)
    2086.65
    """
    v, one = _as_flows(values)
    _, t = _dated_times(dates, v.shape[1])
    if not rate > -1.0:
        return _out(np.full(v.shape[0], np.nan), one)
    return _out(v @ np.power(1.0 + float(rate), -t), one)


# --------------------------------------------------------------------------------------------------
# internal rate of return
# --------------------------------------------------------------------------------------------------
def _newton_rates(v: NDArray[np.float64], guess: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Newton's method on the rate for every row of ``v``, from ``guess`` (Excel's iteration).

    In ``x = 1 / (1 + r)`` the NPV is the polynomial ``P(x) = sum v_t x**t`` and
    ``dNPV/dr = -x**2 P'(x)``, so the Newton step on ``r`` is ``r + P / (x**2 P')``. A step that would
    leave ``r > -1`` goes halfway to -1 instead (the bisection safeguard).
    """
    m, n = v.shape
    rate = guess.astype(np.float64).copy()
    converged = np.zeros(m, dtype=bool)
    failed = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    vt = np.ascontiguousarray(v.T)
    r = rate.copy()
    with np.errstate(all="ignore"):
        for _ in range(_NEWTON_MAX_ITER):
            if idx.size == 0:
                break
            if idx.size > _DENSE_BELOW:
                x = 1.0 / (1.0 + r)
                p, dp = _horner(vt, x.copy())
                new = r + p / (dp * x * x)
            else:  # few rows left: a handful of dense numpy calls beats n Horner steps
                p, slope, _ = _dense_npv(vt.T, r)
                new = r - p / slope
            outside = ~(new > -1.0)
            new = np.where(outside, 0.5 * (r - 1.0), new)
            done = (p == 0.0) | (np.abs(new - r) <= _NEWTON_STEP_TOL * (1.0 + np.abs(new)))
            bad = ~np.isfinite(new) | (np.abs(new) > 1e9)
            new = np.where(p == 0.0, r, new)
            rate[idx] = new
            converged[idx[done & ~bad]] = True
            failed[idx[bad]] = True
            keep = ~(done | bad)
            if not keep.all():
                idx, r, vt = idx[keep], new[keep], vt[:, keep]
            else:
                r = new
    return rate, converged & ~failed


def _excel_newton_rates(
    v: NDArray[np.float64], guess: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Excel's ``IRR`` iteration for every row of ``v``: plain Newton on the rate from ``guess``.

    At most :data:`EXCEL_IRR_MAX_ITER` steps; a row stops when a step changes the rate by at most
    :data:`EXCEL_IRR_TOL` (times the rate above 100 %) and its answer is the rate after that step
    (Excel's "accurate within 0.00001 percent"). There is no safeguard: a step may leave ``r > -1``, as in Excel and LibreOffice.
    Returns the rates and whether each row stopped on the tolerance at a finite rate (a row that did
    not is Excel's ``#NUM!``).
    """
    m = v.shape[0]
    rate = guess.astype(np.float64).copy()
    converged = np.zeros(m, dtype=bool)
    idx = np.arange(m)
    vt = np.ascontiguousarray(v.T)
    r = rate.copy()
    with np.errstate(all="ignore"):
        for _ in range(EXCEL_IRR_MAX_ITER):
            if idx.size == 0:
                break
            if idx.size > _DENSE_BELOW:
                x = 1.0 / (1.0 + r)
                p, dp = _horner(vt, x.copy())
                new = r + p / (dp * x * x)
            else:
                p, slope = _dense_npv_any_rate(vt.T, r)
                new = r - p / slope
            bad = ~np.isfinite(new)
            done = ~bad & (np.abs(new - r) <= EXCEL_IRR_TOL * np.maximum(1.0, np.abs(new)))
            rate[idx] = new
            converged[idx[done]] = True
            keep = ~(done | bad)
            if not keep.all():
                idx, r, vt = idx[keep], new[keep], vt[:, keep]
            else:
                r = new
    return rate, converged


def _dense_npv_any_rate(v: NDArray[np.float64], r: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """NPV and dNPV/dr of each row at its own rate, valid below -1 too (integer powers of 1 + r)."""
    t = np.arange(v.shape[1], dtype=np.float64)
    base = 1.0 + r
    with np.errstate(all="ignore"):
        df = np.exp(-t * np.log(np.abs(base))[:, None])
        df = np.where((base < 0.0)[:, None] & (t % 2 == 1), -df, df)  # (1 + r) ** -t for 1 + r < 0 too
        value = (v * df).sum(axis=1)
        slope = -(t * v * df).sum(axis=1) / (1.0 + r)
    return value, slope


def _dense_npv(
    v: NDArray[np.float64], r: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """NPV, dNPV/dr and the scale ``sum |v_t| DF_t`` of each row of ``v`` at its own rate (small batches)."""
    t = np.arange(v.shape[1], dtype=np.float64)
    with np.errstate(all="ignore"):
        df = np.exp(-t * np.log1p(r)[:, None])
        value = (v * df).sum(axis=1)
        slope = -(t * v * df).sum(axis=1) / (1.0 + r)
        scale = (np.abs(v) * df).sum(axis=1)
    return value, slope, scale


def _scaled_terms(v: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    """The terms ``v_t / (1 + r) ** t`` of each row divided by the largest in size (so the largest is +-1).

    Computed in logarithms: no overflow and no underflow into subnormals, whatever ``r > -1`` and the
    number of periods (at ``1 + r = 1e-10`` and 32 periods the terms span 1e-320 to 1e+320).
    """
    t = np.arange(v.shape[1], dtype=np.float64)
    with np.errstate(all="ignore"):
        lg = np.log1p(r)[:, None]
        exponent = np.log(np.abs(v)) - np.where(t == 0.0, 0.0, t * lg)
        top = np.max(exponent, axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        return np.sign(v) * np.exp(exponent - top)


def _signed_npv(v: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    """A positive multiple of NPV(r) that neither overflows nor underflows (its sign is the NPV's)."""
    return _scaled_terms(v, r).sum(axis=1)


#: Rates where :func:`irr_roots` and the IRR fall-back look for sign changes of the NPV.
_SCAN_RATES = np.concatenate(
    [-1.0 + np.geomspace(1e-6, 1.0, 240, endpoint=False), [0.0], np.geomspace(1e-8, 1e4, 360)]
)


@functools.lru_cache(maxsize=16)
def _scan_grid(n: int) -> NDArray[np.float64]:
    """(n, len(_SCAN_RATES)) matrix: ``v @ grid`` is a positive multiple of NPV at each scan rate."""
    t = np.arange(n, dtype=np.float64)
    shift = np.where(_SCAN_RATES >= 0.0, 0.0, n - 1.0)
    grid = np.exp(-(t[:, None] - shift[None, :]) * np.log1p(_SCAN_RATES)[None, :])
    grid.flags.writeable = False
    return grid


def _rows_at(v: NDArray[np.float64], grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """``v @ grid``; for a few hundred rows or fewer without BLAS, whose threads cost more than the sum.

    (On a loaded two-core machine a threaded BLAS took 36 ms for 95 x 40 @ 40 x 600; the plain loop 0.4 ms.)
    """
    if v.shape[0] <= 512:
        return np.einsum("ij,jk->ik", v, grid, optimize=False)
    return v @ grid


def _scan_brackets(v: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``out[i, j]`` is True when row ``i``'s NPV changes sign (or is 0) on [_SCAN_RATES[j], [j+1]]."""
    with np.errstate(all="ignore"):
        sign = np.sign(_rows_at(v, _scan_grid(v.shape[1])))
    return (sign[:, :-1] * sign[:, 1:] < 0) | (sign[:, :-1] == 0)


def _scaled_npv_and_slope(
    v: NDArray[np.float64], r: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """NPV, dNPV/dr and ``sum |v_t| / (1 + r) ** t`` of each row, all divided by the same positive number.

    The common factor (:func:`_scaled_terms`) cancels in the Newton step ``NPV / NPV'`` and in the
    relative residual ``|NPV| / sum |v_t| DF_t``, which is all the callers use.
    """
    t = np.arange(v.shape[1], dtype=np.float64)
    w = _scaled_terms(v, r)
    with np.errstate(all="ignore"):
        return w.sum(axis=1), -(t * w).sum(axis=1) / (1.0 + r), np.abs(w).sum(axis=1)


def _bisect(v: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.float64]:
    """The root in each row's bracket [lo, hi] (NPV changes sign): Newton kept inside the bracket.

    A Newton step that leaves the bracket, or that does not halve ``|F|``, is replaced by bisection,
    so every row converges; the bracket shrinks around the sign change at every step.
    """
    f_lo = np.sign(_signed_npv(v, lo))
    lo, hi = lo.copy(), hi.copy()
    x = np.where(f_lo == 0, lo, 0.5 * (lo + hi))
    idx = np.flatnonzero(f_lo != 0)
    prev = np.full(idx.size, np.inf)
    for _ in range(100):
        if idx.size == 0:
            break
        xi = x[idx]
        value, slope, size = _scaled_npv_and_slope(v[idx], xi)
        s = np.sign(value)
        same = s == f_lo[idx]
        lo[idx] = np.where(same, xi, lo[idx])
        hi[idx] = np.where(same, hi[idx], xi)
        with np.errstate(all="ignore"):
            newton = xi - value / slope
        mid = 0.5 * (lo[idx] + hi[idx])
        with np.errstate(all="ignore"):
            rel = np.abs(value) / size
        use_newton = (newton > lo[idx]) & (newton < hi[idx]) & (rel <= 0.5 * prev)
        nxt = np.where(use_newton, newton, mid)
        done = (
            (s == 0)
            | (rel <= 1e-14)  # at the root to rounding: stop here (x keeps this point), polish below
            | (np.abs(nxt - xi) <= 1e-15 * (1.0 + np.abs(xi)))
            | (hi[idx] - lo[idx] <= 4 * np.spacing(np.abs(xi)))
        )
        x[idx] = np.where((s == 0) | (rel <= 1e-14), xi, nxt)
        keep = ~done
        idx, prev = idx[keep], rel[keep]
    return _polish(v, x)


def _polish(v: NDArray[np.float64], r: NDArray[np.float64], steps: int = 3) -> NDArray[np.float64]:
    """A few Newton steps on each rate, each kept only if it lowers the relative residual.

    Works on a scaled NPV (:func:`_scaled_npv_and_slope`) and compares ``|NPV| / sum |v_t| DF_t``,
    so rates within 1e-10 of -1, where the NPV's terms overflow, are polished too.
    """

    def residual(rate: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        value, slope, size = _scaled_npv_and_slope(v, rate)
        with np.errstate(all="ignore"):
            rel = np.abs(value) / size
        return value, slope, np.where(np.isfinite(rel), rel, np.inf)

    value, slope, rel = residual(r)
    for _ in range(steps):
        with np.errstate(all="ignore"):
            nxt = r - value / slope
        nxt = np.where(np.isfinite(nxt) & (nxt > -1.0), nxt, r)
        new_value, new_slope, new_rel = residual(nxt)
        better = new_rel < rel
        r = np.where(better, nxt, r)
        value = np.where(better, new_value, value)
        slope = np.where(better, new_slope, slope)
        rel = np.where(better, new_rel, rel)
    return r


def _verified(v: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Dense-evaluation twin of :func:`_is_verified_root` for small batches."""
    value, _, scale = _dense_npv(v, r)
    with np.errstate(invalid="ignore"):
        rate_ok = np.isfinite(r) & (r > -1.0)
        finite = np.isfinite(value) & np.isfinite(scale) & (scale > 0)
        small = rate_ok & finite & (np.abs(value) <= RESIDUAL_TOLERANCE * scale)
    return small | _float_bracketed(v, r, rate_ok & ~small)


def _polynomial_roots(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Candidate IRRs of one series from the roots of ``sum v_t x**t`` (x = 1/(1+r)), polished."""
    return _polynomial_roots_batch(v[np.newaxis, :])[1]


def _distinct_sorted(roots: NDArray[np.float64]) -> NDArray[np.float64]:
    roots = np.sort(roots)
    if roots.size > 1:
        roots = roots[np.concatenate([[True], np.diff(roots) > 1e-9 * (1.0 + np.abs(roots[1:]))])]
    return roots


@_quiet
def irr_roots(values: ArrayLike) -> NDArray[np.float64]:
    """Every real IRR of one series (all rates ``r > -1`` with ``NPV(r) = 0``), ascending.

    Parameters
    ----------
    values : array_like
        One series (1-D).

    Returns
    -------
    ndarray
        Possibly empty. Empty also when all flows are zero (every rate is a root: no IRR defined)
        or a flow is ``nan``.

    Notes
    -----
    With ``x = 1 / (1 + r)`` the NPV is the polynomial ``sum_t v_t x**t``. Candidates come from two
    independent searches: its positive real roots (eigenvalues of the companion matrix,
    ``numpy.roots``), mapped to ``r = 1/x - 1``; and bisection of every sign change of the NPV on a
    600-point grid of rates from -0.999999 to 10,000. Each candidate is polished by Newton's method
    and kept only if ``|NPV| <= 1e-9 * sum |v_t| x**t``; roots closer than ``1e-9`` (a double root)
    are reported once. By Descartes' rule there are at most as many roots as sign changes.

    Examples
    --------
    >>> irr_roots([-100, 230, -132]).round(10).tolist()
    [0.1, 0.2]
    >>> irr_roots([100, 100]).tolist()
    []
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError("irr_roots takes one series (1-D)")
    if not np.all(np.isfinite(v)) or np.count_nonzero(v) < 2:
        return np.empty(0)
    brackets = np.flatnonzero(_scan_brackets(v[np.newaxis, :])[0])
    scanned = _bisect(np.broadcast_to(v, (brackets.size, v.size)), _SCAN_RATES[brackets], _SCAN_RATES[brackets + 1])
    cand = np.concatenate([_polynomial_roots(v), scanned])
    cand = cand[_verified(np.broadcast_to(v, (cand.size, v.size)), cand)]
    return _distinct_sorted(cand)


def _grid_parts(v: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inflows and outflows of each row priced on the scan grid (their sum is ``v @ _scan_grid``)."""
    grid = _scan_grid(v.shape[1])
    return _rows_at(np.where(v > 0, v, 0.0), grid), _rows_at(np.where(v < 0, v, 0.0), grid)


def _no_root_certified(
    v: NDArray[np.float64], parts: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
) -> NDArray[np.bool_]:
    """True for rows whose NPV provably has no zero at any rate ``r > -1`` (interval bounds on the scan grid).

    Split each series into its inflows ``v+`` and outflows ``v-``. Between two neighbouring scan rates
    every discount factor is monotone in ``r``, so the NPV there lies between ``v+`` priced at the end
    that makes it smallest plus ``v-`` priced at the end that makes it largest in size, and the other
    way round; the two tails (towards ``r = -1`` and ``r -> inf``) are bounded by their limits. If on
    every interval both bounds have the same sign, with a margin of 1e-9 of the flows' size for the
    rounding of the grid, there is no root anywhere and the exact polynomial roots need not be computed.
    """
    if v.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    pos = np.where(v > 0, v, 0.0)
    neg = np.where(v < 0, v, 0.0)
    a, b = _grid_parts(v) if parts is None else parts  # a >= 0 >= b at every scan rate
    with np.errstate(all="ignore"):
        # limits: r -> -1 keeps only the last flow (grid scaled by (1+r)**(n-1)), r -> inf only the first
        a = np.concatenate([pos[:, -1:], a, pos[:, :1]], axis=1)
        b = np.concatenate([neg[:, -1:], b, neg[:, :1]], axis=1)
        rates = np.concatenate([[-1.0], _SCAN_RATES, [np.inf]])
        rising = rates[1:] <= 0.0  # scaled factors rise with r below 0 and fall above it
        a0, a1, b0, b1 = a[:, :-1], a[:, 1:], b[:, :-1], b[:, 1:]
        lower = np.where(rising, a0 + b1, a1 + b0)
        upper = np.where(rising, a1 + b0, a0 + b1)
        margin = 1e-9 * (a0 + a1 - b0 - b1)
        sure = (lower > margin) | (upper < -margin)
        npv_sign = np.sign(a + b)
    certified = sure.all(axis=1)
    # a sign change on the grid is a root: no certificate; elsewhere intervals too coarse for the
    # bounds (the NPV comes close to zero there) are split, up to 3 times
    crosses = (npv_sign[:, :-1] * npv_sign[:, 1:] <= 0).any(axis=1)
    undecided = crosses & ~certified
    row, j = np.nonzero(~sure[~certified & ~crosses])
    row = np.flatnonzero(~certified & ~crosses)[row]
    inner = (j > 0) & (j < rates.size - 2)  # the two tails are not split: those rows stay uncertain
    undecided[row[~inner]] = True
    row, lo, hi = row[inner], rates[j[inner]], rates[j[inner] + 1]
    for _ in range(3):
        keep = ~undecided[row]
        row, lo, hi = row[keep], lo[keep], hi[keep]
        if row.size == 0 or row.size > 4096:
            undecided[row] = True
            break
        pts = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 9)[None, :]
        sub_lo, sub_hi, sub_row, ok = _split_bounds(pos[row], neg[row], pts)
        bad = ~ok
        row, lo, hi = row[sub_row[bad]], sub_lo[bad], sub_hi[bad]
    undecided[row] = True
    return certified | ~undecided


def _split_bounds(
    pos: NDArray[np.float64], neg: NDArray[np.float64], pts: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp], NDArray[np.bool_]]:
    """Bounds of the NPV on the sub-intervals between the rates ``pts[i]`` (all on one side of 0) of row ``i``.

    Returns every sub-interval's ends, its row (index into ``pts``) and whether its sign is certain.
    """
    n = pos.shape[1]
    t = np.arange(n, dtype=np.float64)
    shift = np.where(pts[:, :1] < 0.0, n - 1.0, 0.0)  # the scan grid's scaling: (1 + r) ** (n - 1) below 0
    with np.errstate(all="ignore"):
        f = np.exp(-(t[None, None, :] - shift[:, :, None]) * np.log1p(pts)[:, :, None])
        a = np.einsum("kt,kpt->kp", pos, f)
        b = np.einsum("kt,kpt->kp", neg, f)
        a0, a1, b0, b1 = a[:, :-1], a[:, 1:], b[:, :-1], b[:, 1:]
        rising = pts[:, 1:] <= 0.0
        lower = np.where(rising, a0 + b1, a1 + b0)
        upper = np.where(rising, a1 + b0, a0 + b1)
        margin = 1e-9 * (a0 + a1 - b0 - b1)
        ok = (lower > margin) | (upper < -margin)
    k, p = np.indices(ok.shape)
    return pts[:, :-1].ravel(), pts[:, 1:].ravel(), k.ravel(), ok.ravel()


def _nearest_roots(v: NDArray[np.float64], guess: NDArray[np.float64]) -> NDArray[np.float64]:
    """For rows where Newton failed: the verified root nearest ``guess``, or nan when there is none.

    Sign changes on the scan grid are found for all rows at once (one matrix product) and the
    bracket nearest the guess is bisected; rows with no sign change anywhere (no root, or only a
    double root) that :func:`_no_root_certified` cannot clear pay for the exact polynomial roots.
    """
    out = np.full(v.shape[0], np.nan)
    inflows, outflows = _grid_parts(v)
    with np.errstate(all="ignore"):
        sign = np.sign(inflows + outflows)
    brackets = (sign[:, :-1] * sign[:, 1:] < 0) | (sign[:, :-1] == 0)
    lo_r, hi_r = _SCAN_RATES[:-1], _SCAN_RATES[1:]
    dist = np.maximum(np.maximum(lo_r[None, :] - guess[:, None], guess[:, None] - hi_r[None, :]), 0.0)
    dist = np.where(brackets, dist, np.inf)
    j = np.argmin(dist, axis=1)
    has = np.isfinite(dist[np.arange(v.shape[0]), j])
    if has.any():
        found = _bisect(v[has], lo_r[j[has]], hi_r[j[has]])
        out[np.flatnonzero(has)[_verified(v[has], found)]] = found[_verified(v[has], found)]
    rows = np.flatnonzero(~has)
    rows = rows[~_no_root_certified(v[rows], (inflows[rows], outflows[rows]))]
    if rows.size:
        row_of, cand = _polynomial_roots_batch(v[rows])
        ok = _verified(v[rows][row_of], cand)
        row_of, cand = row_of[ok], cand[ok]
        g = guess[rows][row_of]
        order = np.lexsort((np.abs(cand - g), row_of))  # per row, nearest to the guess first
        first = order[np.concatenate([[True], np.diff(row_of[order]) != 0])] if order.size else order
        out[rows[row_of[first]]] = cand[first]
    return out


def _companion_rates(c: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Rates ``r > -1`` from the positive real roots of ``c_0 + c_1 x + ... + c_d x**d`` for each row.

    Each row's companion matrix is built on whichever end of its coefficients is larger, so it never
    divides by a tiny coefficient (a last flow of 1e-313 would put ``inf`` in the matrix and make
    ``eigvals`` raise): in ``x = 1/(1+r)`` when ``|c_d| >= |c_0|``, else in ``y = 1 + r`` (the
    reversed polynomial). Rows whose matrix is still not finite give no candidates.
    """
    m, k = c.shape
    deg = k - 1
    flip = np.abs(c[:, -1]) < np.abs(c[:, 0])
    d = np.where(flip[:, None], c[:, ::-1], c)  # monic in x (not flipped) or in y (flipped)
    comp = np.zeros((m, deg, deg))
    with np.errstate(all="ignore"):
        comp[:, 0, :] = -(d[:, :-1] / d[:, -1:])[:, ::-1]
    if deg > 1:
        comp[:, np.arange(1, deg), np.arange(deg - 1)] = 1.0
    finite = np.flatnonzero(np.isfinite(comp).all(axis=(1, 2)))
    if finite.size == 0:
        return np.empty(0, dtype=np.intp), np.empty(0)
    try:
        with np.errstate(all="ignore"):
            roots = np.linalg.eigvals(comp[finite])
    except np.linalg.LinAlgError:  # pragma: no cover - finite input converges in LAPACK
        return np.empty(0, dtype=np.intp), np.empty(0)
    with np.errstate(all="ignore"):
        x = np.where(flip[finite][:, None], 1.0 / roots, roots)  # the "real enough" test is made on x
    keep = (np.abs(x.imag) <= 1e-5 * np.maximum(1.0, np.abs(x))) & (x.real > 0) & np.isfinite(x)
    r_idx, k_idx = np.nonzero(keep)
    z = roots.real[r_idx, k_idx]
    rows_of = finite[r_idx]
    with np.errstate(all="ignore"):
        rates = np.where(flip[rows_of], z - 1.0, 1.0 / z - 1.0)
    ok = np.isfinite(rates) & (rates > -1.0)
    return rows_of[ok], rates[ok]


def _polynomial_roots_batch(v: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """:func:`_polynomial_roots` for many series at once: (row index, polished candidate) pairs.

    Rows are grouped by the span of their non-zero flows; each group's companion matrices go to one
    batched ``numpy.linalg.eigvals`` call instead of one ``numpy.roots`` call per row.
    """
    rows_out: list[NDArray[np.intp]] = []
    cands_out: list[NDArray[np.float64]] = []
    nonzero = v != 0
    first = np.argmax(nonzero, axis=1)
    last = v.shape[1] - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    usable = nonzero.sum(axis=1) >= 2
    spans = {(int(a), int(b)) for a, b, u in zip(first, last, usable, strict=True) if u}
    for a, b in sorted(spans):
        idx = np.flatnonzero(usable & (first == a) & (last == b))
        c = v[idx, a : b + 1]
        c = c / np.max(np.abs(c), axis=1, keepdims=True)
        rows_of, rates = _companion_rates(c)
        rows_out.append(idx[rows_of])
        cands_out.append(rates)
    if not rows_out:
        return np.empty(0, dtype=np.intp), np.empty(0)
    row_of = np.concatenate(rows_out)
    cand = np.concatenate(cands_out)
    return row_of, _polish(v[row_of], cand, steps=6)


@_quiet
def irr(values: ArrayLike, guess: ArrayLike = 0.1, *, raise_on_failure: bool = False) -> Any:
    """Internal rate of return of periodic flows, as Excel's ``IRR`` finds it.

    Parameters
    ----------
    values : array_like
        Cash flows, 1-D or 2-D (one series per row); ``values[..., 0]`` at t = 0.
    guess : float or array_like, default 0.1
        Starting rate for Newton's method (Excel's default is 0.1); one per row allowed.
    raise_on_failure : bool, default False
        Raise :class:`vmo_lib.errors.AnalysisError` instead of returning ``nan`` for a series
        with no IRR.

    Returns
    -------
    float or ndarray
        The rate ``r > -1`` with ``NPV(r) = 0``; ``nan`` where there is none (flows of one sign,
        all zeros, a ``nan`` flow, or no real root).

    Notes
    -----
    Solves ``sum_t v_t / (1 + r) ** t = 0``, for all rows at once in numpy, in three stages:

    1. **Excel's iteration.** Newton's method on ``r`` from ``guess`` with Excel's documented
       limits: at most 20 steps, stop when a step changes the rate by at most 1e-7 (0.00001 %;
       relative to the rate above 100 %), no safeguard. Where it stops at a rate above -1 that is Excel's answer; Newton steps then polish
       it to ~1e-15 (the same root: it must stay within 1e-5 relative of Excel's stopping point).
       On a series with several roots this is the root Excel shows for the same guess.
    2. **Where Excel shows #NUM!** (no convergence in 20 steps, a non-finite step, or a rate at or
       below -1, which Excel and LibreOffice can show but is not a rate of return) a root can still
       exist. The documented behaviour is kept: Newton from ``guess`` again with a safeguard (a step
       leaving ``r > -1`` is halved towards -1; at most 40 steps, tolerance 1e-13).
    3. **Then a search that cannot miss a root:** the sign changes of the NPV on the grid of
       :func:`irr_roots` (the bracket nearest ``guess`` is solved), and for series without any sign
       change the exact polynomial roots (a double root counts), unless interval bounds on the grid
       prove there is no root; the root nearest ``guess`` is returned, ``nan`` if none.

    So a number is returned wherever a root exists, and it is Excel's wherever Excel gives one
    (above -100 %). Every answer is checked: ``|NPV(r)| <= 1e-9 * sum |v_t| / (1 + r) ** t``, or the
    NPV changes sign within 4 units in the last place of ``r`` (near ``r = -1`` a float rate cannot
    hold ``1 + r`` to better than ~1e-16 / (1 + r) relative, so the residual test alone would reject
    a true root); else ``nan``.

    Warnings
    --------
    Period 0 is t = 0 (not discounted), as in Excel's ``IRR``; the rate is per period (a quarterly
    series gives a quarterly IRR: annualise with ``(1 + r) ** 4 - 1``). A series with more than one
    sign change can have several IRRs: call :func:`irr_report` to see them all, and prefer
    :func:`mirr` for such cases.

    Examples
    --------
    Microsoft's IRR examples (-2.1 %, 8.7 %, and -44.4 % with a guess of -10 %):

    >>> flows = [-70_000, 12_000, 15_000, 18_000, 21_000, 26_000]
    >>> round(irr(flows[:5]), 4), round(irr(flows), 4), round(irr(flows[:3], guess=-0.1), 4)
    (-0.0212, 0.0866, -0.4435)

    2-D: one IRR per row; no root gives ``nan``:

    >>> irr([[-100, 110], [-100, 121], [100, 100]]).round(6).tolist()
    [0.1, 0.21, nan]
    """
    v, one = _as_flows(values)
    m, n = v.shape
    g = np.broadcast_to(np.asarray(guess, dtype=np.float64), (m,))
    result = np.full(m, np.nan)
    finite = np.isfinite(v).all(axis=1)
    candidate = finite & (v > 0).any(axis=1) & (v < 0).any(axis=1) & (n >= 2)
    rows = np.flatnonzero(candidate)
    if rows.size:
        result[rows] = _irr_rows(v[rows], g[rows])
    if raise_on_failure and np.isnan(result).any():
        bad = np.flatnonzero(np.isnan(result))
        raise _analysis_error(
            f"no IRR for {bad.size} series (first: row {bad[0]}); flows need both signs and a real root"
        )
    return _out(result, one)


def _irr_rows(v: NDArray[np.float64], guess: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`irr` of rows that have both signs and finite flows: Excel's root first, then the fall-backs."""
    out = np.full(v.shape[0], np.nan)
    done = np.zeros(v.shape[0], dtype=bool)
    excel, converged = _excel_newton_rates(v, guess)
    with np.errstate(invalid="ignore"):
        e = np.flatnonzero(converged & (excel > -1.0))
    if e.size:  # polish Excel's stopping point (within 1e-7 of its root) to full precision
        polished, ok = _newton_rates(v[e], excel[e])
        with np.errstate(invalid="ignore"):
            same = np.abs(polished - excel[e]) <= _SAME_ROOT * (1.0 + np.abs(excel[e]))
        ok &= same & _is_verified_root(v[e], polished)
        out[e[ok]], done[e[ok]] = polished[ok], True
    rest = np.flatnonzero(~done)
    if rest.size:  # Excel shows #NUM! (or a rate <= -100 %): safeguarded Newton from the guess
        rate, ok = _newton_rates(v[rest], guess[rest])
        ok &= _is_verified_root(v[rest], rate)
        out[rest[ok]] = rate[ok]
        failed = rest[~ok]
        if failed.size:  # then the root nearest the guess, if there is one
            out[failed] = _nearest_roots(v[failed], guess[failed])
    return out


@dataclass(frozen=True)
class IrrReport:
    """What the IRR of one series is, and whether it can be trusted as a single number.

    Attributes
    ----------
    irr : float
        The rate :func:`irr` returns (``nan`` if none).
    roots : tuple of float
        Every real IRR, ascending (:func:`irr_roots`, rounded to 12 decimals).
    sign_changes : int
        Sign changes in the flows (zeros ignored); an upper bound on the number of roots.
    ambiguous : bool
        True when more than one IRR exists: no single IRR describes the series.
    message : str
        One sentence for a report, pointing to MIRR when the IRR is missing or ambiguous.
    values : ndarray
        The series (read-only).

    Notes
    -----
    With at most one sign change, Descartes' rule allows at most one root, so ``ambiguous`` and
    ``message`` follow from ``irr`` alone and ``roots`` is searched for the first time it is read (an
    appraisal reads only the verdict: a review's appraisals then skip the root search).
    """

    irr: float
    sign_changes: int
    ambiguous: bool
    message: str
    values: NDArray[np.float64] = field(repr=False, compare=False)

    @functools.cached_property
    def roots(self) -> tuple[float, ...]:  # cached_property writes the instance dict: allowed when frozen
        return _rounded_roots(self.values)


@_quiet
def irr_report(values: ArrayLike, guess: float = 0.1) -> IrrReport:
    """IRR of one series with all its roots and a plain-words verdict.

    Parameters
    ----------
    values : array_like
        One series (1-D).
    guess : float, default 0.1
        Passed to :func:`irr`.

    Returns
    -------
    IrrReport

    Notes
    -----
    ``ambiguous`` is ``len(roots) > 1``. Descartes' rule bounds the number of roots by the number
    of sign changes, so a conventional series (one sign change) always has exactly one.

    Examples
    --------
    >>> rep = irr_report([-100, 230, -132])
    >>> rep.roots, rep.ambiguous, rep.sign_changes
    ((0.1, 0.2), True, 2)
    >>> rep.message
    'Ambiguous: 2 IRRs (10.00%, 20.00%); IRR shown is 10.00%, the root from guess 10.00%. Use MIRR.'
    >>> irr_report([-100, 60, 60]).message
    'IRR 13.07% (unique).'
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError("irr_report takes one series (1-D)")
    # a pure function of the flows' bits and the guess: a review asks it of the same series several times
    key = (v.tobytes(), float(guess))
    hit = _IRR_REPORTS.get(key)
    if hit is None:
        hit = _irr_report(v, guess)
        if len(_IRR_REPORTS) >= _IRR_REPORTS_MAX:
            _IRR_REPORTS.pop(next(iter(_IRR_REPORTS)))
        _IRR_REPORTS[key] = hit
    return hit


#: Recent :func:`irr_report` answers (first in, first out; frozen, so safe to share).
_IRR_REPORTS: dict[tuple[bytes, float], IrrReport] = {}
_IRR_REPORTS_MAX = 256


def _irr_report(v: NDArray[np.float64], guess: float) -> IrrReport:
    signs = np.sign(v[np.isfinite(v) & (v != 0)])
    changes = int(np.count_nonzero(np.diff(signs)))
    rate = float(irr(v, guess))
    # more than one root needs two sign changes (Descartes): below that, the root search can wait
    roots = _rounded_roots(v) if changes > 1 else ()
    if math.isnan(rate):
        message = "No IRR: the flows have no real root (need both signs). Use NPV or MIRR."
    elif len(roots) > 1:
        listed = ", ".join(f"{r:.2%}" for r in roots)
        message = (
            f"Ambiguous: {len(roots)} IRRs ({listed}); IRR shown is {rate:.2%}, the root from guess "
            f"{guess:.2%}. Use MIRR."
        )
    else:
        message = f"IRR {rate:.2%} (unique)."
    kept = v.copy()
    kept.flags.writeable = False
    return IrrReport(irr=rate, sign_changes=changes, ambiguous=len(roots) > 1, message=message, values=kept)


def _rounded_roots(v: NDArray[np.float64]) -> tuple[float, ...]:
    """:func:`irr_roots` rounded to 12 decimals (:attr:`IrrReport.roots`)."""
    return tuple(round(float(r), 12) for r in irr_roots(v))


def _xnpv_and_slope(v: NDArray[np.float64], t: NDArray[np.float64], r: float) -> tuple[float, float, float]:
    """XNPV at ``r``, its derivative in ``r`` and the scale ``sum |v_i| / (1 + r) ** t_i``."""
    with np.errstate(all="ignore"):
        df = np.power(1.0 + r, -t)
        return float(v @ df), float(-(t * v) @ df / (1.0 + r)), float(np.abs(v) @ df)


def _xnpv_sign(v: NDArray[np.float64], t: NDArray[np.float64], r: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sign of XNPV at each rate in ``r`` (> -1), computed without overflow (scaled by (1+r)**max(t) below 0)."""
    shift = np.where(r < 0.0, t.max(), 0.0)
    with np.errstate(all="ignore"):
        return np.sign(np.exp(-(t[None, :] - shift[:, None]) * np.log1p(r)[:, None]) @ v)


def _xirr_verified(v: NDArray[np.float64], t: NDArray[np.float64], r: float) -> bool:
    """The XIRR twin of :func:`_is_verified_root`: small residual, or a sign change within 4 ulp of ``r``."""
    if not (math.isfinite(r) and r > -1.0):
        return False
    value, _, scale = _xnpv_and_slope(v, t, r)
    if math.isfinite(value) and math.isfinite(scale) and scale > 0 and abs(value) <= RESIDUAL_TOLERANCE * scale:
        return True
    step = _BRACKET_ULPS * float(np.spacing(abs(r)))
    if not r - step > -1.0:
        return False
    a, b = _xnpv_sign(v, t, np.array([r - step, r + step]))
    return bool(a * b < 0)


def _xirr_polish(v: NDArray[np.float64], t: NDArray[np.float64], r: float, steps: int = 8) -> float:
    """Newton steps from ``r``, each kept only if it stays above -1 and lowers |XNPV|."""
    value, slope, _ = _xnpv_and_slope(v, t, r)
    for _ in range(steps):
        if value == 0.0 or slope == 0.0 or not math.isfinite(slope):
            break
        nxt = r - value / slope
        if not (math.isfinite(nxt) and nxt > -1.0) or nxt == r:
            break
        new_value, new_slope, _ = _xnpv_and_slope(v, t, nxt)
        if not abs(new_value) < abs(value):
            break
        r, value, slope = nxt, new_value, new_slope
    return r


def _xirr_excel(v: NDArray[np.float64], t: NDArray[np.float64], guess: float) -> float:
    """Excel's documented XIRR iteration: Newton on the rate from ``guess``, then polished and verified.

    Stops when a step changes the rate by at most :data:`EXCEL_XIRR_TOL` (0.000001 %; times the rate
    above 100 %), at most
    :data:`EXCEL_XIRR_MAX_ITER` steps, no safeguard. ``nan`` where Excel shows ``#NUM!`` (no
    convergence, or a rate that is not finite or not above -1).
    """
    r = float(guess)
    for _ in range(EXCEL_XIRR_MAX_ITER):
        value, slope, _ = _xnpv_and_slope(v, t, r)
        with np.errstate(all="ignore"):
            nxt = r - value / slope if slope != 0.0 else math.nan
        if not math.isfinite(nxt):
            return math.nan
        step, r = abs(nxt - r), nxt
        if step <= EXCEL_XIRR_TOL * max(1.0, abs(r)):
            break
    else:
        return math.nan
    if not r > -1.0:
        return math.nan
    polished = _xirr_polish(v, t, r)
    if abs(polished - r) <= _SAME_ROOT * (1.0 + abs(r)) and _xirr_verified(v, t, polished):
        return polished
    return math.nan


def _xnpv_parts(
    vpos: NDArray[np.float64], vneg: NDArray[np.float64], t: NDArray[np.float64], r: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inflows and outflows priced at each rate in ``r``, scaled by ``(1 + r) ** max(t)`` below 0 (no overflow).

    Both parts are monotone in ``r`` between two rates on the same side of 0: rising below, falling above.
    """
    shift = np.where(r < 0.0, t.max(), 0.0)
    with np.errstate(all="ignore"):
        w = np.exp(-(t[None, :] - shift[:, None]) * np.log1p(r)[:, None])
        return (w * vpos).sum(axis=1), (w * vneg).sum(axis=1)


def _xirr_candidates(
    v: NDArray[np.float64], t: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Intervals of the scan grid that may hold an XNPV root: (lo, hi, is_bracket) for each.

    Sign changes between neighbouring scan rates are brackets. Where the bounds of the monotone parts
    (as in :func:`_no_root_certified`) cannot rule a root out but the sign does not change, the
    interval is split into 8, up to 4 times: a sign change found is a bracket; an interval still
    undecided (a double root, or two roots closer than the splits) is kept as a non-bracket candidate.
    """
    vpos, vneg = np.where(v > 0, v, 0.0), np.where(v < 0, v, 0.0)
    pa, pb = _xnpv_parts(vpos, vneg, t, _SCAN_RATES)
    lo, hi = _SCAN_RATES[:-1], _SCAN_RATES[1:]
    a0, a1, b0, b1 = pa[:-1], pa[1:], pb[:-1], pb[1:]
    out_lo, out_hi, out_bracket = [], [], []
    for level in range(5):
        with np.errstate(all="ignore"):
            f0, f1 = np.sign(a0 + b0), np.sign(a1 + b1)
            rising = hi <= 0.0
            lower = np.where(rising, a0 + b1, a1 + b0)
            upper = np.where(rising, a1 + b0, a0 + b1)
            margin = 1e-9 * (a0 + a1 - b0 - b1)
            sure = (lower > margin) | (upper < -margin)
        cross = (f0 * f1 < 0) | (f0 == 0)
        out_lo.append(lo[cross])
        out_hi.append(hi[cross])
        out_bracket.append(np.ones(int(cross.sum()), dtype=bool))
        undecided = ~sure & ~cross
        if level == 4 or not undecided.any() or undecided.sum() > 512:
            out_lo.append(lo[undecided])
            out_hi.append(hi[undecided])
            out_bracket.append(np.zeros(int(undecided.sum()), dtype=bool))
            break
        lo_u, hi_u = lo[undecided], hi[undecided]
        pts = lo_u[:, None] + (hi_u - lo_u)[:, None] * np.linspace(0.0, 1.0, 9)[None, :]
        pa, pb = (x.reshape(pts.shape) for x in _xnpv_parts(vpos, vneg, t, pts.ravel()))
        lo, hi = pts[:, :-1].ravel(), pts[:, 1:].ravel()
        a0, a1, b0, b1 = pa[:, :-1].ravel(), pa[:, 1:].ravel(), pb[:, :-1].ravel(), pb[:, 1:].ravel()
    return np.concatenate(out_lo), np.concatenate(out_hi), np.concatenate(out_bracket)


def _xirr_nearest(v: NDArray[np.float64], t: NDArray[np.float64], guess: float) -> float:
    """Where Excel's iteration fails: the verified root in the candidate interval nearest ``guess``.

    Candidates come from :func:`_xirr_candidates`; a bracket is solved by bisection, an undecided
    interval by Newton's method from its middle. Intervals are tried nearest the guess first.
    """
    lo_r, hi_r, is_bracket = _xirr_candidates(v, t)
    if lo_r.size == 0:
        return math.nan
    dist = np.maximum(np.maximum(lo_r - guess, guess - hi_r), 0.0)
    for k in np.argsort(dist, kind="stable")[:64]:
        lo, hi = float(lo_r[k]), float(hi_r[k])
        if is_bracket[k]:
            r = _xirr_bisect(v, t, lo, hi)
        else:
            r = _xirr_polish(v, t, 0.5 * (lo + hi), steps=40)
            if not lo - (hi - lo) <= r <= hi + (hi - lo):  # Newton left for another root: not this one
                continue
        if _xirr_verified(v, t, r):
            return r
    return math.nan


def _xirr_bisect(v: NDArray[np.float64], t: NDArray[np.float64], lo: float, hi: float) -> float:
    """The root of XNPV in [lo, hi] (its sign differs at the ends, or is 0 at ``lo``), polished."""
    s_lo = _xnpv_sign(v, t, np.array([lo]))[0]
    if s_lo == 0:
        return lo
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        s_mid = _xnpv_sign(v, t, np.array([mid]))[0]
        if s_mid == 0:
            return mid
        if s_mid == s_lo:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 2 * float(np.spacing(abs(mid))):
            break
    return _xirr_polish(v, t, 0.5 * (lo + hi))


@_quiet
def xirr(
    values: ArrayLike, dates: ArrayLike, guess: float = 0.1, *, raise_on_failure: bool = False
) -> float:
    """Excel's ``XIRR``: the annual rate at which :func:`xnpv` is zero (actual/365 from the first date).

    Parameters
    ----------
    values : array_like
        One series (1-D).
    dates : array_like
        One date per value (see :func:`xnpv`); none may precede the first.
    guess : float, default 0.1
        Starting rate, as in Excel.
    raise_on_failure : bool, default False
        Raise :class:`vmo_lib.errors.AnalysisError` instead of returning ``nan``.

    Returns
    -------
    float
        ``nan`` when no root is found (fewer than two flows, flows of one sign, a ``nan`` flow, or
        no rate ``r > -1`` with a zero XNPV).

    Notes
    -----
    Solves ``sum_i v_i / (1 + r) ** ((d_i - d_1) / 365) = 0`` in two stages:

    1. Excel's documented iteration: Newton's method on ``r`` from ``guess``, stopping when a step
       changes the rate by at most 0.000001 % (1e-8; relative to the rate above 100 %), at most
       100 steps, no safeguard. Where it
       converges to a rate above -1 that rate is Excel's answer; it is then polished by Newton steps
       to full precision (the same root: Excel stops within ~1e-8 of it).
    2. Where that iteration fails (Excel shows ``#NUM!``): the sign changes of the XNPV on the scan
       grid of :func:`irr_roots` (rates from -0.999999 to 10,000), and the root in the bracket nearest
       ``guess``, found by bisection, as :func:`irr` does. A double root (no sign change) is not found
       there, so the answer is ``nan``. LibreOffice, which restarts Newton from -0.99, -0.98, ...,
       finds a root in most of these cases too; Excel does not.

    Every answer is checked: ``|XNPV(r)| <= 1e-9 * sum |v_i| / (1 + r) ** t_i``, or the XNPV changes
    sign within 4 units in the last place of ``r`` (a root as exact as a float can hold).

    Warnings
    --------
    The result is an *annual* effective rate whatever the spacing of the dates. With several roots
    the answer depends on ``guess`` (as in Excel): compare ``xnpv`` across a range of rates, or use
    :func:`mirr`. Excel's XIRR is documented as this iteration, but Microsoft's notes on the file
    format ([MS-OI29500] 2.1.1070) say Office "does not require an iterative technique": on some
    many-root series Excel is reported to return a root this iteration does not reach.

    Examples
    --------
    Microsoft's XIRR example (Excel shows 0.373362535):

    >>> flows = [-10_000, 2_750, 4_250, 3_250, 2_750]
    >>> dates = ["2008-01-01", "2008-03-01", "2008-10-30", "2009-02-15", "2009-04-01"]
    >>> round(xirr(flows, dates), 8)
    0.37336253
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError("xirr takes one series (1-D)")
    _, t = _dated_times(dates, v.shape[0])
    rate = math.nan
    if v.size >= 2 and np.all(np.isfinite(v)) and (v > 0).any() and (v < 0).any() and np.isfinite(guess):
        with np.errstate(all="ignore"):
            rate = _xirr_excel(v, t, float(guess))
            if math.isnan(rate):
                rate = _xirr_nearest(v, t, float(guess))
    if math.isnan(rate) and raise_on_failure:
        raise _analysis_error("XIRR has no root for these flows and dates")
    return rate


# --------------------------------------------------------------------------------------------------
# MIRR and payback
# --------------------------------------------------------------------------------------------------
@_quiet
def mirr(values: ArrayLike, finance_rate: float, reinvest_rate: float) -> Any:
    """Excel's ``MIRR``: outflows financed at one rate, inflows reinvested at another.

    Parameters
    ----------
    values : array_like
        Cash flows, 1-D or 2-D (one series per row), period 0 first.
    finance_rate : float
        Rate paid on the money used (applied to negative flows).
    reinvest_rate : float
        Rate earned on reinvested inflows (applied to positive flows).

    Returns
    -------
    float or ndarray
        ``nan`` where the series lacks a positive or a negative flow (Excel: ``#DIV/0!``).

    Notes
    -----
    With ``n`` values (periods 0..n-1), ``FV+ = sum_{v_t>0} v_t (1 + reinvest) ** (n-1-t)`` and
    ``PV- = sum_{v_t<0} v_t / (1 + finance) ** t``:
    ``MIRR = (FV+ / -PV-) ** (1 / (n - 1)) - 1``. Unlike IRR it always has exactly one value.

    Warnings
    --------
    Period 0 is t = 0 and the result is per period, as in Excel.

    Examples
    --------
    Microsoft's MIRR example (12.61 %):

    >>> round(mirr([-120_000, 39_000, 30_000, 21_000, 37_000, 46_000], 0.10, 0.12), 6)
    0.126094
    """
    v, one = _as_flows(values)
    n = v.shape[1]
    t = np.arange(n, dtype=np.float64)
    with np.errstate(all="ignore"):
        pv_neg = np.where(v < 0, v, 0.0) @ np.power(1.0 + finance_rate, -t)
        fv_pos = np.where(v > 0, v, 0.0) @ np.power(1.0 + reinvest_rate, n - 1 - t)
        out = np.power(fv_pos / -pv_neg, 1.0 / (n - 1)) - 1.0 if n > 1 else np.full(v.shape[0], np.nan)
    out = np.where((pv_neg < 0) & (fv_pos > 0) & np.isfinite(v).all(axis=1), out, np.nan)
    return _out(out, one)


@_quiet
def payback(values: ArrayLike) -> Any:
    """Payback period: when the cumulative net flow first turns non-negative, in fractional periods.

    Parameters
    ----------
    values : array_like
        Net flows per period, 1-D or 2-D (one series per row), period 0 first.

    Returns
    -------
    float or ndarray
        ``0.0`` when the cumulative flow is never negative; ``nan`` when it goes negative and
        never recovers ("never pays back" is an answer, not zero) or a flow is ``nan``.

    Notes
    -----
    With ``C_t = v_0 + ... + v_t``: find the first ``t`` with ``C_t < 0``, then the first ``k``
    after it with ``C_k >= 0``. The payback is ``(k - 1) + (-C_{k-1}) / v_k``: the flow of period
    ``k`` is assumed to arrive evenly between times ``k - 1`` and ``k``. It is the *first* such
    crossing; a later dip back below zero does not move it.

    Warnings
    --------
    Flows are period-end amounts with ``v_0`` at t = 0; the answer counts periods from t = 0 (a
    quarterly series gives quarters).

    Examples
    --------
    >>> payback([-100, 30, 40, 50])
    2.6
    >>> payback([[-100, 50, 50], [-100, 20, 20]]).tolist()
    [2.0, nan]
    """
    v, one = _as_flows(values)
    return _out(_first_recovery(np.cumsum(v, axis=1), np.isfinite(v).all(axis=1)), one)


def _first_recovery(cum: NDArray[np.float64], finite: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Interpolated first time each row of cumulative flows turns from negative to non-negative."""
    m, n = cum.shape
    if n < 2:  # one period: under water at t = 0 can never recover; otherwise paid back at once
        out = np.where(cum[:, 0] < 0, np.nan, 0.0) if n == 1 else np.full(m, np.nan)
        return np.where(finite, out, np.nan)
    negative = cum < 0
    went_negative = negative.any(axis=1)
    first_negative = np.argmax(negative, axis=1)
    recovered = (cum >= 0) & (np.arange(n) > first_negative[:, None])
    has_recovery = recovered.any(axis=1)
    k = np.maximum(np.argmax(recovered, axis=1), 1)
    rows = np.arange(m)
    before, after = cum[rows, k - 1], cum[rows, k]
    with np.errstate(all="ignore"):
        crossing = (k - 1) + (-before) / (after - before)
    out = np.where(went_negative, np.where(has_recovery, crossing, np.nan), 0.0)
    return np.where(finite, out, np.nan)


@_quiet
def discounted_payback(rate: float | None, values: ArrayLike, *, factors: ArrayLike | None = None) -> Any:
    """Discounted payback: :func:`payback` on flows discounted to period 0.

    Parameters
    ----------
    rate : float or None
        Discount rate per period (``None`` when giving ``factors``).
    values : array_like
        Net flows, 1-D or 2-D (one series per row), period 0 first.
    factors : array_like, optional
        Discount factors instead of a rate, as in :func:`npv`.

    Returns
    -------
    float or ndarray
        Fractional periods; ``nan`` when the cumulative discounted flow never turns non-negative.

    Notes
    -----
    ``D_t = v_t * DF_t``; the payback of ``D`` interpolates linearly on the discounted flows. The
    cumulative discounted flow at the end equals the NPV, so a series with NPV < 0 never pays back.

    Warnings
    --------
    Period 0 is not discounted; see :func:`npv` for the Excel reconciliation.

    Examples
    --------
    At 10 % the flows -100, 60, 60 discount to -100, 54.545..., 49.587...: cumulative -45.45 after
    period 1, so the payback is 1 + 45.4545 / 49.5868 = 1.9167 periods.

    >>> round(discounted_payback(0.10, [-100, 60, 60]), 4)
    1.9167
    """
    v, one = _as_flows(values)
    d = v * _period_factors(rate, factors, v.shape[1])
    return _out(_first_recovery(np.cumsum(d, axis=1), np.isfinite(d).all(axis=1)), one)
