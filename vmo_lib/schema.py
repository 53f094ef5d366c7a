"""The business-case workbook format: sheets, fields, columns and allowed values.

This module is the single source of truth shared by the template generator, the reader and the
validator, so that the three can never disagree. Nothing here reads or writes files.

Layout (template version :data:`TEMPLATE_VERSION`)
---------------------------------------------------
*Guide*      what goes where and the conventions (text only).
*Case*       one field per row: label in column A, value in column B, guidance in column C,
             from row :data:`CASE_FIRST_ROW`; the template version sits in ``Case!B2``.
*Costs*      one row per cost line from row :data:`TABLE_FIRST_ROW`; attribute columns
             (:data:`COST_COLUMNS`) then one column per period (header = period label).
*Benefits*   one row per benefit line: its profile (:data:`BENEFIT_COLUMNS`) then one column per
             period of monetised value in the case currency (dis-benefits negative).
*Actuals*    long form, one row per (period, line): :data:`ACTUAL_COLUMNS`.
*Forecast*   long form, today's estimate for periods not yet reported: :data:`FORECAST_COLUMNS`.
*KPI plan*   optional long form, the planned KPI value per (period, benefit): :data:`KPI_PLAN_COLUMNS`
             (the trajectory; without it the plan is a straight line from go-live to the target).
*Baselines*  long form formal re-baselines, each a full set of lines: :data:`BASELINE_COLUMNS`.
             A re-baseline either restates every line (a line it does not list would otherwise read as
             zero: an error when that line has a plan), or says ``carry_over`` = yes on its rows, and
             every line it does not list keeps the baseline in force before it (the original, or the
             re-baseline approved before it).
*Benefit map* optional, the benefits dependency network: :data:`BENEFIT_MAP_COLUMNS` (blank or absent
             = the network is not mapped; :mod:`vmo_lib.intake.benefit_map`).
*Lists*      hidden; the allowed values behind the drop-downs.

In every table sheet the header is on row :data:`HEADER_ROW`; data starts on the next row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACTUAL_COLUMNS",
    "BASELINE_COLUMNS",
    "BENEFIT_COLUMNS",
    "BENEFIT_MAP_COLUMNS",
    "BENEFIT_MAP_SHEET",
    "NODE_KINDS",
    "OPTIONS",
    "OPTION_COLUMN",
    "read_columns",
    "BENEFIT_TYPES",
    "CASE_FIELDS",
    "CASE_FIRST_ROW",
    "CASE_STATUSES",
    "CASE_TYPES",
    "CASH_BENEFIT_TYPES",
    "COST_CATEGORIES",
    "COST_COLUMNS",
    "Column",
    "DISTRIBUTIONS",
    "EVIDENCE_STATUSES",
    "FORECAST_COLUMNS",
    "KPI_BASES",
    "KPI_PLAN_COLUMNS",
    "HEADER_ROW",
    "KPI_ROLLUPS",
    "LEVELS",
    "MEASUREMENT_FREQUENCIES",
    "PERIODS_PER_FREQUENCY",
    "PRICE_BASES",
    "REQUIRED_SHEETS",
    "SHEETS",
    "SUPPORTED_VERSIONS",
    "TABLE_FIRST_ROW",
    "TEMPLATE_VERSION",
    "UNITS",
    "UNIT_SCALE",
    "VERSION_CELL",
]

#: 1.1 added the Case field 'Amount units' and period columns generated from first period, length and
#: horizon; a 1.0 workbook is read as 1.1 with a warning (template.older_version): its units are units.
TEMPLATE_VERSION = "1.1"
SUPPORTED_VERSIONS = ("1.0", "1.1")
VERSION_CELL = "B2"  # on the Case sheet

SHEETS = ("Guide", "Case", "Costs", "Benefits", "Actuals", "Forecast", "KPI plan", "Baselines", "Benefit map", "Lists")
REQUIRED_SHEETS = ("Case", "Costs", "Benefits")
HEADER_ROW = 4
TABLE_FIRST_ROW = HEADER_ROW + 1
CASE_FIRST_ROW = 4

# --- enumerations -------------------------------------------------------------------------------
CASE_STATUSES = ("proposed", "approved", "in delivery", "live", "closed", "cancelled")
CASE_TYPES = (
    "IT: equipment/development",
    "IT: outsourcing",
    "Business change",
    "Regulatory/mandatory",
    "Infrastructure",
)
PERIOD_LENGTHS = ("quarter", "year")
PRICE_BASES = ("real", "nominal")
DISCOUNT_SCHEDULES = ("flat", "green book", "green book health")
COST_CATEGORIES = ("capex", "opex")
BENEFIT_TYPES = (
    "cash-releasing",
    "non-cash-releasing",
    "cost avoidance",
    "quantifiable non-financial",
    "dis-benefit",
)
#: Benefit types that move a budget line; the only ones in the cash (financial) view.
CASH_BENEFIT_TYPES = ("cash-releasing",)
MEASUREMENT_FREQUENCIES = ("monthly", "quarterly", "half-yearly", "annually")
#: Measurement frequency expressed in periods of each length (monthly counts as one quarter).
PERIODS_PER_FREQUENCY = {
    "quarter": {"monthly": 1, "quarterly": 1, "half-yearly": 2, "annually": 4},
    "year": {"monthly": 1, "quarterly": 1, "half-yearly": 1, "annually": 1},
}
LEVELS = ("high", "medium", "low")  # confidence / evidence grade
KPI_ROLLUPS = ("sum", "mean", "latest", "max", "min")
DISTRIBUTIONS = ("triangular", "pert")
YES_NO = ("yes", "no")
#: Options of the economic case (Costs/Benefits column "Option"): blank or "preferred" = the case as
#: appraised; "bau" (business as usual) and "do minimum" lines are kept apart (vmo_lib.intake.options).
OPTIONS = ("preferred", "bau", "do minimum")
#: How a benefit's money follows from its KPI: ``change`` = (KPI - baseline) x value per unit, counted
#: toward the target (FTE released, days saved); ``level`` = KPI x value per unit (the KPI itself is a
#: volume per period: transactions moved online, hours saved in the period).
KPI_BASES = ("change", "level")
#: Evidence status of an actual, strongest first; only ``measured`` counts as evidenced.
EVIDENCE_STATUSES = ("measured", "estimated", "owner's claim")
#: The units every amount of a workbook is entered in (Case field ``units``; blank = units), and the
#: factor the loader multiplies each amount cell by, so a table printed in £000 is typed as printed.
UNITS = ("units", "thousands", "millions")
UNIT_SCALE = {"units": 1.0, "thousands": 1_000.0, "millions": 1_000_000.0}


@dataclass(frozen=True)
class Column:
    """One field of the Case sheet or one column of a table sheet.

    ``kind`` is one of ``text``, ``id``, ``number``, ``amount`` (currency), ``rate`` (a fraction
    shown as %), ``int``, ``date``, ``period``, ``choice`` (one of ``choices``).
    """

    key: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    example: object = None
    minimum: float | None = None
    maximum: float | None = None
    width: float = 14
    extra: dict = field(default_factory=dict, compare=False, hash=False)


C = Column

CASE_FIELDS: tuple[Column, ...] = (
    C("case_id", "Case id", "id", True, help="Short unique id: letters, digits, '-', '_' or '.', at most 40.", example="CRM-2026"),
    C("title", "Title", "text", True, help="What the investment is, in a few words.", example="Customer relationship management replacement"),
    C("sponsor", "Sponsor", "text", True, help="Senior responsible owner accountable for the benefits.", example="Chief Commercial Officer"),
    C("portfolio", "Portfolio", "text", help="Portfolio or programme the case belongs to.", example="Commercial"),
    C("strategic_objective", "Strategic objective", "text", True, help="The objective the case contributes to.", example="Grow recurring revenue"),
    C("org_unit", "Organisational unit", "text", True, help="Business unit whose KPIs the benefits move (used to detect double counting).", example="Sales"),
    C("case_type", "Case type", "choice", True, CASE_TYPES, help="Drives the optimism-bias defaults and the reference class.", example="IT: equipment/development"),
    C("status", "Status", "choice", True, CASE_STATUSES, example="approved"),
    C("approval_date", "Approval date", "date", help="Date the board approved the baseline (blank while proposed).", example="2025-12-15"),
    C("first_period", "First period", "period", True, help="Period 0 of the appraisal, e.g. 2026Q1 (quarters), 2026 (years) or FY2025-26 (UK financial years). Not discounted.", example="2026Q1"),
    C("period_length", "Period length", "choice", True, PERIOD_LENGTHS, example="quarter"),
    C("horizon", "Horizon (periods)", "int", True, help="Number of periods appraised, including period 0; at least 2 (one period has no payback, IRR or trend).", example=20, minimum=2, maximum=400),
    C("go_live_period", "Go-live period", "period", True, help="Period in which the solution goes live; benefits normally start after it.", example="2026Q4"),
    C("currency", "Currency", "text", True, help="ISO code of every amount in the workbook.", example="GBP"),
    C("units", "Amount units", "choice", False, UNITS,
      help="What every amount in the workbook counts: units (blank), thousands (a table printed in £000) or "
           "millions (£m). The workbench multiplies each amount cell by 1, 1,000 or 1,000,000 on load.",
      example="units"),
    C("price_base", "Price base", "choice", True, PRICE_BASES, help="real = constant prices of the base year; nominal = cash prices.", example="real"),
    C("base_year", "Price base year", "int", True, help="Year whose prices real amounts are expressed in.", example=2026, minimum=1990, maximum=2100),
    C("discount_rate", "Annual discount rate", "rate", True, help="Annual rate; the per-period rate is (1+r)^(1/4)-1 for quarters. Ignored by the Green Book schedules.", example=0.08, minimum=-0.5, maximum=1.0),
    C("discount_schedule", "Discount schedule", "choice", True, DISCOUNT_SCHEDULES, help="flat = the annual rate above; green book = HM Treasury declining STPR (3.5% to year 30, ...).", example="flat"),
    C("ob_capex", "Optimism bias: capex uplift", "rate", help="Uplift to capex in the risk-adjusted view; blank = default for the case type (IT: 200%).", minimum=0, maximum=5),
    C("ob_opex", "Optimism bias: opex uplift", "rate", help="Uplift to opex; blank = default for the case type.", minimum=0, maximum=5),
    C("ob_duration", "Optimism bias: duration uplift", "rate", help="Delay to benefits as a share of the time to go-live; blank = default (IT: 54%).", minimum=0, maximum=5),
    C("ob_benefits", "Optimism bias: benefit haircut", "rate", help="Reduction of benefits in the risk-adjusted view; blank = default for the case type.", minimum=0, maximum=1),
    C("actual_go_live", "Actual go-live period", "period", help="Period the solution actually went live (or, before it, the latest forecast); blank = as planned. Benefits tied to go-live shift with it.", example="2027Q1"),
    C("residual_value", "Residual value", "amount", help="Value the assets still hold at the end of the horizon (blank = none), in the case currency; entered in the final period and discounted like it, shown as a stated line beside the NPV.", example=0, minimum=0),
)

_ID_HELP = "Unique id of the line within the case, e.g. C1 or B3."
_PB_HELP = "Blank = the case's price base. A line in another price base is an error."
_OPTION_HELP = ("Blank or preferred = the case as appraised. bau (business as usual) or do minimum = a line of "
                "that option only: compared in the economic case, counted in no other figure.")
_THREE_POINT = "Whole-life total (undiscounted) in the case currency; optional three-point estimate."

COST_COLUMNS: tuple[Column, ...] = (
    C("line_id", "Line id", "id", True, help=_ID_HELP, width=9),
    C("name", "Cost line", "text", True, width=30),
    C("category", "Category", "choice", True, COST_CATEGORIES, help="capex = one-off build; opex = running cost.", width=10),
    C("price_base", "Price base", "choice", False, PRICE_BASES, help=_PB_HELP, width=10),
    C("driver", "Risk driver", "text", help="Lines with the same driver move together in the Monte Carlo.", width=14),
    C("low", "Low", "amount", help=_THREE_POINT, minimum=0, width=12),
    C("likely", "Likely", "amount", help=_THREE_POINT + " Should equal the sum of the periods.", minimum=0, width=12),
    C("high", "High", "amount", help=_THREE_POINT, minimum=0, width=12),
    C("distribution", "Distribution", "choice", False, DISTRIBUTIONS, help="Shape of the three-point range (blank = triangular).", width=12),
    C("owner", "Owner", "text", help="Who is accountable for the spend and reports its actuals (shown on the return).", width=16),
)

BENEFIT_COLUMNS: tuple[Column, ...] = (
    C("line_id", "Line id", "id", True, help=_ID_HELP, width=9),
    C("name", "Benefit", "text", True, width=30),
    C("benefit_type", "Type", "choice", True, BENEFIT_TYPES, help="Only cash-releasing benefits enter the cash view; dis-benefits are entered as negative values.", width=22),
    C("owner", "Benefit owner", "text", True, help="Accountable for realising the benefit after the project closes.", width=18),
    C("kpi", "KPI", "text", True, help="The measure that shows the benefit, e.g. 'Invoices processed per FTE'.", width=24),
    C("unit", "Unit", "text", True, help="Unit of the KPI: %, hours, count, GBP, score...", width=9),
    C("baseline_value", "Baseline value", "number", True, help="KPI value measured before go-live.", width=12),
    C("baseline_date", "Baseline measured", "date", True, help="Date of the baseline measurement (before go-live).", width=12),
    C("target_value", "Target value", "number", True, width=12),
    C("target_date", "Target date", "date", True, width=12),
    C("value_per_unit", "Value per unit", "amount", help="Money value of one unit of KPI improvement (monetisation).", width=12),
    C("frequency", "Measurement frequency", "choice", True, MEASUREMENT_FREQUENCIES, width=13),
    C("data_source", "Data source", "text", True, width=18),
    C("enabler", "Enabler", "text", help="Project output or business change the benefit depends on.", width=20),
    C("confidence", "Confidence", "choice", True, LEVELS, help="Evidence grade: high = measured/contracted, medium = benchmarked, low = estimate.", width=11),
    C("kpi_rollup", "KPI roll-up", "choice", False, KPI_ROLLUPS, help="How the KPI combines across cases (blank = sum for counts, mean for % and scores).", width=10),
    C("org_unit", "Organisational unit", "text", help="Blank = the case's unit.", width=14),
    C("price_base", "Price base", "choice", False, PRICE_BASES, help=_PB_HELP, width=10),
    C("driver", "Risk driver", "text", help="Lines with the same driver move together in the Monte Carlo.", width=14),
    C("low", "Low", "amount", help=_THREE_POINT, width=12),
    C("likely", "Likely", "amount", help=_THREE_POINT, width=12),
    C("high", "High", "amount", help=_THREE_POINT, width=12),
    C("distribution", "Distribution", "choice", False, DISTRIBUTIONS, width=12),
    C("kpi_basis", "KPI basis", "choice", False, KPI_BASES,
      help="How the money follows from the KPI: change = (KPI - baseline) x value per unit; level = KPI x value "
           "per unit. Blank = not reconciled.", width=10),
    C("go_live_tied", "Tied to go-live", "choice", False, YES_NO,
      help="yes = the profile starts from go-live, so it moves with the actual go-live period.", width=10),
)

ACTUAL_COLUMNS: tuple[Column, ...] = (
    C("period", "Period", "period", True, help="Reported period, up to the review date.", width=10),
    C("line_id", "Line id", "id", True, help="A line id from Costs or Benefits.", width=9),
    C("amount", "Actual amount", "amount", False, help="Money spent (costs) or realised (benefits) in the period.", width=14),
    C("kpi_value", "Measured KPI value", "number", False, help="KPI as measured at the end of the period (benefits).", width=14),
    C("comment", "Comment", "text", width=40),
    C("evidence", "Evidence", "choice", False, EVIDENCE_STATUSES,
      help="measured = from the data source; estimated = modelled or sampled; owner's claim = asserted, not checked. "
           "Blank = not stated (not evidenced).", width=13),
    C("evidence_source", "Evidence source", "text", help="Where the figure comes from: report, system, file.", width=24),
)

FORECAST_COLUMNS: tuple[Column, ...] = (
    C("period", "Period", "period", True, help="A period not yet reported.", width=10),
    C("line_id", "Line id", "id", True, width=9),
    C("amount", "Forecast amount", "amount", True, width=14),
    C("comment", "Comment", "text", width=40),
)

KPI_PLAN_COLUMNS: tuple[Column, ...] = (
    C("period", "Period", "period", True, help="A period of the appraisal.", width=10),
    C("line_id", "Line id", "id", True, help="A benefit line id.", width=9),
    C("kpi_value", "Planned KPI value", "number", True, help="The KPI value planned for the end of the period.", width=14),
    C("comment", "Comment", "text", width=40),
)

BASELINE_COLUMNS: tuple[Column, ...] = (
    C("version", "Baseline version", "text", True, help="Name of the re-baseline, e.g. RB1.", width=12),
    C("approved", "Approved on", "date", True, width=12),
    C("reason", "Reason", "text", True, width=30),
    C("period", "Period", "period", True, width=10),
    C("line_id", "Line id", "id", True, width=9),
    C("amount", "Amount", "amount", True, width=14),
    C("carry_over", "Carry over unlisted lines", "choice", False, YES_NO,
      help="yes = a line this re-baseline does not list keeps the baseline in force before it; "
           "blank or no = the re-baseline must list every line (an omitted line with a plan is an error).",
      width=12),
)

#: Field key → Column, for every table sheet.
TABLE_COLUMNS = {
    "Costs": COST_COLUMNS,
    "Benefits": BENEFIT_COLUMNS,
    "Actuals": ACTUAL_COLUMNS,
    "Forecast": FORECAST_COLUMNS,
    "KPI plan": KPI_PLAN_COLUMNS,
    "Baselines": BASELINE_COLUMNS,
}
#: The options column of Costs and Benefits (vmo_lib.intake.options): read and checked when a workbook has
#: it (found by its header, anywhere in the header row), but not written by the template, so every
#: existing layout and cell address is unchanged. Blank or "preferred" = the case as appraised.
OPTION_COLUMN = C("option", "Option", "choice", False, OPTIONS, help=_OPTION_HELP, width=11)
#: Optional columns read when present but not laid out by the template, per table sheet.
EXTRA_COLUMNS: dict[str, tuple[Column, ...]] = {"Costs": (OPTION_COLUMN,), "Benefits": (OPTION_COLUMN,)}


def read_columns(sheet: str) -> tuple[Column, ...]:
    """Every column the reader recognises on a table sheet: :data:`TABLE_COLUMNS` then
    :data:`EXTRA_COLUMNS` (the template lays out only the first)."""
    return TABLE_COLUMNS[sheet] + EXTRA_COLUMNS.get(sheet, ())


#: Sheets whose period columns follow the attribute columns.
WIDE_SHEETS = ("Costs", "Benefits")
#: The period cells of each wide sheet (one column per period, header = period label).
PERIOD_VALUE_COLUMNS = {
    "Costs": C("amount", "Cost in period", "amount", help="Cost in the period, case currency, undiscounted; positive.", minimum=0, width=11),
    "Benefits": C("amount", "Benefit in period", "amount", help="Monetised benefit in the period, case currency, undiscounted; dis-benefits negative.", width=11),
}


# --- the benefits dependency network (optional sheet; vmo_lib.intake.benefit_map) ---------------------
BENEFIT_MAP_SHEET = "Benefit map"
#: Node kinds of the benefits dependency network, in the order its arrows run (Cranfield / MSP).
NODE_KINDS = ("enabler", "business change", "benefit", "investment objective", "strategic objective")
BENEFIT_MAP_COLUMNS: tuple[Column, ...] = (
    C("node_id", "Node id", "id", True, help="Unique id of the node. A benefit's id is its line id on Benefits; an "
      "enabler may use a cost line id from Costs (that cost line is the enabler) or a new id for a deliverable.",
      width=10),
    C("kind", "Kind", "choice", True, NODE_KINDS, help="enabler -> business change -> benefit -> investment objective "
      "-> strategic objective: arrows run left to right only.", width=18),
    C("name", "Name", "text", help="What the node is; blank for a benefit = its name on Benefits.", width=32),
    C("owner", "Owner", "text", help="Accountable person or role; blank for a benefit = its owner on Benefits.",
      width=18),
    C("feeds", "Feeds (node ids)", "text", help="Ids of the nodes this one leads to, separated by commas "
      "(an enabler feeds business changes or benefits; a benefit feeds objectives).", width=22),
    C("planned_delivery", "Planned delivery", "date", help="Enablers: date the enabler is planned to be delivered.",
      width=12),
    C("forecast_delivery", "Forecast delivery", "date", help="Enablers not yet delivered: today's expected date.",
      width=12),
    C("actual_delivery", "Actual delivery", "date", help="Enablers: date it was actually delivered (blank = not yet).",
      width=12),
)
TABLE_COLUMNS[BENEFIT_MAP_SHEET] = BENEFIT_MAP_COLUMNS
