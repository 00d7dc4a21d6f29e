"""The exported tables: one row per contact, per attempt and per rejected input row.

Columns are documented in docs/reports.md. Each custom post-call analysis field becomes its own
column `analysis_<field>` (a nested value is written as JSON text); a contact's analysis columns
come from its deciding attempt (see `campaigner.reports.frames`). Timestamps are UTC. Headers a
spreadsheet could run as a formula are neutralised here, so that every file has the same column
names, unique after every rename (`campaigner.reports.cells.unique_names`); cells are left as they
are, for each writer to make safe its own way (`campaigner.reports.export`: a quote in CSV and
Parquet; text cells in the workbook). With
`mask_numbers`, the E.164 numbers and the input's phone column are masked
(`campaigner.reports.masking`).
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

import pandas as pd

from campaigner.contacts.reading import normalise_header
from campaigner.csvsafe import neutralise_cell
from campaigner.reports.cells import unique_names
from campaigner.reports.frames import CampaignData, lookup
from campaigner.reports.masking import mask_phone_numbers

__all__ = [
    "ANALYSIS_PREFIX",
    "TRANSCRIPT_COLUMNS",
    "attempts_table",
    "contacts_table",
    "rejected_table",
    "transcripts_table",
]

ANALYSIS_PREFIX = "analysis_"
"""Prefix of the columns holding custom post-call analysis fields."""

_INPUT_SUFFIX = " (input)"

TRANSCRIPT_COLUMNS = (
    "attempt_id",
    "contact_id",
    "external_id",
    "phone_e164",
    "attempt_number",
    "variant",
    "retell_call_id",
    "placed_at",
    "transcript",
)
"""The columns of transcripts.csv: which attempt (as attempts.csv names it), then its text."""

# (exported name, attempt column) of the analysis a contact row takes from its deciding attempt.
_DECIDING_COLUMNS = (
    ("call_successful", "call_successful"),
    ("user_sentiment", "user_sentiment"),
    ("call_summary", "call_summary"),
    ("in_voicemail", "in_voicemail"),
    ("duration_s", "duration_s"),
)


def contacts_table(data: CampaignData) -> pd.DataFrame:
    """One row per contact: its input columns, then what happened to it."""
    contacts = data.contacts
    attempts = _attempt_columns(data)
    by_id = attempts.set_index("attempt_id")
    deciding = contacts["deciding_attempt_id"]
    last = attempts.drop_duplicates("contact_id", keep="last").set_index("contact_id")
    ours = pd.DataFrame(
        {
            "contact_id": contacts["contact_id"],
            "source_file": contacts["source_file"].map(_file_name),
            "row_number": contacts["row_number"],
            "phone_e164": _numbers(data, contacts["phone_e164"]),
            "country": contacts["country"],
            "number_type": contacts["number_type"],
            "phone_column": contacts["phone_column"],
            "timezone": contacts["timezone_key"],
            "external_id": contacts["external_id"],
            "variant": contacts["variant"],
            "status": contacts["status"],
            "result": contacts["result"],
            "final_outcome": contacts["final_outcome"],
            "attempts": contacts["attempts"],
            "last_call_at": lookup(contacts["contact_id"], last["started_at"]),
            "last_disconnection_reason": lookup(
                contacts["contact_id"], last["disconnection_reason"]
            ),
            **{name: lookup(deciding, by_id[column]) for name, column in _DECIDING_COLUMNS},
            "total_duration_s": contacts["total_duration_ms"] / 1000,
            "cost_cents": contacts["cost_cents"],
            "on_dnc_list": contacts["on_dnc_list"],
        },
        index=contacts.index,
    )
    analysis = by_id.filter(like=ANALYSIS_PREFIX, axis="columns")
    for name in analysis.columns:
        ours[name] = lookup(deciding, analysis[name])
    original = _input_columns(data, contacts["original"], reserved=set(ours.columns))
    return _typed(pd.concat([original, ours], axis="columns"))


def attempts_table(data: CampaignData) -> pd.DataFrame:
    """One row per call attempt."""
    return _typed(_attempt_columns(data).drop(columns=["started_at"]))


def transcripts_table(data: CampaignData) -> pd.DataFrame:
    """One row per attempt with a transcript (none unless the campaign fetches them)."""
    attempts = _attempt_columns(data).set_index("attempt_id", drop=False)
    transcripts = (
        data.transcripts
        if data.transcripts is not None
        else pd.DataFrame(
            {"attempt_id": pd.Series(dtype="int64"), "transcript": pd.Series(dtype="string")}
        )
    )
    ids = transcripts["attempt_id"].astype("int64")
    table = pd.DataFrame(
        {name: lookup(ids, attempts[name]) for name in TRANSCRIPT_COLUMNS[:-1]},
        index=transcripts.index,
    )
    table["transcript"] = transcripts["transcript"].astype("string")
    return _typed(table)


def rejected_table(data: CampaignData) -> pd.DataFrame:
    """One row per rejected input row: its input columns, then where it was and why."""
    rejected = data.rejected
    ours = pd.DataFrame(
        {
            "source_file": rejected["source_file"].map(_file_name),
            "row_number": rejected["row_number"],
            "reason": rejected["reason"],
            "detail": rejected["detail"],
        },
        index=rejected.index,
    )
    original = _input_columns(data, rejected["raw"], reserved=set(ours.columns))
    return _typed(pd.concat([original, ours], axis="columns"))


def _attempt_columns(data: CampaignData) -> pd.DataFrame:
    attempts = data.attempts
    external_ids = data.contacts.set_index("contact_id")["external_id"]
    table = pd.DataFrame(
        {
            "attempt_id": attempts["attempt_id"],
            "contact_id": attempts["contact_id"],
            "external_id": lookup(attempts["contact_id"], external_ids),
            "phone_e164": _numbers(data, attempts["to_number"]),
            "attempt_number": attempts["attempt_number"],
            "variant": attempts["variant"],
            "agent_id": attempts["agent_id"],
            "agent_version": attempts["agent_version"].astype("Int64"),
            "from_number": attempts["from_number"],
            "retell_call_id": attempts["retell_call_id"],
            "status": attempts["state"],
            "outcome": attempts["outcome_class"],
            "disconnection_reason": attempts["disconnection_reason"],
            "error_detail": attempts["error_detail"],
            "created_at": attempts["created_at"],
            "placed_at": attempts["placed_at"],
            "start_at": attempts["start_timestamp"],
            "end_at": attempts["end_timestamp"],
            "started_at": attempts["start_timestamp"].fillna(attempts["created_at"]),
            "timezone": attempts["zone"],
            "local_hour": attempts["local_hour"],
            "duration_s": attempts["duration_ms"] / 1000,
            "cost_cents": attempts["cost_cents"],
            "latency_p50_ms": attempts["latency_e2e_p50_ms"],
            "latency_p90_ms": attempts["latency_e2e_p90_ms"],
            "call_successful": attempts["call_successful"],
            "user_sentiment": attempts["user_sentiment"],
            "in_voicemail": attempts["in_voicemail"],
            "call_summary": attempts["call_summary"],
            "recording_url": attempts["recording_url"],
            "public_log_url": attempts["public_log_url"],
        },
        index=attempts.index,
    )
    analysis = _flattened(attempts["custom_analysis"])
    analysis.columns = [f"{ANALYSIS_PREFIX}{name}" for name in analysis.columns]
    return pd.concat([table, analysis], axis="columns")


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its headers neutralised (`campaigner.csvsafe`) and unique, and columns of
    Python objects that hold only text (or only booleans) as pandas strings (or booleans), so that
    the formula guard and the writers work on them column-wise."""
    named = table.set_axis(_exported_names(table.columns), axis="columns")
    kinds = {"string": "string", "boolean": "boolean"}
    changes = {}
    for name in named.columns:
        if named[name].dtype == object:
            kind = kinds.get(pd.api.types.infer_dtype(named[name], skipna=True))
            if kind:
                changes[name] = kind
    return named.astype(changes) if changes else named


def _exported_names(columns: pd.Index) -> list[str]:
    """Headers neutralised, then made unique: neutralising `=x` gives `'=x`, and suffixing an
    input's `contact_id` gives `contact_id (input)`, either of which the input may have too."""
    return unique_names([neutralise_cell(str(name)) for name in columns])


def _flattened(values: pd.Series) -> pd.DataFrame:
    """A column per key of the dicts in `values`; nested values as JSON text."""
    records = [value if isinstance(value, dict) else {} for value in values]
    frame = pd.DataFrame.from_records(records, index=values.index)
    for name in frame.columns:
        column = frame[name]
        nested = column.map(lambda value: isinstance(value, dict | list))
        if nested.any():
            frame[name] = column.mask(nested, column[nested].map(_json_text))
    return frame


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _input_columns(data: CampaignData, cells: pd.Series, *, reserved: set[str]) -> pd.DataFrame:
    """The input file's columns from each row's stored cells; a header that is also one of our
    column names gets the suffix " (input)" (`_exported_names` makes the result unique)."""
    frame = _flattened(cells)
    phones = {normalise_header(header) for header in data.phone_headers}
    if data.mask_numbers:
        for name in frame.columns:
            if normalise_header(str(name)) in phones:
                frame[name] = mask_phone_numbers(frame[name])
    return frame.rename(
        columns={name: f"{name}{_INPUT_SUFFIX}" for name in frame.columns if name in reserved}
    )


def _numbers(data: CampaignData, numbers: pd.Series) -> pd.Series:
    return mask_phone_numbers(numbers) if data.mask_numbers else numbers


def _file_name(path: str) -> str:
    """A source file's name without the directories of the machine that imported it."""
    return PurePath(path).name
