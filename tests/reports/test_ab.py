"""The A/B figures of a report against a comparison computed by hand.

Variant A: 40 contacts dialed, 30 connected, 20 successful. Variant B: 40, 20, 8.
Success: pooled (20 + 8) / 80 = 0.35; se = sqrt(0.35 * 0.65 * (1/40 + 1/40)) = 0.106654;
z(B vs A) = (0.2 - 0.5) / 0.106654 = -2.81284; p = erfc(2.81284 / sqrt 2) = 0.004911.
Connect: pooled 50/80 = 0.625; se = sqrt(0.625 * 0.375 * 0.05) = 0.108253;
z = (0.5 - 0.75) / 0.108253 = -2.30940; p = 0.020921.
Wilson 95 % of 20/40: centre 0.5, half 1.95996/1.096037 * sqrt(0.25/40 + 3.84146/6400) = 0.148005.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from campaigner import store
from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.reports import ReportFormat, export_report
from campaigner.reports.headline import Funnel
from campaigner.store import Contact, campaigns, imports
from campaigner.store.backfill import insert_attempt_columns
from campaigner.store.types import utcnow


def build_campaign(
    engine: Engine, arms: dict[str, tuple[int, int, int]], *, dial: bool = True
) -> None:
    """One attempt per contact; per variant (dialed, connected, successful) contacts. Without
    `dial`, the contacts are imported and not called yet."""
    config = CampaignConfig.model_validate(
        {
            "name": "ab",
            "variants": [{"name": name, "agent_id": f"agent_{name}", "weight": 1} for name in arms],
            "from_numbers": ["+14155550100"],
            "columns": {"phone": "phone"},
        }
    )
    outcomes: list[tuple[str, OutcomeClass]] = []
    for name, (dialed, connected, successful) in arms.items():
        outcomes += [(name, OutcomeClass.SUCCESS)] * successful
        outcomes += [(name, OutcomeClass.CONNECTED_UNSUCCESSFUL)] * (connected - successful)
        outcomes += [(name, OutcomeClass.NO_ANSWER)] * (dialed - connected)
    numbers = [f"+1212555{n:04d}" for n in range(len(outcomes))]
    now = utcnow()
    with Session(engine) as session:
        campaign = campaigns.upsert(session=session, config=config)
        assert campaign.id is not None
        source = imports.create_file(
            session=session, campaign_id=campaign.id, path="c.csv", sha256="0" * 64
        )
        assert source.id is not None
        count = len(outcomes)
        store.contacts.insert_columns(
            session=session,
            columns={
                "campaign_id": [campaign.id] * count,
                "source_file_id": [source.id] * count,
                "row_number": list(range(2, count + 2)),
                "phone_e164": numbers,
                "timezones": [["America/New_York"]] * count,
                "variant": [name for name, _ in outcomes],
            },
        )
        imports.set_counts(
            session=session,
            source_file_id=source.id,
            rows_read=count,
            accepted=count,
            rejected=0,
            duplicates=0,
            suppressed=0,
        )
        ids = session.exec(select(Contact.id).order_by(col(Contact.id))).all()
        if not dial:
            session.commit()
            return
        insert_attempt_columns(
            session=session,
            columns={
                "campaign_id": [campaign.id] * count,
                "contact_id": ids,
                "attempt_number": [1] * count,
                "idempotency_key": [f"k{n}" for n in range(count)],
                "retell_call_id": [f"call_{n}" for n in range(count)],
                "variant": [name for name, _ in outcomes],
                "agent_id": [f"agent_{name}" for name, _ in outcomes],
                "from_number": ["+14155550100"] * count,
                "to_number": numbers,
                "state": ["ended"] * count,
                "outcome_class": [outcome for _, outcome in outcomes],
                "created_at": [now] * count,
            },
        )
        session.commit()


def test_ab_figures_match_the_hand_computed_example(engine: Engine, tmp_path: Path) -> None:
    build_campaign(engine, {"A": (40, 30, 20), "B": (40, 20, 8)})
    ab_test = export_report(engine, "ab", tmp_path, [ReportFormat.JSON]).headline.ab_test
    a, b = ab_test.variants
    assert (a.variant, a.dialed, a.connected, a.successful) == ("A", 40, 30, 20)
    assert (b.variant, b.dialed, b.connected, b.successful) == ("B", 40, 20, 8)
    assert a.success_rate == 0.5
    assert a.success_rate_ci95 == pytest.approx((0.351995, 0.648005), abs=1e-6)
    success = next(c for c in ab_test.comparisons if c.metric == "success_rate")
    connect = next(c for c in ab_test.comparisons if c.metric == "connect_rate")
    assert (success.variant, success.control) == ("B", "A")
    assert success.enough_data is True
    assert success.difference == pytest.approx(-0.3)
    assert success.z == pytest.approx(-2.81284, abs=1e-5)
    assert success.p_value == pytest.approx(0.004911, abs=1e-6)
    assert success.significant is True
    assert connect.z == pytest.approx(-2.30940, abs=1e-5)
    assert connect.p_value == pytest.approx(0.020921, abs=1e-6)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ab_test"]["variants"][0]["success_rate_ci95"] == pytest.approx(
        [0.351995, 0.648005], abs=1e-6
    )


def test_small_arms_say_not_enough_data(engine: Engine, tmp_path: Path) -> None:
    build_campaign(engine, {"A": (10, 6, 4), "B": (12, 5, 2)})
    report = export_report(engine, "ab", tmp_path, [ReportFormat.HTML, ReportFormat.JSON])
    comparisons = report.headline.ab_test.comparisons
    assert [c.enough_data for c in comparisons] == [False, False]
    assert all(c.p_value is None for c in comparisons)
    assert "not enough data" in (tmp_path / "report.html").read_text()


def test_a_campaign_without_calls_still_gets_every_file(engine: Engine, tmp_path: Path) -> None:
    build_campaign(engine, {"A": (0, 0, 0)})
    report = export_report(engine, "ab", tmp_path)
    assert len(report.files) == 7
    assert report.headline.funnel == Funnel(contacts=0, dialed=0, connected=0, successful=0)
    assert "nothing to compare" in (tmp_path / "report.html").read_text()


def test_contacts_not_dialed_yet_are_reported_as_such(engine: Engine, tmp_path: Path) -> None:
    build_campaign(engine, {"A": (5, 0, 0), "B": (4, 0, 0)}, dial=False)
    report = export_report(engine, "ab", tmp_path)
    assert report.headline.results == {"not_dialed": 9}
    assert report.headline.funnel.dialed == 0
    contacts = (tmp_path / "contacts.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(contacts) == 1 + 9
