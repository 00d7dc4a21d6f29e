"""report.html opened by a real browser: Debian's chromium, headless, draws every chart."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from campaigner.reports import ExportedReport, ReportFormat, export_report
from campaigner.reports.charts import COLOURS
from tests.conftest import missing_dependency
from tests.reports.conftest import RunCampaign
from tests.reports.png import pixel_colours
from tests.reports.test_standing import finished, midway

pytestmark = pytest.mark.browser

PROVISIONAL_AMBER = "#b26a00"
"""The colour of the provisional marker (report.css)."""


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


def chromium(page: Path, profile: Path, *arguments: str) -> str:
    """Open `page` in Debian's headless chromium with `arguments`; returns what it printed."""
    executable = shutil.which("chromium")
    if executable is None:
        missing_dependency("Debian's chromium (apt-get install -y chromium)")
    finished = subprocess.run(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1200,4000",
            *arguments,
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return finished.stdout


def test_chromium_draws_the_charts(report_html: Path, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"
    chromium(report_html, tmp_path / "profile", f"--screenshot={screenshot}")
    colours = pixel_colours(screenshot)
    # The funnel and histograms (blue), successful calls (green), voicemail (amber): only the
    # charts use these colours, and each is drawn as bars many pixels large.
    for name in ("funnel", "successful", "voicemail"):
        assert colours[rgb(COLOURS[name])] > 2_000, name


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (midway, ("Status: paused (budget reached).", "these figures are provisional.")),
        (finished, ("Status: completed.", "No contact is left to call: these figures are final.")),
    ],
    ids=["midway", "finished"],
)
def test_chromium_shows_where_the_campaign_stands(
    engine: Engine,
    tmp_path: Path,
    build: Callable[[Engine, Path], ExportedReport],
    says: tuple[str, ...],
) -> None:
    page = build(engine, tmp_path).directory / "report.html"
    screenshot = tmp_path / "report.png"
    chromium(page, tmp_path / "profile", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000
    # The provisional marker is drawn in its own amber, no chart's colour.
    amber = pixel_colours(screenshot)[rgb(PROVISIONAL_AMBER)]
    assert (amber > 0) == (build is midway)
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    standing = re.search(r'<section class="standing".*?</section>', dom, re.S)
    assert standing is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", standing.group()).split())
    text = text.replace(" .", ".").replace(" )", ")")
    for words in says:
        assert words in text
    assert (dom.count('class="provisional"') == 2) == (build is midway)
