"""What a finished call says: transcript, analysis, cost and latency.

The texts are plausible, not clever: the agent opens with its LLM's begin message (dynamic
variables filled in, e.g. "Hi Maria, ..."), the user answers in a way that matches the planned
outcome, and the post-call analysis agrees with both. Custom analysis fields get a value of their
declared type.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from retell_sim.outcomes import Outcome

__all__ = [
    "build_analysis",
    "build_cost",
    "build_latency",
    "build_transcript",
    "fill_variables",
    "not_connected_analysis",
]

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_DEFAULT_OPENING = "Hello, this is an automated assistant calling. Do you have a minute?"
_CALLBACK_TIMES = ("tomorrow morning", "tomorrow afternoon", "Friday after 3pm", "next Monday")

# Cents per second: voice engine, LLM and telephony, in the shape of Retell's call_cost.
_PRODUCT_PRICES = (
    ("elevenlabs_tts", 0.1167),
    ("gpt_4_1", 0.075),
    ("retell_telephony", 0.025),
)


def fill_variables(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` with the variable's value; unknown names stay as written."""
    return _VARIABLE.sub(lambda match: variables.get(match.group(1), match.group(0)), text)


def _script(outcome: Outcome, opening: str, variables: Mapping[str, str]) -> list[tuple[str, str]]:
    name = variables.get("first_name", "")
    date = variables.get("appointment_date", "")
    when = f" on {date}" if date else ""
    reason = outcome.reason
    if reason == "voicemail_reached":
        return [
            ("user", "Hi, you've reached my voicemail. Please leave a message after the tone."),
            ("agent", f"{opening} Please call us back when you can. Thank you, goodbye."),
        ]
    if reason == "user_requested_dnc":
        return [
            ("agent", opening),
            ("user", "Please take my number off your list and don't call me again."),
            ("agent", "Understood, we won't call this number again. Sorry to bother you, goodbye."),
        ]
    if reason == "user_requested_callback":
        return [
            ("agent", opening),
            ("user", "I'm busy right now. Can you call me back later?"),
            ("agent", "Of course. When would be a better time?"),
            ("user", "Tomorrow afternoon works."),
            ("agent", "Noted, we'll call you back then. Goodbye."),
        ]
    if outcome.successful:
        thanks = f"Thank you{', ' + name if name else ''}."
        return [
            ("agent", opening),
            ("user", "Yes, that works for me."),
            ("agent", f"Great, your appointment{when} is confirmed. {thanks} Anything else?"),
            ("user", "No, that's all. Thanks, bye."),
            ("agent", "Have a great day, goodbye!"),
        ]
    return [
        ("agent", opening),
        ("user", "Actually, I'm not sure that still works for me."),
        ("agent", "I understand. Would you like to pick another time?"),
        ("user", "Not right now, thanks."),
        ("agent", "No problem. Have a good day, goodbye."),
    ]


def build_transcript(
    outcome: Outcome, begin_message: str | None, variables: Mapping[str, str], duration_ms: int
) -> tuple[str, list[dict[str, Any]]]:
    """The transcript text and ``transcript_object`` utterances spread over ``duration_ms``."""
    opening = fill_variables(begin_message or _DEFAULT_OPENING, variables)
    script = _script(outcome, opening, variables)
    words_total = sum(len(text.split()) for _, text in script) or 1
    seconds_per_word = duration_ms / 1000.0 / words_total
    clock = 0.0
    utterances: list[dict[str, Any]] = []
    for role, text in script:
        words = []
        for word in text.split():
            words.append(
                {
                    "word": word,
                    "start": round(clock, 3),
                    "end": round(clock + 0.8 * seconds_per_word, 3),
                }
            )
            clock += seconds_per_word
        utterances.append({"role": role, "content": text, "words": words})
    transcript = "".join(f"{role.capitalize()}: {text}\n" for role, text in script)
    return transcript, utterances


def build_analysis(
    rng: random.Random,
    outcome: Outcome,
    analysis_fields: Sequence[Mapping[str, Any]],
    variables: Mapping[str, str],
) -> dict[str, Any]:
    """``call_analysis`` for a call that connected."""
    who = variables.get("first_name") or "the user"
    summaries = {
        "voicemail_reached": f"The call reached {who}'s voicemail; the agent left a message.",
        "user_requested_dnc": f"{who} asked not to be called again; the agent agreed.",
        "user_requested_callback": f"{who} was busy and asked for a callback tomorrow afternoon.",
    }
    summary = summaries.get(outcome.reason) or (
        f"The agent spoke with {who}, who confirmed."
        if outcome.successful
        else f"The agent spoke with {who}, who did not confirm."
    )
    connected_conversation = outcome.reason != "voicemail_reached"
    custom = outcome.custom_analysis_data
    if custom is None:
        custom = (
            {
                str(spec["name"]): _analysis_value(rng, spec, outcome)
                for spec in analysis_fields
                if "name" in spec
            }
            if connected_conversation
            else {}
        )
    return {
        "call_summary": summary,
        "in_voicemail": outcome.reason == "voicemail_reached",
        "user_sentiment": outcome.sentiment,
        "call_successful": outcome.successful,
        "custom_analysis_data": custom,
    }


def not_connected_analysis(reason: str) -> dict[str, Any]:
    """``call_analysis`` for a call that never connected (no custom data)."""
    return {
        "call_summary": f"The call did not connect ({reason}).",
        "in_voicemail": False,
        "user_sentiment": "Unknown",
        "call_successful": False,
        "custom_analysis_data": {},
    }


def _analysis_value(rng: random.Random, spec: Mapping[str, Any], outcome: Outcome) -> Any:
    kind = spec.get("type")
    name = str(spec.get("name", "")).lower()
    if kind == "boolean":
        if "reschedule" in name or "callback" in name:
            return outcome.reason == "user_requested_callback"
        return outcome.successful if rng.random() < 0.95 else not outcome.successful
    if kind == "enum":
        choices = list(spec.get("choices") or [])
        if not choices:
            return None
        # Choices are usually ordered best-first (high|medium|low); success leans to the front.
        weights = [
            (len(choices) - i) if outcome.successful else (i + 1) for i in range(len(choices))
        ]
        return rng.choices(choices, weights=weights)[0]
    if kind == "number":
        base = 7 if outcome.successful else 3
        return base + rng.randint(-2, 2)
    if "time" in name:
        return rng.choice(_CALLBACK_TIMES) if outcome.reason == "user_requested_callback" else ""
    if outcome.reason == "user_requested_callback":
        return "callback requested"
    return "confirmed" if outcome.successful else "not confirmed"


def build_cost(duration_ms: int) -> dict[str, Any]:
    """``call_cost`` in cents for a call of ``duration_ms`` (billed per started second)."""
    seconds = math.ceil(duration_ms / 1000) if duration_ms > 0 else 0
    costs = [round(price * seconds, 4) for _, price in _PRODUCT_PRICES]
    products = [
        {"product": product, "unit_price": price, "cost": cost}
        for (product, price), cost in zip(_PRODUCT_PRICES, costs, strict=True)
    ]
    return {
        "product_costs": products,
        "total_duration_seconds": seconds,
        "total_duration_unit_price": round(sum(price for _, price in _PRODUCT_PRICES), 4),
        "combined_cost": round(sum(costs), 4),
    }


def build_latency(rng: random.Random, turns: int) -> dict[str, Any]:
    """``latency`` with e2e, llm, tts and asr distributions over ``turns`` agent turns."""
    return {
        "e2e": _distribution([rng.gauss(850, 150) for _ in range(turns)]),
        "llm": _distribution([rng.gauss(480, 90) for _ in range(turns)]),
        "tts": _distribution([rng.gauss(210, 40) for _ in range(turns)]),
        "asr": _distribution([rng.gauss(110, 25) for _ in range(turns)]),
    }


def _distribution(raw: list[float]) -> dict[str, Any]:
    values = sorted(max(1.0, round(value, 1)) for value in raw) or [1.0]

    def percentile(p: float) -> float:
        return values[min(len(values) - 1, math.ceil(p * len(values)) - 1)]

    return {
        "p50": percentile(0.5),
        "p90": percentile(0.9),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "max": values[-1],
        "min": values[0],
        "num": len(values),
        "values": values,
    }
