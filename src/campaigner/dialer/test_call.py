"""One call to the user's own phone with a real contact's details (`campaigner test-call`): the
way to hear the agent, as a contact will, before dialing a list.

The call carries the contact's dynamic variables, its A/B variant's agent and the campaign's
first caller ID. It is outside the campaign: no attempt is written and nothing is counted, and
its metadata names no campaign (`TEST_CALL_METADATA_KEY` instead), so no run syncs it and
`campaigner audit` does not take it for one of the campaign's calls.
"""

from __future__ import annotations

import uuid

from campaigner.campaign import CampaignConfig
from campaigner.dialer.calls import variant_for
from campaigner.dialer.clock import Clock
from campaigner.retell import Call, RetellClient
from campaigner.store import Contact

__all__ = ["TEST_CALL_METADATA_KEY", "place_test_call", "wait_for_end"]

TEST_CALL_METADATA_KEY = "campaigner_test_call"
"""The metadata key a test call carries, its value the campaign's name."""


async def place_test_call(
    *, config: CampaignConfig, client: RetellClient, contact: Contact, to_number: str
) -> Call:
    """Call `to_number` as the campaign would call `contact`."""
    variant = variant_for(config, contact.variant)
    return await client.create_phone_call(
        from_number=config.from_numbers[0],
        to_number=to_number,
        # A new key: a test call is never the resend of another.
        idempotency_key=f"campaigner-test-{uuid.uuid4().hex}",
        override_agent_id=variant.agent_id,
        override_agent_version=variant.version,
        metadata={TEST_CALL_METADATA_KEY: config.name, "contact": str(contact.id)},
        dynamic_variables=contact.dynamic_variables,
    )


async def wait_for_end(
    *, client: RetellClient, clock: Clock, call_id: str, timeout: float, poll: float = 2.0
) -> Call | None:
    """The call once it has ended and its post-call analysis came (or it ended without a
    conversation); None if that takes longer than `timeout` seconds."""
    deadline = clock.monotonic() + timeout
    while True:
        call = await client.get_call(call_id)
        if call.is_terminal and (call.call_status != "ended" or call.call_analysis is not None):
            return call
        if clock.monotonic() >= deadline:
            return None
        await clock.sleep(poll)
