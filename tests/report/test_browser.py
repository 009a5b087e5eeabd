"""Headless Chromium opens the report from a file: verdict shown, every criterion row there, every
plot drawn; the screenshot is kept in the run folder for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.report import build_report


@pytest.fixture
def browser() -> Iterator[object]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        message = "chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a broken set-up, not a skip
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1600", "--blink-settings=imagesEnabled=true"):
        options.add_argument(arg)
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield session
    finally:
        session.quit()


def test_the_report_renders_in_chromium(run_folder: Path, browser: object) -> None:
    from selenium.webdriver.common.by import By

    page = build_report(run_folder)
    browser.get(page.as_uri())  # type: ignore[attr-defined]
    verdict = browser.find_element(By.ID, "verdict")  # type: ignore[attr-defined]
    assert verdict.get_attribute("data-verdict") == "GO" and verdict.text.startswith("GO")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.criterion")  # type: ignore[attr-defined]
    assert len(rows) == 5
    plots = browser.find_elements(By.CSS_SELECTOR, "figure.plot svg")  # type: ignore[attr-defined]
    assert len(plots) == 3
    for plot in plots:
        size = plot.size
        drawn = plot.find_elements(By.CSS_SELECTOR, "path, use, rect")
        assert size["width"] > 200 and size["height"] > 100 and len(drawn) > 10, (size, len(drawn))
    shot = run_folder / "report.png"
    browser.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 20_000
