"""The demo workspace a fresh simulator starts with (unless ``empty``).

A dental-appointment confirmation prompt, two agent variants for A/B tests (each with its own Retell
LLM, because the begin message lives on the LLM), and two outbound numbers bound to variant A. The
ids are fixed so campaigns/demo.yaml can name them.
"""

from __future__ import annotations

from typing import Any

from retell_sim.workspace import Workspace

__all__ = [
    "DEMO_AGENT_B_ID",
    "DEMO_AGENT_ID",
    "DEMO_FROM_NUMBERS",
    "DEMO_LLM_B_ID",
    "DEMO_LLM_ID",
    "DEMO_SUCCESS_RATES",
    "seed_demo_workspace",
]

DEMO_LLM_ID = "llm_campaigner_demo"
DEMO_LLM_B_ID = "llm_campaigner_demo_b"
DEMO_AGENT_ID = "agent_campaigner_demo"
DEMO_AGENT_B_ID = "agent_campaigner_demo_b"
DEMO_FROM_NUMBERS = ("+14155550100", "+14155550101")
# Variant B opens differently and converts a little worse, so an A/B report has something to find.
DEMO_SUCCESS_RATES = {DEMO_AGENT_ID: 0.60, DEMO_AGENT_B_ID: 0.52}

_PROMPT = (
    "You are Ava, a friendly assistant for Bright Smile Dental. You are calling {{first_name}} to "
    "confirm their dental appointment on {{appointment_date}}. Confirm the appointment, offer "
    "to reschedule if it no longer works, and note a preferred callback time if they are busy. "
    "If they ask not to be called again, apologise, agree, and end the call. Keep it short."
)
_ANALYSIS: list[dict[str, Any]] = [
    {
        "type": "boolean",
        "name": "appointment_confirmed",
        "description": "Did the patient confirm the appointment?",
    },
    {
        "type": "boolean",
        "name": "reschedule_requested",
        "description": "Did the patient ask to reschedule?",
    },
    {
        "type": "string",
        "name": "preferred_callback_time",
        "description": "When the patient prefers a callback, if they said.",
    },
    {
        "type": "enum",
        "name": "interest_level",
        "description": "How engaged the patient was.",
        "choices": ["high", "medium", "low"],
    },
]
_VARIANTS = (
    (
        DEMO_LLM_ID,
        DEMO_AGENT_ID,
        "Appointment confirmation (A)",
        "11labs-Myra",
        "Hi {{first_name}}, this is Ava from Bright Smile Dental, calling to confirm your "
        "appointment on {{appointment_date}}. Does that still work for you?",
    ),
    (
        DEMO_LLM_B_ID,
        DEMO_AGENT_B_ID,
        "Appointment confirmation (B)",
        "11labs-Adrian",
        "Hello {{first_name}}! Ava here from Bright Smile Dental with a quick reminder about your "
        "visit on {{appointment_date}}. Can we count on seeing you?",
    ),
)


def seed_demo_workspace(workspace: Workspace) -> None:
    """Create the demo LLMs, the two agent variants and the two outbound numbers."""
    for llm_id, agent_id, name, voice, opening in _VARIANTS:
        workspace.create_llm(
            {
                "general_prompt": _PROMPT,
                "begin_message": opening,
                "default_dynamic_variables": {
                    "first_name": "there",
                    "appointment_date": "your scheduled date",
                },
                "model": "gpt-4.1",
                "start_speaker": "agent",
            },
            llm_id=llm_id,
        )
        workspace.create_agent(
            {
                "agent_name": name,
                "response_engine": {"type": "retell-llm", "llm_id": llm_id},
                "voice_id": voice,
                "post_call_analysis_data": _ANALYSIS,
                "enable_dnc_detection": True,
            },
            agent_id=agent_id,
        )
    for number in DEMO_FROM_NUMBERS:
        workspace.create_number(
            {
                "phone_number": number,
                "nickname": "campaigner demo",
                "outbound_agents": [{"agent_id": DEMO_AGENT_ID, "weight": 1}],
            }
        )
