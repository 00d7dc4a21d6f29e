"""`run-campaign`, `sync-results` and `ingest-contacts` under the Prefect harness: the API key,
which failures are retried, and a sync that dials nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from flows.campaign import run_campaign, sync_results
from flows.ingest import ingest_contacts
from flows.resources import (
    RETELL_SECRET_BLOCK,
    RETELL_WEBHOOK_SECRET_BLOCK,
    retell_settings,
    retry_if_transient,
)
from prefect.blocks.system import Secret
from prefect.states import Failed

from campaigner.preflight import PreflightFailed
from campaigner.retell import AuthenticationFailed, ServerError, TransportError
from campaigner.settings import SettingsError, get_settings
from tests.flows.conftest import Workspace, contacts_csv
from tests.flows.test_watch_inbox import artifacts_by_key

pytestmark = pytest.mark.prefect


@pytest.fixture
async def secret_block(workspace: Workspace) -> AsyncIterator[None]:
    """The simulator's key in the Secret block, and a key it refuses in the environment."""
    await Secret(value=workspace.sim.api_key).asave(RETELL_SECRET_BLOCK, overwrite=True)
    yield
    await Secret.adelete(RETELL_SECRET_BLOCK)


def ingest(workspace: Workspace, campaign: str, count: int) -> None:
    workspace.add_campaign(campaign)
    path = workspace.root / f"{campaign}.csv"
    path.write_text(contacts_csv(count))
    summary = ingest_contacts(campaign, path)
    assert summary.accepted == count


@pytest.mark.usefixtures("secret_block")
async def test_the_api_key_comes_from_the_secret_block_when_there_is_one(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_refused_by_the_simulator")
    ingest(workspace, "secret", 3)
    summary = await run_campaign("secret")
    assert summary.calls_placed == 3


async def test_the_webhook_key_comes_from_its_secret_block_else_the_api_key(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETELL_WEBHOOK_API_KEY", raising=False)
    get_settings.cache_clear()
    without_block = await retell_settings()
    webhook_key = "key_webhook_badge_secret"
    await Secret(value=webhook_key).asave(RETELL_WEBHOOK_SECRET_BLOCK, overwrite=True)
    try:
        with_block = await retell_settings()
    finally:
        await Secret.adelete(RETELL_WEBHOOK_SECRET_BLOCK)
    assert without_block.resolved_webhook_api_key().get_secret_value() == workspace.sim.api_key
    assert with_block.resolved_webhook_api_key().get_secret_value() == webhook_key
    # API calls keep the API key.
    assert with_block.resolved_api_key().get_secret_value() == workspace.sim.api_key


async def test_a_refused_key_fails_the_run_with_the_checklist_and_is_never_shown(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = "key_refused_by_the_simulator"
    monkeypatch.setenv("RETELL_API_KEY", refused)
    ingest(workspace, "refused", 2)
    state = await run_campaign.with_options(retries=0)("refused", return_state=True)
    assert state.is_failed()
    with pytest.raises(PreflightFailed) as raised:
        await state.aresult()
    assert "✗ API key: refused by" in str(raised.value)
    assert "fix: set the 'retell-api-key' Secret block (or, without one, RETELL_API_KEY)" in str(
        raised.value
    )
    assert refused not in str(raised.value)
    (artifact,) = artifacts_by_key("campaign-refused-preflight").values()
    assert artifact["data"].startswith("# Preflight of refused: 1 problem to fix")
    assert workspace.sim.stats()["calls_created"] == 0


async def test_a_non_ascii_key_in_the_secret_block_fails_the_run_naming_the_block_not_the_key(
    workspace: Workspace,
) -> None:
    key = "key_pasted_with_a_smart_quote’"
    await Secret(value=key).asave(RETELL_SECRET_BLOCK, overwrite=True)
    try:
        ingest(workspace, "pasted", 1)
        state = await run_campaign.with_options(retries=0)("pasted", return_state=True)
    finally:
        await Secret.adelete(RETELL_SECRET_BLOCK)
    with pytest.raises(SettingsError) as raised:
        await state.aresult()
    assert str(raised.value).startswith("the 'retell-api-key' Secret block is not printable ASCII")
    assert key not in str(raised.value)
    assert workspace.sim.stats()["calls_created"] == 0


async def test_sync_results_dials_nobody(workspace: Workspace) -> None:
    ingest(workspace, "quiet", 4)
    summary = await sync_results("quiet")
    assert summary.calls_placed == 0
    assert summary.counts["contacts_by_status"] == {"pending": 4}
    assert workspace.sim.stats()["calls_created"] == 0


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ServerError(503, "overloaded"), True),
        (TransportError("connection reset"), True),
        (AuthenticationFailed(401, "invalid key"), False),
        (ValueError("a bug"), False),
    ],
)
async def test_only_transient_failures_are_retried(error: Exception, retried: bool) -> None:
    assert await retry_if_transient(None, None, Failed(data=error)) is retried
