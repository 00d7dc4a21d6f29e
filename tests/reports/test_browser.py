"""report.html opened by a real browser: Debian's chromium, headless, draws every chart."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from campaigner.reports import ReportFormat, export_report
from campaigner.reports.charts import COLOURS
from tests.conftest import missing_dependency
from tests.reports.conftest import RunCampaign
from tests.reports.png import pixel_colours

pytestmark = pytest.mark.browser


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.removeprefix("#"), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


@pytest.fixture(scope="module")
def report_html(campaign: RunCampaign, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    export_report(campaign.engine, "report", out, [ReportFormat.HTML])
    return out / "report.html"


def test_report_html_references_nothing_outside_itself(report_html: Path) -> None:
    html = report_html.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"https?:|//[a-z]|url\(|@import|<link|<img|<iframe", html, re.I)
    assert html.count("<svg") >= 8


def test_chromium_draws_the_charts(report_html: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        missing_dependency("Debian's chromium (apt-get install -y chromium)")
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1200,4000",
            report_html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    colours = pixel_colours(screenshot)
    # The funnel and histograms (blue), successful calls (green), voicemail (amber): only the
    # charts use these colours, and each is drawn as bars many pixels large.
    for name in ("funnel", "successful", "voicemail"):
        assert colours[rgb(COLOURS[name])] > 2_000, name
