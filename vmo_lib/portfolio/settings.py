"""Portfolio settings: ``portfolio.toml`` beside the case workbooks (budget, basis, target, candidates).

The file is optional; every key in it is optional. Example::

    # portfolio.toml
    [budget]
    annual = 5_000_000            # the same budget every calendar year, or:
    # [budget.years]
    # 2026 = 4_000_000
    # 2027 = 5_500_000

    [basis]                       # one basis for the portfolio's money (vmo_lib.portfolio.basis)
    base_period = "2026Q1"
    discount_rate = 0.035
    price_base = "real"           # or "nominal"
    price_year = 2026
    inflation = 0.02              # to deflate nominal cases; leave out to keep them apart

    [selection]
    benefit_target = 12_000_000   # the value the funded portfolio should reach
    value = "forward_npv"         # or "ob_npv"
    candidates = "proposed"       # or "active" (portfolio_selection; committed_selection fixes its pools)
    must_do = ["REG-2026"]        # default: the Regulatory/mandatory candidates
    exclusive = [["CRM-A", "CRM-B"]]
    depends_on = { "DATA-2" = ["DATA-1"] }

    [target]                      # the portfolio Monte Carlo (vmo_lib.portfolio.risk)
    benefits = 40_000_000         # total expected benefits (PV on the basis) the portfolio should deliver
    benefit_correlation = 0.3     # correlation of the shared benefit-realisation driver across cases
    cost_correlation = 0.3        # correlation of the shared cost-overrun driver across cases

:func:`load_portfolio_settings` reads and checks it; every problem is reported at once, naming the
file and the key. ``overrides`` (e.g. the CLI's ``--budget``) win over the file.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmo_lib.errors import AnalysisError, UsageError
from vmo_lib.portfolio.basis import PRICE_BASES, PortfolioBasis
from vmo_lib.portfolio.selection import CANDIDATE_STATUSES

__all__ = ["SETTINGS_FILE", "PortfolioSettings", "load_portfolio_settings"]

#: The settings file's name, in the folder of the cases.
SETTINGS_FILE = "portfolio.toml"
_VALUES = ("forward_npv", "ob_npv")
_KEYS = {
    "budget": {"annual", "years"},
    "basis": {"base_period", "discount_rate", "price_base", "price_year", "inflation"},
    "selection": {"benefit_target", "candidates", "value", "must_do", "exclusive", "depends_on"},
    "target": {"benefits", "benefit_correlation", "cost_correlation"},
}


@dataclass(frozen=True)
class PortfolioSettings:
    """What the portfolio is selected and totalled against.

    Attributes
    ----------
    path : pathlib.Path or None
        The settings file read (None: none found, defaults only).
    budget : float, dict or None
        A flat annual budget, ``{year: amount}``, or None (no budget: unconstrained).
    basis : PortfolioBasis or None
        One basis for the portfolio's money (None: cases stay on their own bases).
    benefit_target : float or None
    candidates : {"proposed", "active"}
        Which statuses compete in :func:`vmo_lib.portfolio.selection.portfolio_selection`.
    value : {"forward_npv", "ob_npv"}
    must_do : tuple of str or None
        None = the Regulatory/mandatory candidates.
    exclusive : tuple of tuples
    depends_on : dict
        ``{case: (cases it needs, ...)}``.
    target_benefits : float or None
        ``[target] benefits``: the total expected benefits the portfolio Monte Carlo gives the chance of
        meeting (:func:`vmo_lib.portfolio.risk.portfolio_risk`).
    benefit_correlation, cost_correlation : float or None
        ``[target]``'s correlations of the shared drivers across cases (None: the module's defaults).
    """

    path: Path | None = None
    budget: float | dict[int, float] | None = None
    basis: PortfolioBasis | None = None
    benefit_target: float | None = None
    candidates: str = "proposed"
    value: str = "forward_npv"
    must_do: tuple[str, ...] | None = None
    exclusive: tuple[tuple[str, ...], ...] = ()
    depends_on: dict[str, tuple[str, ...]] = field(default_factory=dict)
    target_benefits: float | None = None
    benefit_correlation: float | None = None
    cost_correlation: float | None = None


def _number(v: Any, minimum: float | None = None) -> bool:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    return ok and (minimum is None or float(v) >= minimum)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)


def _check(data: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """Validated settings values from a parsed TOML table (problems appended, naming ``where`` and the key)."""
    out: dict[str, Any] = {}
    for top, sub in data.items():
        if top not in _KEYS:
            problems.append(f"{where}: unknown table [{top}] (expected {', '.join(f'[{k}]' for k in _KEYS)})")
            continue
        if not isinstance(sub, Mapping):
            problems.append(f"{where}: [{top}] must be a table of keys, not {type(sub).__name__}")
            continue
        for k in sub:
            if k not in _KEYS[top]:
                problems.append(f"{where}: [{top}] {k}: unknown key (expected one of {', '.join(sorted(_KEYS[top]))})")
    budget = data.get("budget") if isinstance(data.get("budget"), Mapping) else {}
    if "annual" in budget and "years" in budget:
        problems.append(f"{where}: [budget]: give either annual or years, not both")
    if "annual" in budget:
        if _number(budget["annual"], 0):
            out["budget"] = float(budget["annual"])
        else:
            problems.append(f"{where}: [budget] annual: expected an amount >= 0, got {budget['annual']!r}")
    if "years" in budget:
        years = budget["years"]
        if not isinstance(years, Mapping) or not years:
            problems.append(f"{where}: [budget.years]: expected year = amount lines, e.g. 2026 = 4000000")
        else:
            per: dict[int, float] = {}
            for y, amt in years.items():
                if not (str(y).isdigit() and 1900 <= int(y) <= 2200):
                    problems.append(f"{where}: [budget.years] {y}: expected a calendar year such as 2026")
                elif not _number(amt, 0):
                    problems.append(f"{where}: [budget.years] {y}: expected an amount >= 0, got {amt!r}")
                else:
                    per[int(y)] = float(amt)
            out["budget"] = per
    basis = data.get("basis") if isinstance(data.get("basis"), Mapping) else None
    if basis is not None:
        b_problems = []
        for key in ("base_period", "discount_rate"):
            if key not in basis:
                b_problems.append(f"{where}: [basis] {key}: required when [basis] is given")
        if "discount_rate" in basis and not _number(basis["discount_rate"]):
            b_problems.append(f"{where}: [basis] discount_rate: expected an annual rate such as 0.035, "
                              f"got {basis['discount_rate']!r}")
        if "price_base" in basis and basis["price_base"] not in PRICE_BASES:
            b_problems.append(f"{where}: [basis] price_base: expected one of {', '.join(PRICE_BASES)}, "
                              f"got {basis['price_base']!r}")
        if "inflation" in basis and not _number(basis["inflation"]):
            b_problems.append(f"{where}: [basis] inflation: expected an annual rate such as 0.02, got {basis['inflation']!r}")
        if "price_year" in basis and not (isinstance(basis["price_year"], int) and not isinstance(basis["price_year"], bool)):
            b_problems.append(f"{where}: [basis] price_year: expected a year such as 2026, got {basis['price_year']!r}")
        if not b_problems:
            try:
                out["basis"] = PortfolioBasis(str(basis["base_period"]), float(basis["discount_rate"]),
                                              str(basis.get("price_base", "real")), basis.get("price_year"),
                                              None if "inflation" not in basis else float(basis["inflation"]))
            except AnalysisError as e:
                b_problems.append(f"{where}: [basis] {str(e).removeprefix('portfolio basis: ')}")
        problems.extend(b_problems)
    tgt = data.get("target") if isinstance(data.get("target"), Mapping) else {}
    if "benefits" in tgt:
        if _number(tgt["benefits"]):
            out["target_benefits"] = float(tgt["benefits"])
        else:
            problems.append(f"{where}: [target] benefits: expected an amount, got {tgt['benefits']!r}")
    for key in ("benefit_correlation", "cost_correlation"):
        if key in tgt:
            if _number(tgt[key], 0) and float(tgt[key]) <= 1:
                out[key] = float(tgt[key])
            else:
                problems.append(f"{where}: [target] {key}: expected a correlation between 0 and 1, got {tgt[key]!r}")
    sel = data.get("selection") if isinstance(data.get("selection"), Mapping) else {}
    if "benefit_target" in sel:
        if _number(sel["benefit_target"]):
            out["benefit_target"] = float(sel["benefit_target"])
        else:
            problems.append(f"{where}: [selection] benefit_target: expected an amount, got {sel['benefit_target']!r}")
    if "value" in sel:
        if sel["value"] in _VALUES:
            out["value"] = sel["value"]
        else:
            problems.append(f"{where}: [selection] value: expected one of {', '.join(_VALUES)}, got {sel['value']!r}")
    if "candidates" in sel:
        if sel["candidates"] in CANDIDATE_STATUSES:
            out["candidates"] = sel["candidates"]
        else:
            problems.append(f"{where}: [selection] candidates: expected one of {', '.join(CANDIDATE_STATUSES)}, "
                            f"got {sel['candidates']!r}")
    if "must_do" in sel:
        if _strings(sel["must_do"]):
            out["must_do"] = tuple(x.strip() for x in sel["must_do"])
        else:
            problems.append(f"{where}: [selection] must_do: expected a list of case ids, got {sel['must_do']!r}")
    if "exclusive" in sel:
        ex = sel["exclusive"]
        if isinstance(ex, list) and all(_strings(g) and len(g) >= 2 for g in ex):
            out["exclusive"] = tuple(tuple(x.strip() for x in g) for g in ex)
        else:
            problems.append(f"{where}: [selection] exclusive: expected a list of groups of two or more case ids, "
                            f"e.g. [[\"A\", \"B\"]], got {ex!r}")
    if "depends_on" in sel:
        dep = sel["depends_on"]
        ok = isinstance(dep, Mapping) and all(isinstance(v, str) or _strings(v) for v in dep.values())
        if ok:
            out["depends_on"] = {str(k): (v,) if isinstance(v, str) else tuple(v) for k, v in dep.items()}
        else:
            problems.append(f"{where}: [selection] depends_on: expected case = [cases it needs], got {dep!r}")
    return out


def load_portfolio_settings(folder: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None,
                            filename: str = SETTINGS_FILE) -> PortfolioSettings:
    """Read and check ``portfolio.toml`` in ``folder`` (defaults when absent), then apply ``overrides``.

    Parameters
    ----------
    folder : path
        The folder of the case workbooks (or the settings file itself).
    overrides : mapping, optional
        Values that win over the file, in the file's shape: ``{"budget": {"annual": 150}}``, or the
        flat shorthand ``{"budget": 150}`` / ``{"budget": {2026: 100}}``, ``{"benefit_target": ...}``,
        ``{"basis": {...}}``, ``{"target": amount}`` (``[target] benefits``); None values are ignored (an
        option not given on the command line).

    Returns
    -------
    PortfolioSettings

    Raises
    ------
    UsageError
        The file is not valid TOML or a key is unknown or malformed: every problem at once, each
        naming the file and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "portfolio.toml").write_text("[budget]\\nannual = 5e6\\n[selection]\\nbenefit_target = 2e6\\n")
    >>> s = load_portfolio_settings(d)
    >>> s.budget, s.benefit_target, load_portfolio_settings(d, {"budget": 150}).budget
    (5000000.0, 2000000.0, 150.0)
    """
    p = Path(folder)
    path = p if p.is_file() else p / filename
    problems: list[str] = []
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"{path}: not a valid settings file: {e}") from None
        values = _check(data, str(path), problems)
    else:
        path = None
    if overrides:
        ov = {k: v for k, v in overrides.items() if v is not None}
        shaped: dict[str, Any] = {}
        for k, v in ov.items():
            if k == "budget":
                if isinstance(v, Mapping) and set(v) <= {"annual", "years"} and v:
                    shaped["budget"] = dict(v)
                elif isinstance(v, Mapping):
                    shaped["budget"] = {"years": {str(y): a for y, a in v.items()}}
                else:
                    shaped["budget"] = {"annual": v}
            elif k == "target":
                shaped.setdefault("target", {})["benefits"] = v
            elif k in ("benefit_correlation", "cost_correlation"):
                shaped.setdefault("target", {})[k] = v
            elif k in ("benefit_target", "candidates", "value", "must_do", "exclusive", "depends_on"):
                shaped.setdefault("selection", {})[k] = list(v) if isinstance(v, tuple) else v
            else:
                shaped[k] = v
        values.update(_check(shaped, "overrides", problems))
    if problems:
        raise UsageError(f"{len(problems)} problem(s) in the portfolio settings:\n  " + "\n  ".join(problems))
    return PortfolioSettings(path=path, **values)
