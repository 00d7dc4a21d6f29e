"""Deciding, for every row of a contact table, whether it becomes a contact or why it does not.

Everything here is a pure function of the table and the campaign's rules, vectorised over rows;
the checks that need the store (already a contact, on the do-not-call list) take the answers as
arguments, so `campaigner.contacts.ingest` stays a thin layer of I/O around this module.

A row's outcome is the first check it fails, in `RejectReason` order:
number (missing, unparseable, invalid) -> country -> mobile -> explicit time zone -> derived time
zone -> duplicate in file -> duplicate in campaign -> do-not-call list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from campaigner.campaign import ColumnMapping, NumberRules
from campaigner.contacts.phone_column import normalise_numbers
from campaigner.contacts.reading import ContactTable
from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.timezones import canonical_zone

__all__ = [
    "MOBILE_TYPES",
    "MappedColumns",
    "classify_rows",
    "map_columns",
    "open_rows",
    "reject_listed_numbers",
]

MOBILE_TYPES = frozenset({"mobile", "fixed_line_or_mobile"})
"""Number types a `mobile_only` campaign accepts; NANP numbers are usually fixed_line_or_mobile."""

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class MappedColumns:
    """The campaign's column mapping resolved to the headers of one table."""

    phone: str
    timezone: str | None
    external_id: str | None
    dynamic_variables: dict[str, str]
    """Retell variable name -> table header."""
    metadata: dict[str, str]
    """Metadata key (the header as the campaign file writes it) -> table header."""


def map_columns(table: ContactTable, mapping: ColumnMapping) -> MappedColumns:
    """Find every mapped column in the table; one `ContactFileError` lists all missing ones."""
    wanted = [
        mapping.phone,
        *([mapping.timezone] if mapping.timezone else []),
        *([mapping.external_id] if mapping.external_id else []),
        *mapping.dynamic_variables.values(),
        *mapping.metadata,
    ]
    found = table.require_columns(dict.fromkeys(wanted))
    return MappedColumns(
        phone=found[mapping.phone],
        timezone=found[mapping.timezone] if mapping.timezone else None,
        external_id=found[mapping.external_id] if mapping.external_id else None,
        dynamic_variables={
            variable: found[header] for variable, header in mapping.dynamic_variables.items()
        },
        metadata={key: found[key] for key in mapping.metadata},
    )


def classify_rows(table: ContactTable, columns: MappedColumns, rules: NumberRules) -> pd.DataFrame:
    """One outcome per table row: `NumberResult` columns plus `row_number`.

    Rows with `reason` None are still open (accepted so far); the store-backed checks are applied
    afterwards with `reject_listed_numbers`. The frame has the table's RangeIndex.
    """
    outcomes = normalise_numbers(table.rows[columns.phone], rules.default_region).frame
    outcomes["row_number"] = table.row_numbers
    if rules.allowed_countries is not None:
        allowed = ", ".join(rules.allowed_countries)
        _reject(
            outcomes,
            ~outcomes["region"].isin(rules.allowed_countries).to_numpy(dtype=bool),
            RejectReason.COUNTRY_NOT_ALLOWED,
            lambda hit: [
                f"a number of {region}; the campaign allows {allowed}" for region in hit["region"]
            ],
        )
    if rules.mobile_only:
        _reject(
            outcomes,
            ~outcomes["number_type"].isin(MOBILE_TYPES).to_numpy(dtype=bool),
            RejectReason.NOT_MOBILE,
            lambda hit: [
                f"a {kind} number; the campaign is mobile_only" for kind in hit["number_type"]
            ],
        )
    if columns.timezone is not None:
        _apply_explicit_zones(outcomes, table.rows[columns.timezone])
    _reject(
        outcomes,
        np.fromiter(
            (not zones for zones in outcomes["timezones"]), dtype=bool, count=len(outcomes)
        ),
        RejectReason.UNKNOWN_TIMEZONE,
        lambda hit: [
            f"no time zone can be derived from {number}; give one in the time zone column"
            for number in hit["e164"]
        ],
    )
    _reject_repeats_in_file(outcomes)
    return outcomes


def reject_listed_numbers(
    outcomes: pd.DataFrame, listed: Mapping[str, str], reason: RejectReason
) -> None:
    """Reject the open rows whose number is a key of `listed`; its value is the row's detail."""
    if not listed:
        return
    hit = outcomes["e164"].isin(list(listed)).to_numpy(dtype=bool)
    _reject(outcomes, hit, reason, lambda rows: [listed[number] for number in rows["e164"]])


def open_rows(outcomes: pd.DataFrame) -> BoolArray:
    """The rows no check has rejected (yet)."""
    open_: BoolArray = outcomes["reason"].isna().to_numpy(dtype=bool)
    return open_


Details = Callable[[pd.DataFrame], Sequence[str]] | str


def _reject(
    outcomes: pd.DataFrame, where: BoolArray, reason: RejectReason, details: Details
) -> None:
    """Give `reason` to the open rows selected by `where`; `details` is computed for those only."""
    positions = np.flatnonzero(open_rows(outcomes) & where)
    if not len(positions):
        return
    detail_values = details if isinstance(details, str) else list(details(outcomes.iloc[positions]))
    labels = outcomes.index[positions]
    outcomes.loc[labels, "reason"] = reason
    outcomes.loc[labels, "detail"] = detail_values


def _apply_explicit_zones(outcomes: pd.DataFrame, cells: pd.Series) -> None:
    """A non-empty time zone cell replaces the derived zones; a name IANA lacks rejects the row."""
    stripped = cells.str.strip()
    codes, distinct = pd.factorize(stripped)
    zones_of_distinct = np.empty(len(distinct), dtype=object)
    for index, value in enumerate(distinct):
        zone = canonical_zone(str(value))
        zones_of_distinct[index] = (zone,) if zone else ()
    zones = zones_of_distinct[codes]
    given = (stripped != "").to_numpy(dtype=bool)
    unknown = given & (np.array([len(value) for value in zones_of_distinct])[codes] == 0)
    _reject(
        outcomes,
        unknown,
        RejectReason.INVALID_TIMEZONE,
        lambda hit: [
            f"{stripped.iat[position]!r} is not an IANA time zone name such as America/New_York"
            for position in hit.index
        ],
    )
    use = np.flatnonzero(open_rows(outcomes) & given)
    outcomes.loc[outcomes.index[use], "timezones"] = zones[use]


def _reject_repeats_in_file(outcomes: pd.DataFrame) -> None:
    """Keep each number's first open row; later ones name the row they repeat."""
    open_positions = np.flatnonzero(open_rows(outcomes))
    numbers = outcomes["e164"].iloc[open_positions]
    repeated = numbers.duplicated(keep="first").to_numpy(dtype=bool)
    # The first rows of the numbers that repeat, only (a dict: one lookup per repeat).
    first = ~repeated & numbers.isin(numbers.iloc[repeated]).to_numpy(dtype=bool)
    first_row_of = dict(
        zip(
            numbers.iloc[first].tolist(),
            outcomes["row_number"].iloc[open_positions[first]].tolist(),
            strict=True,
        )
    )
    where = np.zeros(len(outcomes), dtype=bool)
    where[open_positions[repeated]] = True
    _reject(
        outcomes,
        where,
        RejectReason.DUPLICATE_IN_FILE,
        lambda hit: [f"same number as row {first_row_of[number]}" for number in hit["e164"]],
    )
