"""Reference-class distributions of cost overrun (how wrong estimates turn out to be).

A reference-class distribution describes the *overrun* ``X = actual / estimate - 1`` of past
projects like the one appraised (``0.27`` = 27 % over budget, ``-0.1`` = 10 % under). The Monte
Carlo (:func:`vmo_lib.analysis.risk.monte_carlo`) multiplies a case's costs by ``1 + X``.

Interface
---------
Any object with these two methods can be passed as ``cost_overrun=`` to the Monte Carlo; the
portfolio module will later build one from the organisation's own history of baseline vs actual:

``ppf(q)``            quantile function, vectorised over ``q`` in [0, 1];
``sample(rng, size)`` ``size`` draws from a :class:`numpy.random.Generator`. To keep Monte Carlo
                      results independent of the chunk size, draw by consuming the generator
                      sequentially, e.g. ``ppf(rng.random(size))`` (the default here).

The published default
---------------------
:func:`flyvbjerg_it_overrun` fits :class:`SplicedParetoOverrun` to Flyvbjerg & Budzier, "Why your IT
project may be riskier than you think", *Harvard Business Review*, Sept. 2011 (1,471 IT projects):
mean cost overrun 27 %, and one project in six a "black swan" with a cost overrun of about 200 % on
average. Flyvbjerg et al. (J. MIS 2022, 5,392 IT projects) found the tail follows a power law; a
Pareto tail reproduces that. See the function for the parameters and how they were derived.

Examples
--------
>>> d = flyvbjerg_it_overrun()
>>> round(d.mean(), 4), round(d.tail_mean(), 4), round(1 - d.cdf(d.threshold), 4)
(0.27, 2.0, 0.1667)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["EmpiricalOverrun", "OverrunDistribution", "SplicedParetoOverrun", "flyvbjerg_it_overrun", "percentile"]


class OverrunDistribution(Protocol):
    """What :func:`vmo_lib.analysis.risk.monte_carlo` needs from a reference-class distribution."""

    def ppf(self, q: Any) -> Any:  # pragma: no cover - protocol
        ...

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover - protocol
        ...


@dataclass(frozen=True)
class SplicedParetoOverrun:
    """Cost overrun with a triangular body and a Pareto (power-law) tail.

    Parameters
    ----------
    body_low, body_mode : float
        Lowest and most likely overrun of the body (fractions; ``-0.3`` = 30 % under budget).
    threshold : float
        Overrun where the body ends and the tail begins (also the body's upper limit).
    tail_probability : float
        Share of projects in the tail, ``P(X > threshold)``.
    tail_index : float
        Pareto index ``alpha > 1`` of the tail: ``P(X > x | X > threshold) = (threshold / x) ** alpha``.
        ``alpha <= 2`` has infinite variance (the "fat tail" of IT projects).
    cap : float, optional
        Largest overrun drawn (``ppf`` is clipped); ``None`` = no cap.

    Notes
    -----
    ``ppf(q)`` is the triangular quantile of ``q / (1 - p)`` on ``[body_low, threshold]`` with mode
    ``body_mode`` when ``q < 1 - p``, else ``threshold * ((1 - q) / p) ** (-1 / alpha)``.
    The mean is ``(1 - p) (body_low + body_mode + threshold) / 3 + p * alpha * threshold / (alpha - 1)``.

    Examples
    --------
    >>> d = SplicedParetoOverrun(body_low=-0.2, body_mode=0.0, threshold=0.5, tail_probability=0.1,
    ...                          tail_index=2.0)
    >>> d.ppf([0.0, 0.9, 0.99]).round(6).tolist()
    [-0.2, 0.5, 1.581139]
    """

    body_low: float
    body_mode: float
    threshold: float
    tail_probability: float
    tail_index: float
    cap: float | None = None

    def __post_init__(self) -> None:
        if not self.body_low <= self.body_mode <= self.threshold or not self.body_low < self.threshold:
            raise ValueError("need body_low <= body_mode <= threshold and body_low < threshold")
        if self.body_low <= -1:
            raise ValueError("body_low must be > -1 (an overrun of -100% means no cost at all)")
        if not 0.0 < self.tail_probability < 1.0:
            raise ValueError("tail_probability must be in (0, 1)")
        if not self.tail_index > 1.0 or self.threshold <= 0:
            raise ValueError("tail_index must be > 1 (finite mean) and threshold > 0")

    def ppf(self, q: Any) -> Any:
        """Overrun at cumulative probability ``q`` (vectorised)."""
        q = np.asarray(q, dtype=np.float64)
        p = self.tail_probability
        a, c, b = self.body_low, self.body_mode, self.threshold
        with np.errstate(all="ignore"):
            s = np.clip(q / (1.0 - p), 0.0, 1.0)
            fc = (c - a) / (b - a)
            body = np.where(s < fc, a + np.sqrt(s * (b - a) * (c - a)), b - np.sqrt((1.0 - s) * (b - a) * (b - c)))
            tail = self.threshold * np.power(np.clip((1.0 - q) / p, 0.0, 1.0), -1.0 / self.tail_index)
        out = np.where(q < 1.0 - p, body, tail)
        if self.cap is not None:
            out = np.minimum(out, self.cap)
        return float(out) if out.ndim == 0 else out

    def cdf(self, x: Any) -> Any:
        """``P(X <= x)`` (vectorised; ignores ``cap``)."""
        x = np.asarray(x, dtype=np.float64)
        p = self.tail_probability
        a, c, b = self.body_low, self.body_mode, self.threshold
        with np.errstate(all="ignore"):
            left = np.where(c > a, (x - a) ** 2 / ((b - a) * (c - a)), 0.0)
            right = 1.0 - np.where(b > c, (b - x) ** 2 / ((b - a) * (b - c)), 0.0)
            body = np.where(x <= a, 0.0, np.where(x < c, left, np.where(x < b, right, 1.0)))
            tail = 1.0 - p * np.power(self.threshold / x, self.tail_index)
        out = np.where(x <= b, (1.0 - p) * body, tail)
        return float(out) if out.ndim == 0 else out

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` overruns drawn by inversion (consumes ``rng`` sequentially)."""
        return np.asarray(self.ppf(rng.random(size)), dtype=np.float64)

    def tail_mean(self) -> float:
        """Mean overrun of the tail, ``E[X | X > threshold] = alpha * threshold / (alpha - 1)`` (no cap)."""
        return self.tail_index * self.threshold / (self.tail_index - 1.0)

    def mean(self) -> float:
        """Mean overrun (without the cap)."""
        p = self.tail_probability
        body = (self.body_low + self.body_mode + self.threshold) / 3.0
        return (1.0 - p) * body + p * self.tail_mean()


def flyvbjerg_it_overrun(
    mean: float = 0.27,
    tail_probability: float = 1.0 / 6.0,
    tail_mean: float = 2.0,
    threshold: float = 0.5,
    body_mode: float = 0.0,
    cap: float | None = None,
) -> SplicedParetoOverrun:
    """Reference-class cost overrun of IT projects (Flyvbjerg & Budzier, HBR 2011), fat-tailed.

    Parameters
    ----------
    mean : float, default 0.27
        Mean overrun of the class (27 %).
    tail_probability : float, default 1/6
        Share of "black swans" (one project in six).
    tail_mean : float, default 2.0
        Their mean overrun (about 200 %).
    threshold : float, default 0.5
        Overrun where the tail starts (50 %: a black swan overruns by at least half its budget).
    body_mode : float, default 0.0
        Most likely overrun of the other five in six (on budget).
    cap : float, optional
        Largest overrun drawn; ``None`` = none.

    Returns
    -------
    SplicedParetoOverrun
        Pareto index ``alpha = tail_mean / (tail_mean - threshold)`` (4/3 with the defaults: an
        infinite-variance power law), and ``body_low`` chosen so the overall mean is ``mean``:
        ``body_low = 3 * (mean - p * tail_mean) / (1 - p) - body_mode - threshold`` (-0.728 with the
        defaults, so the median project is about on budget).

    Notes
    -----
    Three published figures pin three parameters; the shape of the body (triangular, mode 0) is an
    assumption. The tail index 4/3 is in the range Flyvbjerg et al. (2022) report for IT
    (alpha <= 2). Use percentiles (P50/P80/P90) of results, not means: with alpha < 2 sample means
    converge slowly.

    Examples
    --------
    >>> d = flyvbjerg_it_overrun()
    >>> round(d.tail_index, 4), round(d.body_low, 4), round(d.mean(), 4)
    (1.3333, -0.728, 0.27)
    """
    if not tail_mean > threshold > 0:
        raise ValueError("need tail_mean > threshold > 0")
    alpha = tail_mean / (tail_mean - threshold)
    p = tail_probability
    body_low = 3.0 * (mean - p * tail_mean) / (1.0 - p) - body_mode - threshold
    if math.isclose(body_low, body_mode):
        body_low = body_mode - 1e-9
    return SplicedParetoOverrun(body_low=body_low, body_mode=body_mode, threshold=threshold,
                                tail_probability=p, tail_index=alpha, cap=cap)


# ==================================================================================================
# The organisation's own reference class, and the public UK GMPP data
# ==================================================================================================
# Conventions (the portfolio review pack repeats them)


def percentile(values: Any, q: Any) -> Any:
    """Quantile by linear interpolation between order statistics (type 7, Excel ``PERCENTILE.INC``).

    NaN values are dropped; an empty sample gives NaN.

    Examples
    --------
    >>> percentile([1.0, 1.1, 1.2, 1.5, 2.0], [0.5, 0.8]).round(6).tolist()
    [1.2, 1.6]
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.full(np.shape(q), np.nan) if np.ndim(q) else math.nan
    out = np.quantile(v, q, method="linear")
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class EmpiricalOverrun:
    """Cost overrun drawn from the organisation's own history (an :class:`OverrunDistribution`).

    ``ppf(q)`` is :func:`percentile` of the overruns ``ratio - 1`` (linear between observed values,
    so nothing beyond the worst case seen is drawn: with a small history prefer a fat-tailed
    published distribution such as :func:`flyvbjerg_it_overrun`).

    Examples
    --------
    >>> d = EmpiricalOverrun.from_ratios([1.0, 1.1, 1.2, 1.5, 2.0])
    >>> round(d.ppf(0.5), 6), round(d.ppf(0.8), 6), d.n
    (0.2, 0.6, 5)
    """

    overruns: tuple[float, ...]

    @classmethod
    def from_ratios(cls, ratios: Any) -> EmpiricalOverrun:
        r = np.asarray(ratios, dtype=np.float64)
        r = r[~np.isnan(r)]
        if r.size == 0:
            raise ValueError("need at least one actual/baseline ratio")
        return cls(tuple(float(x) for x in np.sort(r) - 1.0))

    @property
    def n(self) -> int:
        return len(self.overruns)

    def ppf(self, q: Any) -> Any:
        return percentile(self.overruns, q)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.asarray(self.ppf(rng.random(size)), dtype=np.float64)
