"""JupyterLab opens the project's jupytext notebooks (notebooks/*.py) as notebooks on double-click:
the settings override the Makefile installs into .venv names jupytext's viewer for Python files."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_python_files_open_with_the_jupytext_notebook_viewer():
    settings = json.loads((REPO / "jupyter" / "lab" / "settings" / "overrides.json").read_text(encoding="utf-8"))
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"python": "Jupytext Notebook"}
    from jupytext_config.labconfig import LabConfig  # jupytext's own names for the doc type and viewer

    assert "python" in LabConfig.DOCTYPES


def test_make_venv_installs_the_override_where_jupyterlab_reads_it():
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json" in make
    assert re.search(r"^venv: .*\$\(LAB_OVERRIDES\)", make, re.M)


def test_every_notebook_is_a_jupytext_percent_script():
    for nb in (REPO / "notebooks").glob("*.py"):
        assert "format_name: percent" in nb.read_text(encoding="utf-8"), nb.name
