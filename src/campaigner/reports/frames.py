"""A campaign's store data as pandas frames, with the per-contact and per-attempt facts reports use.

    data = load_campaign_data(engine, "spring-recall")
    data.contacts["result"].value_counts()

Everything is read in bulk (`campaigner.store.reading`), then derived column by column:

- attempts get `placed` (Retell has a call for it), `connected` (someone answered and the
  conversation ran: success, connected without success, callback requested, do-not-call request),
  `successful`, `placed_at` (when campaigner sent the create: `sent_at`, else `created_at`),
  `local_hour` (the hour of `placed_at` in the contact's time zone; the first zone of an ambiguous
  number) and `zone` (that zone).
- contacts get `attempts` (attempt rows), `dialed` / `connected` / `successful` (any attempt was),
  `total_duration_ms`, `cost_cents` (sums over attempts), the `deciding_attempt_id` whose analysis
  describes the contact (the last connected attempt, else the last attempt), and `result`: the
  final outcome, else the latest attempt's outcome, else `suppressed` / `cancelled` / `not_dialed`
  / `in_progress`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import ValidationError

from campaigner.campaign import DEFAULT_VARIANT, CampaignConfig
from campaigner.outcomes import CONNECTED_OUTCOMES, OutcomeClass
from campaigner.reports.errors import ReportError, UnknownCampaign
from campaigner.store import CampaignStatus, ContactStatus, Engine, Session, campaigns
from campaigner.store.reading import (
    attempt_frames,
    contact_frames,
    input_row_count,
    rejected_frames,
    snapshot,
    transcript_frames,
)

__all__ = ["CampaignData", "load_campaign_data", "lookup"]

NOT_DIALED = "not_dialed"
IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class CampaignData:
    """Everything a report of one campaign is made from."""

    name: str
    config_sha256: str
    config: CampaignConfig | None
    """The campaign file as last run; None when stored by a version whose shape this one does not
    read."""
    status: CampaignStatus
    status_reason: str | None
    variants: tuple[str, ...]
    """Variant names in the campaign file's order (`default` for a single agent)."""
    phone_headers: tuple[str, ...]
    """The contacts files' phone columns, as the campaign file names them (`columns.phone`: one
    header, or several tried in order)."""
    mask_numbers: bool
    input_rows: int
    contacts: pd.DataFrame
    attempts: pd.DataFrame
    rejected: pd.DataFrame
    transcripts: pd.DataFrame | None
    """`attempt_id` and `transcript` of each attempt with one, when the campaign fetches them
    (`fetch_transcripts: true`); else None."""


def load_campaign_data(engine: Engine, campaign_name: str) -> CampaignData:
    """Read a campaign's contacts, attempts and rejected rows; `UnknownCampaign` if none has
    that name."""
    with Session(engine) as session:
        campaign = campaigns.get_by_name(session=session, name=campaign_name)
    if campaign is None or campaign.id is None:
        raise UnknownCampaign(f"no campaign named {campaign_name!r}")
    with snapshot(engine) as connection:
        contacts = pd.concat(contact_frames(connection=connection, campaign_id=campaign.id))
        attempts = pd.concat(attempt_frames(connection=connection, campaign_id=campaign.id))
        rejected = pd.concat(rejected_frames(connection=connection, campaign_id=campaign.id))
        input_rows = input_row_count(connection=connection, campaign_id=campaign.id)
        config = _campaign_config(campaign.config)
        transcripts = (
            pd.concat(transcript_frames(connection=connection, campaign_id=campaign.id))
            if config is not None and config.fetch_transcripts
            else None
        )
    contacts = _typed_contacts(contacts)
    attempts = _with_attempt_facts(_typed_attempts(attempts), contacts)
    _check_outcomes(contacts["final_outcome"], "contacts' final outcomes")
    _check_outcomes(attempts["outcome_class"], "attempts' outcomes")
    stored = campaign.config
    return CampaignData(
        name=campaign.name,
        config_sha256=campaign.config_sha256,
        config=config,
        status=campaign.status,
        status_reason=campaign.status_reason,
        variants=_variant_names(stored),
        phone_headers=_phone_headers(stored["columns"]["phone"]),
        mask_numbers=bool(stored.get("mask_numbers_in_exports", False)),
        input_rows=input_rows,
        contacts=_with_contact_facts(contacts, attempts),
        attempts=attempts,
        rejected=rejected.reset_index(drop=True),
        transcripts=None if transcripts is None else transcripts.reset_index(drop=True),
    )


def lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """`values` (indexed by unique keys) at each of `keys`, missing where absent, on the index of
    `keys`. (`Series.map` fails on an empty series of timestamps.)"""
    found = values.reindex(pd.Index(keys))
    found.index = keys.index
    return found


def _check_outcomes(outcomes: pd.Series, what: str) -> None:
    """A `ReportError` when the store holds an outcome class this campaigner does not know (a newer
    version's, say): a report would count it as nothing, or as the wrong thing."""
    unknown = set(outcomes.dropna().unique()) - _KNOWN_OUTCOMES
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise ReportError(f"the {what} include {names}, which is not an outcome class")


_KNOWN_OUTCOMES = frozenset(outcome.value for outcome in OutcomeClass)


def _campaign_config(config: dict[str, Any]) -> CampaignConfig | None:
    try:
        return CampaignConfig.model_validate(config)
    except ValidationError:
        return None  # written by another version: the report still counts, without the settings


def _variant_names(config: dict[str, Any]) -> tuple[str, ...]:
    variants = config.get("variants") or []
    return tuple(str(variant["name"]) for variant in variants) or (DEFAULT_VARIANT,)


def _text(values: pd.Series) -> pd.Series:
    """Store enums and text as pandas strings (missing values stay missing)."""
    return values.astype("string")


def _typed_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    contacts = contacts.reset_index(drop=True)
    for name in ("status", "final_outcome", "variant", "timezone_key", "phone_e164"):
        contacts[name] = _text(contacts[name])
    contacts["on_dnc_list"] = contacts["on_dnc_list"].astype(bool)
    contacts["next_attempt_at"] = pd.to_datetime(contacts["next_attempt_at"], utc=True)
    contacts["contact_id"] = contacts["contact_id"].astype("int64")
    return contacts


def _typed_attempts(attempts: pd.DataFrame) -> pd.DataFrame:
    attempts = attempts.reset_index(drop=True)
    for name in ("state", "outcome_class", "variant", "user_sentiment", "retell_call_id"):
        attempts[name] = _text(attempts[name])
    for name in ("created_at", "sent_at", "start_timestamp", "end_timestamp"):
        attempts[name] = pd.to_datetime(attempts[name], utc=True).dt.as_unit("us")
    for name in ("duration_ms", "cost_cents", "latency_e2e_p50_ms", "latency_e2e_p90_ms"):
        attempts[name] = pd.to_numeric(attempts[name]).astype("float64")
    for name in ("call_successful", "in_voicemail"):
        attempts[name] = attempts[name].astype("boolean")
    attempts["contact_id"] = attempts["contact_id"].astype("int64")
    return attempts


def _with_attempt_facts(attempts: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    outcome = attempts["outcome_class"]
    attempts["placed"] = attempts["retell_call_id"].notna().to_numpy()
    attempts["connected"] = outcome.isin(list(CONNECTED_OUTCOMES)).fillna(False).to_numpy()
    attempts["successful"] = (outcome == OutcomeClass.SUCCESS).fillna(False).to_numpy()
    zones = contacts.set_index("contact_id")["timezone_key"].str.split("|").str[0]
    attempts["zone"] = lookup(attempts["contact_id"], zones).astype("string")
    attempts["placed_at"] = _placed_at(attempts)
    attempts["local_hour"] = _local_hours(attempts["placed_at"], attempts["zone"])
    return attempts


def _placed_at(attempts: pd.DataFrame) -> pd.Series:
    """When each call was placed, on campaigner's clock: `sent_at` (Retell accepted the create),
    else `created_at` (the row written just before the request; a create never answered).

    Not Retell's `start_timestamp`, nor `key_first_sent_at` (Retell's clock, from its Date
    headers): the simulator runs both on a clock it speeds up, so at 60x real time a day's calls
    would spread over every hour of the recipients' day."""
    placed: pd.Series = attempts["sent_at"].fillna(attempts["created_at"])
    return placed


def _local_hours(placed_at: pd.Series, zones: pd.Series) -> pd.Series:
    """The hour (0-23) at which each call was placed, on the clock of the contact's zone."""
    hours = pd.Series(pd.NA, index=placed_at.index, dtype="Int64")
    for zone, index in zones.groupby(zones, dropna=True).groups.items():
        hours[index] = placed_at[index].dt.tz_convert(str(zone)).dt.hour
    return hours


def _with_contact_facts(contacts: pd.DataFrame, attempts: pd.DataFrame) -> pd.DataFrame:
    by_contact = attempts.groupby("contact_id", sort=False)
    totals = by_contact.agg(
        attempts=("attempt_id", "size"),
        dialed=("placed", "any"),
        connected=("connected", "any"),
        successful=("successful", "any"),
        total_duration_ms=("duration_ms", "sum"),
        cost_cents=("cost_cents", "sum"),
    )
    last = attempts.drop_duplicates("contact_id", keep="last").set_index("contact_id")
    last_connected = (
        attempts[attempts["connected"]].drop_duplicates("contact_id", keep="last")
    ).set_index("contact_id")
    deciding = last["attempt_id"].copy()
    deciding.loc[last_connected.index] = last_connected["attempt_id"]
    ids = contacts["contact_id"]
    contacts = contacts.copy()
    for name in ("attempts", "total_duration_ms", "cost_cents"):
        contacts[name] = lookup(ids, totals[name]).fillna(0)
    contacts["attempts"] = contacts["attempts"].astype("int64")
    for name in ("dialed", "connected", "successful"):
        contacts[name] = lookup(ids, totals[name]).fillna(False).astype(bool)
    contacts["deciding_attempt_id"] = lookup(ids, deciding).astype("Int64")
    contacts["result"] = _results(contacts, lookup(ids, last["outcome_class"]).astype("string"))
    return contacts


def _results(contacts: pd.DataFrame, latest_outcome: pd.Series) -> pd.Series:
    """Each contact's result: what the funnel and the outcome charts count it as."""
    status = contacts["status"]
    fallback = pd.Series(NOT_DIALED, index=contacts.index, dtype="string")
    fallback = fallback.mask(contacts["attempts"] > 0, IN_PROGRESS)
    fallback = fallback.mask(status == ContactStatus.CANCELLED, ContactStatus.CANCELLED.value)
    never_dialed = contacts["attempts"] == 0
    suppressed = (status == ContactStatus.SUPPRESSED) | (never_dialed & contacts["on_dnc_list"])
    fallback = fallback.mask(suppressed, ContactStatus.SUPPRESSED.value)
    return contacts["final_outcome"].fillna(latest_outcome).fillna(fallback).astype("string")


def _phone_headers(phone: object) -> tuple[str, ...]:
    """`columns.phone` as stored: one header, or a list of them."""
    return tuple(str(header) for header in phone) if isinstance(phone, list) else (str(phone),)
