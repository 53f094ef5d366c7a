"""The set-up files agree: conda users get the same dependencies as pip users, and CI runs make test."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_every_pyproject_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    listed = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) not in ("pip", "-e"):
            listed.add(_name(m.group(1)))
    assert wanted - listed == set(), "environment.yml misses these pyproject dependencies"
    assert "python" in listed


def test_environment_yml_ends_by_installing_the_package():
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_ci_runs_make_test_and_readme_gives_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def _readme_row(command: str) -> str:
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith(f"| `{command}"):
            return line
    raise AssertionError(f"README has no JSON row for {command}")


def test_readme_documents_every_status_and_appraise_key():
    from vmo_lib.analysis.appraisal import Appraisal
    from vmo_lib.analysis.review import REVIEW_KEYS

    status_row = _readme_row("vmo status --json")
    assert [k for k in REVIEW_KEYS if k not in status_row] == []
    appraise_row = _readme_row("vmo appraise --json")
    fields = [f for f in Appraisal.__dataclass_fields__ if f != "cashflows"]
    assert [k for k in fields if k not in appraise_row] == []
