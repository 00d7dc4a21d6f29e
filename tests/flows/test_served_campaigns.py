"""`ServedCampaigns` under the Prefect harness: a campaign served, paused when its file goes, served
again when it comes back, and a change that fails tried again at the next look."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows.serve import ServedCampaigns
from prefect import get_client
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import ObjectNotFound
from prefect.runner import Runner

from campaigner.serving import CampaignScan
from tests.flows.conftest import CAMPAIGN, Workspace

pytestmark = pytest.mark.prefect

CAMPAIGN_FLOWS = ("run-campaign", "sync-results", "export-report")


async def deployment(name: str) -> DeploymentResponse:
    async with get_client() as client:
        return await client.read_deployment_by_name(name)


async def paused(campaign: str) -> list[bool]:
    return [(await deployment(f"{flow}/{campaign}")).paused for flow in CAMPAIGN_FLOWS]


async def test_a_campaign_gone_is_paused_and_served_again_when_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = ServedCampaigns(Runner(), tmp_path / "inbox")

    await served.follow(
        CampaignScan(frozenset({"harbour"}), ["campaigns/x.yaml: the file is empty"])
    )
    assert await paused("harbour") == [False, False, False]
    assert (tmp_path / "inbox" / "harbour").is_dir()
    assert "skipped: campaigns/x.yaml: the file is empty" in capsys.readouterr().err

    await served.follow(CampaignScan(frozenset()))
    assert await paused("harbour") == [True, True, True]

    await served.follow(CampaignScan(frozenset({"harbour"})))
    assert await paused("harbour") == [False, False, False]


async def test_a_campaign_that_cannot_be_served_yet_is_tried_again_at_the_next_look(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.write_text("a file where the inbox folder should be")
    served = ServedCampaigns(Runner(), inbox)

    await served.follow(CampaignScan(frozenset({"quay"})))
    assert "campaign quay: " in capsys.readouterr().err
    with pytest.raises(ObjectNotFound):
        await deployment("run-campaign/quay")

    inbox.unlink()
    await served.follow(CampaignScan(frozenset({"quay"})))
    assert await paused("quay") == [False, False, False]


async def test_a_deployment_deleted_by_hand_does_not_keep_its_campaign_from_being_paused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = ServedCampaigns(Runner(), tmp_path / "inbox")
    await served.follow(CampaignScan(frozenset({"pier"})))
    async with get_client() as client:
        await client.delete_deployment((await deployment("run-campaign/pier")).id)

    await served.follow(CampaignScan(frozenset()))
    assert capsys.readouterr().err == ""
    for flow in ("sync-results", "export-report"):
        assert (await deployment(f"{flow}/pier")).paused


async def test_a_new_or_changed_campaign_is_checked_against_retell_at_once(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    served = ServedCampaigns(Runner(), workspace.inbox)
    workspace.add_campaign("dock")
    unknown_number = CAMPAIGN.format(name="dock").replace("+14155550100", "+14155550199")
    (workspace.root / "campaigns" / "dock.yaml").write_text(unknown_number)

    await served.follow(CampaignScan(frozenset({"dock"}), changed=frozenset({"dock"})))
    problems = capsys.readouterr().err
    assert "✗ from number +14155550199: is not a number of this Retell workspace" in problems

    await served.follow(CampaignScan(frozenset({"dock"})))  # unchanged: not checked again
    reads = workspace.sim.stats()["requests_by_endpoint"]
    assert reads["GET /get-phone-number/{phone_number}"] == 1
