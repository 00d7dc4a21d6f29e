"""report.html from its template: the figures it shows are the headline's, and text is escaped."""

from __future__ import annotations

import re

import pytest

from campaigner.reports.figures import headline
from campaigner.reports.frames import CampaignData, load_campaign_data
from campaigner.reports.headline import Headline
from campaigner.reports.html import render_report
from tests.reports.conftest import RunCampaign


@pytest.fixture(scope="module")
def data(campaign: RunCampaign) -> CampaignData:
    return load_campaign_data(campaign.engine, "report")


@pytest.fixture(scope="module")
def figures(data: CampaignData) -> Headline:
    return headline(data)


def test_the_cards_show_the_headline_figures(data: CampaignData, figures: Headline) -> None:
    page = render_report(data, figures)
    pairs = re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', page)
    cards = {label: value for value, label in pairs}
    funnel, cost = figures.funnel, figures.cost
    assert cost.per_connected_contact_cents is not None
    assert cost.per_successful_contact_cents is not None
    assert cards == {
        "Input rows": f"{figures.input_rows:,}",
        "Contacts": f"{funnel.contacts:,}",
        "Dialed": f"{funnel.dialed:,}",
        "Connected": f"{funnel.connected:,}",
        "Successful": f"{funnel.successful:,}",
        "Total cost": f"${cost.total_cents / 100:,.2f}",
        "Cost per connected contact": f"${cost.per_connected_contact_cents / 100:,.2f}",
        "Cost per successful contact": f"${cost.per_successful_contact_cents / 100:,.2f}",
    }


def test_every_text_from_outside_is_escaped(data: CampaignData, figures: Headline) -> None:
    evil = "<script>alert('x')</script>"
    page = render_report(
        data,
        figures.model_copy(
            update={
                "campaign": evil,
                "rejected_by_reason": {evil: 1},
                "sentiment": {evil: 2},
            }
        ),
    )
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 4  # title, heading, rejected row, sentiment chart


def test_masked_numbers_are_said_only_when_masked(data: CampaignData, figures: Headline) -> None:
    note = "Phone numbers are masked in the exported files."
    masked = figures.model_copy(update={"numbers_masked": True})
    assert note in render_report(data, masked)
    assert note not in render_report(data, figures.model_copy(update={"numbers_masked": False}))


def test_text_people_wrote_is_shown_printable_and_escaped(
    data: CampaignData, figures: Headline
) -> None:
    written = "\x1b[31mpaused\u202e <b>by</b> ops"
    standing = figures.standing.model_copy(
        update={"status_reason": written, "description": written}
    )
    page = render_report(data, figures.model_copy(update={"standing": standing}))
    assert "\x1b" not in page
    assert "\u202e" not in page
    assert page.count("paused &lt;b&gt;by&lt;/b&gt; ops") == 2
