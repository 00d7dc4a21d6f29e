"""Deciding, for every row of a contact table, whether it becomes a contact or why it does not.

Everything here is a pure function of the table and the campaign's rules, vectorised over rows;
the checks that need the store (already a contact, on the do-not-call list) take the answers as
arguments, so `campaigner.contacts.ingest` stays a thin layer of I/O around this module.

A row's outcome is the first check it fails, in `RejectReason` order:
number (missing, unparseable, invalid) -> country -> mobile -> explicit time zone -> derived time
zone -> duplicate in file -> duplicate in campaign -> do-not-call list.

With several phone columns, each row first takes the cell of the first column that holds a number
the campaign accepts (see `_chosen_numbers`); every later check sees that number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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

    phones: tuple[str, ...]
    """Table headers of the phone columns, in the order they are tried."""
    timezone: str | None
    external_id: str | None
    dynamic_variables: dict[str, str]
    """Retell variable name -> table header."""
    metadata: dict[str, str]
    """Metadata key (the header as the campaign file writes it) -> table header."""


def map_columns(table: ContactTable, mapping: ColumnMapping) -> MappedColumns:
    """Find every mapped column in the table; one `ContactFileError` lists all missing ones."""
    wanted = [
        *mapping.phone_columns,
        *([mapping.timezone] if mapping.timezone else []),
        *([mapping.external_id] if mapping.external_id else []),
        *mapping.dynamic_variables.values(),
        *mapping.metadata,
    ]
    found = table.require_columns(dict.fromkeys(wanted))
    return MappedColumns(
        # Two names can match one header (case and spacing are ignored): it is tried once.
        phones=tuple(dict.fromkeys(found[name] for name in mapping.phone_columns)),
        timezone=found[mapping.timezone] if mapping.timezone else None,
        external_id=found[mapping.external_id] if mapping.external_id else None,
        dynamic_variables={
            variable: found[header] for variable, header in mapping.dynamic_variables.items()
        },
        metadata={key: found[key] for key in mapping.metadata},
    )


def classify_rows(table: ContactTable, columns: MappedColumns, rules: NumberRules) -> pd.DataFrame:
    """One outcome per table row: `NumberResult` columns plus `phone_column` and `row_number`.

    Rows with `reason` None are still open (accepted so far); the store-backed checks are applied
    afterwards with `reject_listed_numbers`. The frame has the table's RangeIndex.
    """
    outcomes = _chosen_numbers(table, columns.phones, rules)
    outcomes["row_number"] = table.row_numbers
    if rules.allowed_countries is not None:
        allowed = ", ".join(rules.allowed_countries)
        _reject(
            outcomes,
            _country_refused(outcomes, rules),
            RejectReason.COUNTRY_NOT_ALLOWED,
            lambda hit: [
                f"a number of {region}; the campaign allows {allowed}" for region in hit["region"]
            ],
        )
    if rules.mobile_only:
        _reject(
            outcomes,
            _type_refused(outcomes, rules),
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


# How well a phone cell serves its row, best first. A row takes the cell of least rank (the first
# column on ties), so it is refused by the country or mobile rule only when no column has a number
# they accept, as invalid only when no column has a valid number, as missing when all are empty.
_ACCEPTED, _REFUSED_BY_RULES, _INVALID, _EMPTY = range(4)


def _chosen_numbers(table: ContactTable, phones: Sequence[str], rules: NumberRules) -> pd.DataFrame:
    """Per row, the normalised cell of its best phone column (`NumberResult` columns) and that
    column's header (`phone_column`); an invalid row's detail names each column and its problem."""
    results = [
        normalise_numbers(table.rows[header], rules.default_region).frame for header in phones
    ]
    if len(results) == 1:
        chosen = results[0]
        chosen["phone_column"] = phones[0]
        return chosen
    ranks = np.column_stack([_ranks(result, rules) for result in results])
    best = ranks.argmin(axis=1)
    rows = np.arange(len(best))
    chosen = pd.DataFrame(
        {
            name: np.column_stack([result[name].to_numpy() for result in results])[rows, best]
            for name in results[0].columns
        },
        index=results[0].index,
        dtype=object,
    )
    chosen["phone_column"] = np.array(phones, dtype=object)[best]
    best_rank = ranks[rows, best]
    invalid = np.flatnonzero(best_rank == _INVALID)
    chosen.loc[chosen.index[invalid], "detail"] = _invalid_details(results, ranks, phones, invalid)
    chosen.loc[best_rank == _EMPTY, "detail"] = f"every phone column is empty ({', '.join(phones)})"
    return chosen


def _ranks(result: pd.DataFrame, rules: NumberRules) -> npt.NDArray[np.int8]:
    """The rank of each cell of one phone column (see `_ACCEPTED`)."""
    ranks = np.full(len(result), _INVALID, dtype=np.int8)
    ranks[(result["reason"] == RejectReason.MISSING_NUMBER).to_numpy(dtype=bool)] = _EMPTY
    valid = result["reason"].isna().to_numpy(dtype=bool)
    refused = _country_refused(result, rules) | _type_refused(result, rules)
    ranks[valid] = np.where(refused[valid], _REFUSED_BY_RULES, _ACCEPTED)
    return ranks


def _invalid_details(
    results: Sequence[pd.DataFrame],
    ranks: npt.NDArray[np.int8],
    phones: Sequence[str],
    positions: npt.NDArray[np.intp],
) -> list[str]:
    """For the rows at `positions`, "<header>: <detail>" of each column holding an invalid cell."""
    no_part = pa.scalar(None, pa.string())
    parts = [
        pc.if_else(
            pa.array(ranks[positions, index] == _INVALID),
            pc.binary_join_element_wise(
                f"{header}: ", pa.array(result["detail"].to_numpy()[positions], pa.string()), ""
            ),
            no_part,
        )
        for index, (header, result) in enumerate(zip(phones, results, strict=True))
    ]
    details: list[str] = pc.binary_join_element_wise(*parts, "; ", null_handling="skip").to_pylist()
    return details


def _country_refused(numbers: pd.DataFrame, rules: NumberRules) -> BoolArray:
    """Which numbers are of a country the campaign does not allow."""
    if rules.allowed_countries is None:
        return np.zeros(len(numbers), dtype=bool)
    refused: BoolArray = ~numbers["region"].isin(rules.allowed_countries).to_numpy(dtype=bool)
    return refused


def _type_refused(numbers: pd.DataFrame, rules: NumberRules) -> BoolArray:
    """Which numbers a `mobile_only` campaign refuses for their type."""
    if not rules.mobile_only:
        return np.zeros(len(numbers), dtype=bool)
    refused: BoolArray = ~numbers["number_type"].isin(MOBILE_TYPES).to_numpy(dtype=bool)
    return refused


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
