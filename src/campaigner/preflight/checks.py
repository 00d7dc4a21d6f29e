"""The checks themselves: pure functions from Retell's and the store's answers to `Check`s.

Each says what it found and, when something is wrong, the fix in the words of someone who runs
campaigns in Retell's dashboard, not in the words of its API.
"""

from __future__ import annotations

from datetime import datetime

from campaigner.campaign import (
    DEFAULT_VARIANT,
    AgentVariant,
    CallWindow,
    CampaignConfig,
    format_duration,
)
from campaigner.dialer.webhook_inbox import RESULT_EVENTS
from campaigner.preflight.checklist import Check, Mark
from campaigner.retell import Agent, ApiKeyInfo, Concurrency, PhoneNumber

__all__ = [
    "agent_check",
    "api_key_check",
    "concurrency_check",
    "contacts_check",
    "number_check",
    "refused_key_check",
    "retries_check",
    "webhook_check",
    "window_check",
]

API_KEY = "API key"
# Retell's default when an agent names no webhook_events.
DEFAULT_WEBHOOK_EVENTS = ("call_started", "call_ended", "call_analyzed")


def api_key_check(info: ApiKeyInfo | None, base_url: str) -> Check:
    """The key was accepted; `info` is None where the endpoint has no `/get-api-key-info` (the
    simulator), and another read answered instead."""
    if info is None:
        return Check(topic=API_KEY, mark=Mark.PASSED, found=f"accepted by {base_url}")
    name = f" (key {info.api_key_name!r})" if info.api_key_name else ""
    return Check(
        topic=API_KEY,
        mark=Mark.PASSED,
        found=f"accepted by {base_url}: workspace {info.org_name!r}{name}",
    )


def refused_key_check(base_url: str, key_setting: str) -> Check:
    """Retell answered 401: the key is wrong, revoked or of another endpoint."""
    return Check(
        topic=API_KEY,
        mark=Mark.FAILED,
        found=f"refused by {base_url}",
        fix=(
            f"set {key_setting} to an API key of this workspace (Retell dashboard: Settings, "
            "API Keys); nothing else can be checked until Retell accepts it"
        ),
    )


def number_check(number: str, found: PhoneNumber | None, config: CampaignConfig) -> Check:
    """A `from_numbers` entry: in the workspace, and allowed to call the campaign's countries.

    campaigner names the agent on every call it places (`override_agent_id`, in direct and batch
    mode), which Retell accepts without an outbound agent bound to the number, so a number with
    none bound still places the campaign's calls.
    """
    topic = f"from number {number}"
    if found is None:
        return Check(
            topic=topic,
            mark=Mark.FAILED,
            found="is not a number of this Retell workspace",
            fix=(
                "buy or import it in the Retell dashboard (Phone Numbers), or take it out of "
                "from_numbers in the campaign file"
            ),
        )
    blocked = _countries_blocked(found, config)
    if blocked:
        return Check(
            topic=topic,
            mark=Mark.FAILED,
            found=f"may not call {', '.join(blocked)} (its allowed outbound countries)",
            fix=(
                f"add {', '.join(blocked)} to the number's allowed outbound countries in the "
                "Retell dashboard, or narrow numbers.allowed_countries in the campaign file"
            ),
        )
    bound = "" if found.outbound_agents else " (no outbound agent bound; campaigner names one)"
    return Check(topic=topic, mark=Mark.PASSED, found=f"in the workspace, can call out{bound}")


def _countries_blocked(number: PhoneNumber, config: CampaignConfig) -> list[str]:
    """The campaign's countries the number may not call. A campaign that accepts any country
    is judged by its default region, where its numbers without a +country code are."""
    allowed = number.allowed_outbound_country_list
    if not allowed:
        return []
    wanted = config.numbers.allowed_countries or [config.numbers.default_region]
    return [country for country in wanted if country not in allowed]


def agent_check(variant: AgentVariant, found: Agent | None, agent_exists: bool) -> Check:
    """A variant's agent at its version. `found` is the agent at that version (None if Retell
    has none); `agent_exists` tells an unknown version from an unknown agent."""
    topic = _variant_topic(variant)
    version = "" if variant.version is None else f" version {variant.version}"
    if found is None and not agent_exists:
        return Check(
            topic=topic,
            mark=Mark.FAILED,
            found=f"agent {variant.agent_id} is not in this Retell workspace",
            fix="copy the agent's id from the Retell dashboard (Agents) into the campaign file",
        )
    # Retell answers a numeric version with that version; an answer of another one means the
    # version asked for does not exist (a tag such as 'latest' names whichever version it is).
    numbered = isinstance(variant.version, int)
    if found is None or (numbered and found.version != variant.version):
        return Check(
            topic=topic,
            mark=Mark.FAILED,
            found=f"agent {variant.agent_id} has no{version}",
            fix=(
                "pick a version the agent has (Retell dashboard: the agent's versions), or leave "
                "version out to call with the agent as it is now"
            ),
        )
    name = f" ({found.agent_name})" if found.agent_name else ""
    return Check(topic=topic, mark=Mark.PASSED, found=f"{variant.agent_id}{name}{version}")


def webhook_check(variant: AgentVariant, agent: Agent) -> Check:
    """Where the agent sends its webhooks: results come by them only with `--webhook-port`
    and an agent whose events carry results; by polling in every other case."""
    topic = f"{_variant_topic(variant)} webhooks"
    if not agent.webhook_url:
        return Check(
            topic=topic,
            mark=Mark.INFO,
            found="the agent has no webhook URL: results come by polling Retell",
            fix=(
                "for results by webhook (`campaigner run --webhook-port`), set the agent's "
                "webhook URL to http://<this host>:<port>/retell/webhook"
            ),
        )
    events = agent.webhook_events or list(DEFAULT_WEBHOOK_EVENTS)
    if not RESULT_EVENTS.intersection(events):
        return Check(
            topic=topic,
            mark=Mark.WARNING,
            found=(
                f"sent to {agent.webhook_url}, but only {', '.join(events)}: none carries a "
                "call's result, so results come by polling Retell"
            ),
            fix="subscribe the agent to call_ended and call_analyzed in the Retell dashboard",
        )
    return Check(
        topic=topic, mark=Mark.INFO, found=f"{', '.join(events)} sent to {agent.webhook_url}"
    )


def _variant_topic(variant: AgentVariant) -> str:
    return "agent" if variant.name == DEFAULT_VARIANT else f"variant {variant.name}"


def concurrency_check(concurrency: Concurrency, config: CampaignConfig) -> Check:
    """The workspace's concurrency against the campaign's cap."""
    topic = "concurrency"
    capacity = concurrency.outbound_capacity
    if capacity is None:
        return Check(topic=topic, mark=Mark.INFO, found="Retell did not say its concurrency limit")
    reserved = concurrency.reserved_inbound_concurrency or 0
    found = (
        f"limit {concurrency.concurrency_limit}, {reserved} reserved for inbound calls, "
        f"{concurrency.current_concurrency or 0} calls in progress now"
    )
    if capacity == 0:
        return Check(
            topic=topic,
            mark=Mark.FAILED,
            found=f"{found}: no outbound call can start",
            fix="reserve fewer slots for inbound calls or buy concurrency (Retell dashboard)",
        )
    cap = config.caps.max_concurrency
    if cap is not None and cap > capacity:
        return Check(
            topic=topic,
            mark=Mark.WARNING,
            found=(
                f"{found}: the campaign's max_concurrency {cap} is more than the {capacity} "
                f"outbound slots, so at most {capacity} calls run at once"
            ),
            fix="buy concurrency in the Retell dashboard, or lower caps.max_concurrency",
        )
    at_once = capacity if cap is None else cap
    return Check(topic=topic, mark=Mark.PASSED, found=f"{found}: up to {at_once} calls at once")


def window_check(window: CallWindow) -> Check:
    """The calling window in plain words."""
    days = ", ".join(day.value.capitalize() for day in window.days)
    closed = [f"{len(window.holidays)} listed holidays"] if window.holidays else []
    if window.holiday_calendar:
        closed.append(f"{window.holiday_calendar} public holidays")
    not_on = f"; not on {' or '.join(closed)}" if closed else ""
    return Check(
        topic="calling window",
        mark=Mark.INFO,
        found=(
            f"{days}, {window.start:%H:%M} to {window.end:%H:%M} in each contact's own local "
            f"time{not_on}"
        ),
    )


def retries_check(config: CampaignConfig) -> Check:
    """The retry policy and attempt caps in plain words."""
    caps = config.caps
    rules = [
        f"{outcome.value.replace('_', ' ')} after {format_duration(rule.delay)}"
        + (f" (at most {rule.max_attempts} such attempts)" if rule.max_attempts else "")
        for outcome, rule in config.retry.root.items()
        if rule.retry
    ]
    again = f"; tried again: {', '.join(rules)}" if rules else "; nothing is tried again"
    return Check(
        topic="retries",
        mark=Mark.INFO,
        found=(
            f"at most {caps.max_attempts_per_contact} attempts per contact and "
            f"{caps.max_calls_per_number_per_24h} calls per number a day{again}"
        ),
    )


def contacts_check(callable_now: int, waiting: int, first_callable_at: datetime | None) -> Check:
    """How many stored contacts can be called now, how many wait (for a retry time or their
    window), and when the first can be called if none can now."""
    topic = "contacts"
    if callable_now == waiting == 0:
        return Check(
            topic=topic,
            mark=Mark.INFO,
            found="none left to call",
            fix="import contacts with `campaigner ingest` (or drop a file into the inbox)",
        )
    found = f"{callable_now} can be called now, {waiting} wait for a retry time or their window"
    if callable_now == 0 and first_callable_at is not None:
        found += f"; the first can be called at {first_callable_at:%Y-%m-%d %H:%M} UTC"
    elif callable_now == 0:
        found += "; none can be called within three weeks"
    return Check(topic=topic, mark=Mark.INFO, found=found)
