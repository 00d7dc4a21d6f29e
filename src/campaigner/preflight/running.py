"""Running the checks against a workspace, and the gate before a campaign's first dial.

    checklist = await check_and_remember(config, client, engine, SystemClock())
    await checked_before_dial(config, client, engine, SystemClock())  # PreflightFailed

A pass is remembered in the store per version of the setup (`setup_fingerprint`): every entry
point (the command line, the flows, `campaigner serve`) opens the store, and a pass there holds
for every run and every machine that dials with that store, between scheduled runs and across
restarts, which a file or a process's memory would not.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

from campaigner import store
from campaigner.campaign import AgentVariant, CampaignConfig
from campaigner.dialer.clock import Clock
from campaigner.dialer.windows import earliest_callable_at, is_callable_at
from campaigner.errors import CampaignerError
from campaigner.preflight.checklist import Check, Checklist, Mark
from campaigner.preflight.checks import (
    agent_check,
    api_key_check,
    concurrency_check,
    contacts_check,
    number_check,
    refused_key_check,
    retries_check,
    webhook_check,
    window_check,
)
from campaigner.preflight.rendering import checklist_lines
from campaigner.retell import (
    AuthenticationFailed,
    NotFound,
    RetellClient,
)
from campaigner.store import Engine, claims, preflight_passes, session_factory

__all__ = [
    "PASS_MAX_AGE",
    "PreflightFailed",
    "check_and_remember",
    "checked_before_dial",
    "run_checks",
    "setup_fingerprint",
]

PASS_MAX_AGE = timedelta(hours=24)
"""How long a pass holds. A workspace changes without the campaign file changing (a number
released, an agent deleted): a scheduled campaign is checked again once a day."""

DEFAULT_KEY_SETTING = "RETELL_API_KEY"

T = TypeVar("T")


class PreflightFailed(CampaignerError):
    """A blocker failed: the campaign may not dial. The message is the checklist, line by line."""

    def __init__(self, checklist: Checklist) -> None:
        super().__init__("\n".join(checklist_lines(checklist)))
        self.checklist = checklist


async def run_checks(
    config: CampaignConfig,
    client: RetellClient,
    engine: Engine,
    clock: Clock,
    *,
    key_setting: str = DEFAULT_KEY_SETTING,
) -> Checklist:
    """Every check of the campaign against the client's workspace and the store's contacts.

    Retell's refusals of the checks' reads are checks that fail; its failures (5xx, 429, the
    network) raise as from any other read, since they say nothing about the setup.
    """
    now = clock.now()
    try:
        info = await _unless_missing(client.get_api_key_info())
        concurrency = await client.get_concurrency()
    except AuthenticationFailed:
        # Every other read would be refused too: the key is the one thing to fix.
        checks = [refused_key_check(client.base_url, key_setting)]
    else:
        numbers = await asyncio.gather(
            *(_unless_missing(client.get_phone_number(n)) for n in config.from_numbers)
        )
        agent_checks = await asyncio.gather(
            *(_agent_checks(client, variant) for variant in config.agent_variants())
        )
        checks = [
            api_key_check(info, client.base_url),
            *(
                number_check(number, found, config)
                for number, found in zip(config.from_numbers, numbers, strict=True)
            ),
            *(check for variant_checks in agent_checks for check in variant_checks),
            concurrency_check(concurrency, config),
        ]
    checks += [window_check(config.window), retries_check(config), _contacts(config, engine, now)]
    return Checklist(campaign=config.name, base_url=client.base_url, checked_at=now, checks=checks)


async def _unless_missing(read: Awaitable[T]) -> T | None:
    """Retell's answer, or None where it has no such thing (a number, an agent, a version, or
    the endpoint itself: the simulator has no `/get-api-key-info`, and the concurrency read that
    follows it then judges the key)."""
    try:
        return await read
    except NotFound:
        return None


async def _agent_checks(client: RetellClient, variant: AgentVariant) -> list[Check]:
    """The variant's agent at its version, and where that version sends its webhooks."""
    found = await _unless_missing(client.get_agent(variant.agent_id, version=variant.version))
    # Only asked when the version is not found: is it the version or the whole agent?
    exists = found is not None or (
        variant.version is not None
        and await _unless_missing(client.get_agent(variant.agent_id)) is not None
    )
    check = agent_check(variant, found, exists)
    if found is None or check.mark is not Mark.PASSED:
        return [check]
    return [check, webhook_check(variant, found)]


def _contacts(config: CampaignConfig, engine: Engine, now: datetime) -> Check:
    """The campaign's stored contacts: callable now (due, and inside the window in every zone
    they may be in), waiting, and the first callable time when none is callable now."""
    with session_factory(engine)() as session:
        campaign = store.campaigns.get_by_name(session=session, name=config.name)
        if campaign is None or campaign.id is None:
            return contacts_check(0, 0, None)
        by_zone_set = claims.due_by_zone_set(session=session, campaign_id=campaign.id, now=now)
        next_due = claims.next_due_time(session=session, campaign_id=campaign.id)
    callable_now = sum(
        counts.due
        for zones, counts in by_zone_set.items()
        if is_callable_at(config.window, zones, now)
    )
    waiting = sum(counts.due + counts.waiting for counts in by_zone_set.values()) - callable_now
    first = (
        earliest_callable_at(config.window, by_zone_set, max(now, next_due)) if next_due else None
    )
    return contacts_check(callable_now, waiting, first)


def setup_fingerprint(config: CampaignConfig, client: RetellClient) -> str:
    """One version of a campaign's setup: its config, the endpoint and the key it is checked
    with. A change to any of them is a new version, checked afresh."""
    parts = (config.config_sha256(), client.base_url, client.key_fingerprint)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def check_and_remember(
    config: CampaignConfig,
    client: RetellClient,
    engine: Engine,
    clock: Clock,
    *,
    key_setting: str = DEFAULT_KEY_SETTING,
) -> Checklist:
    """`run_checks`, and a pass remembered, so that runs of the same setup skip their checks
    for `PASS_MAX_AGE`."""
    checklist = await run_checks(config, client, engine, clock, key_setting=key_setting)
    if checklist.ok:
        with store.transaction(engine) as session:
            preflight_passes.record(
                session=session,
                fingerprint=setup_fingerprint(config, client),
                campaign=checklist.campaign,
                checked_at=checklist.checked_at,
            )
    return checklist


async def checked_before_dial(
    config: CampaignConfig,
    client: RetellClient,
    engine: Engine,
    clock: Clock,
    *,
    recheck: bool = False,
    key_setting: str = DEFAULT_KEY_SETTING,
) -> None:
    """The checks a run makes before its first dial, unless this version of the setup passed
    within `PASS_MAX_AGE` (and `recheck` is False). Raises `PreflightFailed` on a blocker."""
    if not recheck:
        with session_factory(engine)() as session:
            passed = preflight_passes.passed_at(
                session=session, fingerprint=setup_fingerprint(config, client)
            )
        if passed is not None and clock.now() - passed < PASS_MAX_AGE:
            return
    checklist = await check_and_remember(config, client, engine, clock, key_setting=key_setting)
    if not checklist.ok:
        raise PreflightFailed(checklist)
