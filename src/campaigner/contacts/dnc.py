"""Reading do-not-call lists: a CSV or XLSX file with a phone column, normalised to E.164.

The numbers go through the same normaliser as contacts (`normalise_numbers`), so a number
suppressed as `(415) 555-0100` blocks a contact written `+1 415 555 0100`. Entries that are not
valid numbers are returned with their row number and reason, for the caller to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.limits import cell_excerpt, header_list
from campaigner.contacts.phone_column import normalise_numbers
from campaigner.contacts.phones import normalise_number
from campaigner.contacts.reading import ContactTable, read_contact_table

__all__ = ["PHONE_COLUMN_NAMES", "DncEntries", "InvalidEntry", "read_dnc_file"]

PHONE_COLUMN_NAMES = ("phone", "phone number", "number")
"""Headers recognised as the phone column (ignoring case and spacing), in order of preference."""


@dataclass(frozen=True, slots=True)
class InvalidEntry:
    """A row of a do-not-call file whose cell is not a valid phone number."""

    row_number: int
    cell: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class DncEntries:
    """The valid numbers of a do-not-call file (distinct, in file order) and the invalid rows."""

    column: str
    numbers: list[str]
    invalid: list[InvalidEntry]
    repeated: int
    """Rows whose number appeared on an earlier row of the file."""


def read_dnc_file(path: Path, *, column: str | None, region: str) -> DncEntries:
    """Read the phone column of a do-not-call file (named, or found by `PHONE_COLUMN_NAMES`)."""
    table = read_contact_table(path)
    header = _phone_column(table, column)
    first_cell = table.header_cells[table.headers.index(header)]
    if normalise_number(first_cell, region).e164 is not None:
        raise ContactFileError(
            f"{path.name}: the first row holds a phone number ({cell_excerpt(first_cell)}); "
            "the file needs a header row, e.g. 'phone'"
        )
    results = normalise_numbers(table.rows[header], region).frame
    valid = results["reason"].isna().to_numpy(dtype=bool)
    numbers = results["e164"][valid]
    invalid = [
        InvalidEntry(int(row_number), str(cell), str(reason), str(detail))
        for row_number, cell, reason, detail in zip(
            table.row_numbers[~valid],
            table.rows[header][~valid],
            results["reason"][~valid],
            results["detail"][~valid],
            strict=True,
        )
    ]
    distinct = list(dict.fromkeys(numbers))
    return DncEntries(
        column=header, numbers=distinct, invalid=invalid, repeated=len(numbers) - len(distinct)
    )


def _phone_column(table: ContactTable, column: str | None) -> str:
    if column is not None:
        return table.require_columns([column])[column]
    for name in PHONE_COLUMN_NAMES:
        header = table.column_for(name)
        if header is not None:
            return header
    if len(table.headers) == 1:
        return table.headers[0]
    present = header_list(table.header_cells)
    raise ContactFileError(
        f"{table.path.name}: no phone column (looked for {', '.join(PHONE_COLUMN_NAMES)}); "
        f"the file has {present}: name one with --column"
    )
