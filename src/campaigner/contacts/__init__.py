"""Contact ingest: reading contact files, phone normalisation, time zones, dedupe, suppression.

`ingest_contacts_file` imports a CSV or XLSX file into a campaign; `read_contact_table` and
`normalise_numbers` are its parts, also used by the do-not-call import (`campaigner.contacts.dnc`).
"""

from __future__ import annotations

from campaigner.contacts.classify import MappedColumns, classify_rows, map_columns
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.ingest import IngestConflict, IngestSummary, ingest_contacts_file
from campaigner.contacts.phone_column import NormalisedNumbers, normalise_numbers
from campaigner.contacts.phones import NumberResult, normalise_number
from campaigner.contacts.reading import ContactTable, read_contact_table
from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.variants import assign_variant, assign_variants

__all__ = [
    "ContactFileError",
    "ContactTable",
    "IngestConflict",
    "IngestSummary",
    "MappedColumns",
    "NormalisedNumbers",
    "NumberResult",
    "RejectReason",
    "assign_variant",
    "assign_variants",
    "classify_rows",
    "ingest_contacts_file",
    "map_columns",
    "normalise_number",
    "normalise_numbers",
    "read_contact_table",
]
