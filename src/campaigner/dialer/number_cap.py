"""The cap on calls to one number in 24 hours across campaigns (`max_calls_per_number_per_24h`).

Checked on the contacts a claim leased, for direct and batch mode alike: those over the cap are
given back, due again an hour later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from campaigner.campaign import CampaignConfig
from campaigner.store import Contact, Engine, attempts, claims, transaction

__all__ = ["release_over_daily_cap"]

# A number that had its calls for the day is looked at again this much later.
_RETRY_OVER_CAP_AFTER = timedelta(hours=1)


def release_over_daily_cap(
    engine: Engine,
    config: CampaignConfig,
    contacts: list[Contact],
    *,
    lease_owner: str,
    now: datetime,
) -> list[Contact]:
    """Give back the claimed contacts whose number had its day's share of calls; returns the
    others."""
    if not contacts:
        return contacts
    cap = config.caps.max_calls_per_number_per_24h
    with transaction(engine) as session:
        recent = attempts.calls_to_number_since(
            session=session,
            numbers=[contact.phone_e164 for contact in contacts],
            since=now - timedelta(hours=24),
        )
        over = [contact for contact in contacts if recent.get(contact.phone_e164, 0) >= cap]
        if over:
            claims.release(
                session=session,
                contact_ids=[contact.id for contact in over if contact.id is not None],
                lease_owner=lease_owner,
                next_attempt_at=now + _RETRY_OVER_CAP_AFTER,
                now=now,
            )
    return [contact for contact in contacts if contact not in over]
