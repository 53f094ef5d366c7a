"""A bidirectional override in a workbook's FILE NAME never reaches a page or the terminal (issue 15).

Workbook text is cleaned when it is read (tests/test_hostile.py); a file name is not workbook text, yet
the review shows it: in the index, on the failure page of a workbook it could not read, and in the
``vmo review`` line naming the failed cases. ``CRM\\u202exslx.xlsx`` displays as ``CRMxlsx.xslx``-like
reversed text in a browser or terminal that honours the override.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vmo_lib import batch, cli
from vmo_lib.outputs import html as report

ROOT = Path(__file__).resolve().parent.parent
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
RLO = "\u202e"

CASE_NB = '''# %% tags=["parameters"]
case_path = ""
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""

# %%
from pathlib import Path
from vmo_lib.outputs import html as report
report.write_results(out_dir, {"case_id": Path(case_path).stem, "verdict": "on track", "rag": "green", "cards": []})
'''


def test_page_templates_drop_invisible_characters_but_keep_the_text():
    page = report.render_failure_page(case_id=f"bad{RLO}xslx", source=f"bad{RLO}xslx.xlsx", as_of="2026Q3",
                                      error=f"not a workbook: bad{RLO}xslx.xlsx\u2066!\u2069", issues=[],
                                      footer="run X")
    assert not INVISIBLE.search(page.replace("\n", "").replace("\t", ""))
    assert "badxslx.xlsx" in page and "not a workbook: badxslx.xlsx!" in page
    markup = report._visible(__import__("markupsafe").Markup(f"<i>x{RLO}</i>"))
    assert markup == "<i>x</i>" and hasattr(markup, "__html__")  # trusted HTML stays trusted


@pytest.mark.xdist_group("papermill")
def test_a_review_of_workbooks_named_with_an_override_shows_none(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(ROOT / "data" / "sample" / "CRM-2025.xlsx", folder / f"CRM{RLO}xslx.xlsx")
    (folder / f"bad{RLO}xslx.xlsx").write_bytes(b"not a workbook")
    nb = tmp_path / "case.py"
    nb.write_text(CASE_NB)
    monkeypatch.setattr(batch, "CASE_NOTEBOOK", nb)
    out = tmp_path / "out"

    code = cli.main(["review", str(folder), "--as-of", "2026Q3", "--out", str(out), "--workers", "1",
                     "--progress", "off", "--no-history"])

    captured = capsys.readouterr()
    assert code == 1  # the unreadable workbook failed
    assert RLO not in captured.out + captured.err
    assert "1 case(s) failed: bad?xslx" in captured.err  # shown as every command shows workbook text
    pages = [out / "index.html", *(out / "cases").glob("*/*.html")]
    assert {p.name for p in pages} == {"index.html", "failed.html", "pack.html"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not INVISIBLE.search(text.replace("\n", "").replace("\t", "")), page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "CRMxslx.xlsx" in index and "badxslx.xlsx" in index
