"""The what-if explorer in a real browser: JupyterLab on loopback, Debian's headless Chromium,
Playwright driving it like an analyst would (run all cells, move a slider, read the NPV shown).

Needs ``/usr/bin/chromium`` (``make browser`` installs it). Without it the test is skipped locally
and FAILS when the environment variable ``CI`` is set: CI must run it.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from browser_util import CHROMIUM, CHROMIUM_ARGS, jupyter_lab, notebook_from_jupytext

from vmo_lib.loader import load_case, workbook_files
from vmo_lib.scenarios import CaseMatrices, WhatIf, what_if_npv

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 120_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason} (make browser installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary copy of notebooks/ and data/sample/ (stopped afterwards)."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed")
    root = tmp_path_factory.mktemp("lab") / "work"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(REPO / "data" / "sample", root / "data" / "sample",
                    ignore=shutil.ignore_patterns("*.scenarios.xlsx", "~$*"))
    notebook_from_jupytext(REPO / "notebooks" / "what_if.py", root / "notebooks" / "what_if.ipynb")
    with jupyter_lab(root, root.parent / "jupyterlab.log") as server:
        yield server


def _npv_shown(page) -> float:
    return float(page.get_attribute(".vmo-npv", "data-value"))


def _wait_for_npv(page, expected: float) -> None:
    """Wait until the NPV card shows ``expected`` (to a millionth of its size)."""
    page.wait_for_function(
        "([want]) => { const e = document.querySelector('.vmo-npv');"
        " return e && Math.abs(parseFloat(e.dataset.value) - want) <= 1e-6 * Math.max(1, Math.abs(want)); }",
        arg=[expected], timeout=TIMEOUT_MS)


def _accept_dialogs(page, seen: list[str]) -> None:
    """Accept any JupyterLab dialog in the way (e.g. a kernel choice on a loaded machine), noting
    its text: the assertions that follow still decide whether the explorer works."""
    dialogs = page.locator(".jp-Dialog")
    while dialogs.count():
        seen.append(dialogs.first.inner_text())
        button = dialogs.first.locator(".jp-Dialog-button.jp-mod-accept")
        if button.count():
            button.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)


def _run_all_cells(page, seen: list[str]) -> None:
    """Run → Run All Cells, as an analyst would; retried while the kernel is still connecting."""
    _accept_dialogs(page, seen)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    for _attempt in range(5):
        _accept_dialogs(page, seen)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))").click()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                ".some(e => /\\[[0-9*]+\\]/.test(e.textContent))", timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the run did not start yet
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All Cells never started a cell (dialogs seen: {seen})")


def test_moving_a_slider_shows_the_npv_the_library_computes(lab):
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    first = workbook_files(lab.root / "data" / "sample")[0]        # the explorer opens the first case
    m = CaseMatrices.from_case(load_case(first, as_of="2026Q3"))
    npv_as_planned = what_if_npv(m, WhatIf())
    npv_80 = what_if_npv(m, WhatIf(benefit_realisation=0.8))
    npv_80_cost_30 = what_if_npv(m, WhatIf(benefit_realisation=0.8, cost_overrun=0.3))
    assert len({round(v, 2) for v in (npv_as_planned, npv_80, npv_80_cost_30)}) == 3

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("dialog", lambda d: d.dismiss())
            page.goto(lab.lab_url("notebooks/what_if.ipynb"))
            page.wait_for_selector(".jp-Notebook")
            _run_all_cells(page, dialogs)
            page.wait_for_selector(".vmo-npv")
            _wait_for_npv(page, npv_as_planned)
            assert first.stem in page.inner_text(".vmo-whatif")

            # Benefits realised 100% -> 80%: focus the slider's handle, four steps of 5 to the left.
            page.locator(".vmo-benefit-realisation .noUi-handle").focus()
            for _ in range(4):
                page.keyboard.press("ArrowLeft")
            _wait_for_npv(page, npv_80)
            assert page.inner_text(".vmo-benefit-realisation .widget-readout").strip() == "80"

            # Cost overrun +30%: type into the slider's readout, as when a board member names a figure.
            chart_before = page.get_attribute("img.vmo-chart", "src")
            readout = page.locator(".vmo-cost-overrun .widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("30")
            page.keyboard.press("Enter")
            _wait_for_npv(page, npv_80_cost_30)
            # the chart is sent after the figures: wait for the new picture before the screenshot
            page.wait_for_function("([old]) => document.querySelector('img.vmo-chart').src !== old",
                                   arg=[chart_before])
            assert _npv_shown(page) == pytest.approx(npv_80_cost_30, rel=1e-9)
            assert "before NPV" in page.inner_text(".vmo-switch-benefit-realisation") or \
                "for NPV" in page.inner_text(".vmo-switch-benefit-realisation")

            page.locator(".vmo-whatif").scroll_into_view_if_needed()
            page.locator(".vmo-whatif").screenshot(path=str(ARTIFACTS / "what_if.png"))
        except Exception as exc:
            page.screenshot(path=str(ARTIFACTS / "what_if-failure.png"))
            raise AssertionError(f"{exc}\n(JupyterLab dialogs seen: {dialogs}; log: {lab.log})") from exc
        finally:
            browser.close()
    elapsed = time.monotonic() - started
    print(f"browser test: {elapsed:.1f} s from server up to screenshot; dialogs accepted: {dialogs}")
    assert (ARTIFACTS / "what_if.png").stat().st_size > 10_000
