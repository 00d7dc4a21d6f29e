"""What one call carries, the same for a direct create and for a batch task: its agent variant
and its metadata."""

from __future__ import annotations

import logging
from typing import Any

from campaigner.campaign import AgentVariant, CampaignConfig
from campaigner.store import CallAttempt, Contact

__all__ = ["call_metadata", "variant_for"]

log = logging.getLogger(__name__)


def variant_for(config: CampaignConfig, name: str | None) -> AgentVariant:
    """The campaign's variant of this name; the first one if the file no longer has it."""
    variants = config.agent_variants()
    for variant in variants:
        if variant.name == name:
            return variant
    if name is not None:
        log.warning("variant %r is not in campaign %s any more", name, config.name)
    return variants[0]


def call_metadata(config: CampaignConfig, contact: Contact, attempt: CallAttempt) -> dict[str, Any]:
    """`{campaign, contact, attempt, attempt_number}` plus the contact's mapped columns: every
    call, list-calls item and webhook maps back to its attempt row through it."""
    return {
        **contact.extra_metadata,
        "campaign": config.name,
        "contact": str(contact.id),
        "attempt": str(attempt.id),
        "attempt_number": str(attempt.attempt_number),
    }
