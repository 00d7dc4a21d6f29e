"""Contact ingest: reading contact files, phone normalisation, time zones, dedupe, suppression.

table = read_contact_table(Path("inbox/reminders/march.csv"))
numbers = normalise_numbers(table.rows["Phone"], "US")
"""

from __future__ import annotations

from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.phone_column import NormalisedNumbers, normalise_numbers
from campaigner.contacts.phones import NumberResult, normalise_number
from campaigner.contacts.reading import ContactTable, read_contact_table
from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.variants import assign_variant, assign_variants

__all__ = [
    "ContactFileError",
    "ContactTable",
    "NormalisedNumbers",
    "NumberResult",
    "RejectReason",
    "assign_variant",
    "assign_variants",
    "normalise_number",
    "normalise_numbers",
    "read_contact_table",
]
