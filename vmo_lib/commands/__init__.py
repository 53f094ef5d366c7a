"""Sub-commands of ``vmo``; each module has ``register(subparsers)``. See :mod:`vmo_lib.cli`.

This module holds what every command shares: the exit codes and the JSON writer.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

__all__ = ["EXIT_BATCH", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_UNREADABLE", "dump_json"]

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BATCH = 1


def _json_default(o: Any) -> Any:
    import datetime as dt

    import numpy as np
    import pandas as pd

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, (dt.date, dt.datetime, pd.Timestamp)):
        return o.isoformat()
    if isinstance(o, pd.DataFrame):
        return json.loads(o.to_json(orient="records", date_format="iso"))
    if isinstance(o, pd.Series):
        return json.loads(o.to_json(date_format="iso"))
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _clean(o: Any) -> Any:
    """NaN/inf become null so the JSON is valid for every parser."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dump_json(obj: Any, fp=None) -> None:
    """Write ``obj`` as indented JSON (NaN → null, dates ISO) to ``fp`` (stdout by default)."""
    fp = fp or sys.stdout
    json.dump(_clean(obj), fp, indent=2, default=_json_default, allow_nan=False)
    fp.write("\n")
