"""Contacts: inserted in bulk from an import, their numbers, counted, read one by one."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.bulk import JSONText, bulk_insert_column_chunks, chunks, json_text
from campaigner.store.errors import StoreError
from campaigner.store.models import Contact, ContactStatus
from campaigner.store.results import IN_LIST_CHUNK
from campaigner.store.types import utcnow

__all__ = [
    "INSERT_BATCH_SIZE",
    "count",
    "existing_numbers",
    "first_of_campaign",
    "get",
    "insert",
    "insert_column_chunks",
    "insert_columns",
    "numbers",
    "timezone_key",
]

_CONTACT: sa.Table = Contact.__table__  # type: ignore[attr-defined]


INSERT_BATCH_SIZE = 5_000
"""Rows per bulk insert statement (see bench/store_throughput.py for the measured trade-off)."""


def timezone_key(timezones: Collection[str]) -> str:
    """The canonical text of a set of candidate timezones (sorted, `|`-joined), stored per contact.

    Contacts with the same candidate zones share a key, so the dialer can evaluate the calling
    window once per key and claim only contacts whose every zone is inside it.
    """
    return "|".join(sorted(set(timezones)))


# The fields a caller gives for a contact; the first five are required, the rest have defaults.
_CONTACT_FIELDS = (
    "campaign_id",
    "source_file_id",
    "row_number",
    "phone_e164",
    "timezones",
    "country",
    "number_type",
    "phone_column",
    "external_id",
    "dynamic_variables",
    "extra_metadata",
    "original",
    "variant",
    "status",
)


_CONTACT_REQUIRED_KEYS = frozenset(_CONTACT_FIELDS[:5])


_CONTACT_KEYS = frozenset(_CONTACT_FIELDS)


_CONTACT_JSON_FIELDS = ("dynamic_variables", "extra_metadata", "original")


def insert(
    *,
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """Insert contacts in chunks; a number already in the campaign is skipped.

    Each row has campaign_id, source_file_id, row_number, phone_e164 and timezones (list of IANA
    names), and may have country, number_type, phone_column, external_id, dynamic_variables,
    extra_metadata, original, variant and status ("pending", the default, or "suppressed").
    Returns the number of rows inserted. `insert_columns` takes the same fields column by column,
    faster.
    """
    for row in rows:
        keys = row.keys()
        if not (keys <= _CONTACT_KEYS and keys >= _CONTACT_REQUIRED_KEYS):
            missing = sorted(_CONTACT_REQUIRED_KEYS - keys)
            unknown = sorted(keys - _CONTACT_KEYS)
            raise ValueError(
                f"contact row {row.get('row_number')}: missing {missing}, unknown {unknown}"
            )
    columns: dict[str, list[Any]] = {
        name: [row.get(name) for row in rows] for name in _CONTACT_FIELDS
    }
    for name in _CONTACT_JSON_FIELDS:
        columns[name] = [value or {} for value in columns[name]]
    columns["status"] = [status or ContactStatus.PENDING for status in columns["status"]]
    return insert_columns(session=session, columns=columns, now=now, batch_size=batch_size)


def insert_columns(
    *,
    session: Session,
    columns: Mapping[str, Sequence[Any]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """Insert contacts given column by column: `columns` maps the fields `insert` takes
    to one value per contact (sequences of the same length). A field left out gets its default
    (None; {} for dynamic_variables, extra_metadata and original; "pending" for status).
    dynamic_variables, extra_metadata and original may be given as `JSONText` (encoded objects).
    Returns the number inserted; a number already in the campaign is skipped.
    """
    return insert_column_chunks(session=session, chunks=[columns], now=now, batch_size=batch_size)


def insert_column_chunks(
    *,
    session: Session,
    chunks: Iterable[Mapping[str, Sequence[Any]]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """`insert_columns` for contacts that arrive in chunks, each with the same fields.

    The chunks are consumed lazily and, on SQLite, built while the previous ones are inserted
    (see `bulk_insert_column_chunks`), so building one must not use the session.
    """
    pending = iter(chunks)
    first = next(pending, None)
    if first is None:
        return 0
    keys = first.keys()
    if not (keys <= _CONTACT_KEYS and keys >= _CONTACT_REQUIRED_KEYS):
        missing = sorted(_CONTACT_REQUIRED_KEYS - keys)
        unknown = sorted(keys - _CONTACT_KEYS)
        raise ValueError(f"contact columns: missing {missing}, unknown {unknown}")
    stamp = now or utcnow()
    defaults: dict[str, Any] = {name: None for name in _CONTACT_FIELDS if name not in keys}
    defaults |= {name: {} for name in _CONTACT_JSON_FIELDS if name not in keys}
    if "status" not in keys:
        defaults["status"] = ContactStatus.PENDING
    # Few distinct zone sets and statuses: convert each once, not once per contact.
    zone_sets: dict[tuple[str, ...], tuple[str, str]] = {}
    statuses: dict[Any, ContactStatus] = {}

    def converted(columns: Mapping[str, Sequence[Any]]) -> dict[str, Sequence[Any]]:
        given = dict(columns)
        zones = [
            zone_sets.get(zone_set)
            or zone_sets.setdefault(zone_set, (json_text(list(zone_set)), timezone_key(zone_set)))
            for zone_set in map(tuple, columns["timezones"])
        ]
        given["timezones"] = JSONText([text for text, _ in zones])
        given["timezone_key"] = [key for _, key in zones]
        if "status" in given:
            given["status"] = [
                statuses.get(status) or statuses.setdefault(status, ContactStatus(status))
                for status in given["status"]
            ]
        return given

    return bulk_insert_column_chunks(
        session,
        _CONTACT,
        map(converted, chain([first], pending)),
        # Due from its import: claims take contacts in order of due time.
        constants=defaults
        | {"attempts_made": 0, "next_attempt_at": stamp, "created_at": stamp, "updated_at": stamp},
        conflict=("campaign_id", "phone_e164"),
        batch_size=batch_size,
    )


def existing_numbers(*, session: Session, campaign_id: int, numbers: Collection[str]) -> set[str]:
    """Which of `numbers` (E.164) are already contacts of the campaign."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
        found.update(
            session.exec(
                select(Contact.phone_e164).where(
                    Contact.campaign_id == campaign_id, col(Contact.phone_e164).in_(chunk)
                )
            )
        )
    return found


def count(*, session: Session, campaign_id: int) -> int:
    """How many contacts the campaign has (read from the (campaign, number) index alone, where
    `campaigns.counts` reads every contact row; bench/ingest_throughput.py measures both)."""
    count: int = session.exec(
        select(sa.func.count()).select_from(Contact).where(col(Contact.campaign_id) == campaign_id)
    ).one()
    return count


def numbers(*, session: Session, campaign_id: int) -> set[str]:
    """Every number (E.164) that is a contact of the campaign."""
    contacts = _CONTACT.c
    return set(
        session.connection()
        .execute(sa.select(contacts.phone_e164).where(contacts.campaign_id == campaign_id))
        .scalars()
    )


def first_of_campaign(*, session: Session, campaign_id: int) -> Contact | None:
    """The campaign's first contact in file order (None: it has none)."""
    return session.exec(
        select(Contact).where(Contact.campaign_id == campaign_id).order_by(col(Contact.id))
    ).first()


def get(*, session: Session, contact_id: int) -> Contact:
    """The contact with this id, as stored now; `StoreError` when there is none."""
    contact = session.get(Contact, contact_id, populate_existing=True)
    if contact is None:
        raise StoreError(f"no contact with id {contact_id}")
    return contact
