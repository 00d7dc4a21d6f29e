"""Any bytes given as a CSV file: read within a memory bound, or refused with a ContactFileError.

Random bytes and structured garbage (quotes, delimiters, line breaks, byte-order marks, NULs,
stray Windows-1252 bytes, runs longer than the column and cell limits) go through the reader and
through a whole import. Nothing else may escape; whenever a file is read, every row is accounted
for (`rows_read == accepted + rejected`, each row of the table once).
"""

from __future__ import annotations

import codecs
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, ColumnMapping
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.ingest import ingest_contacts_file
from campaigner.contacts.limits import MAX_CELL_CHARS, MAX_COLUMNS
from campaigner.contacts.reading import ContactTable, read_contact_table

_TEXT_PIECES = st.sampled_from(
    [b'"', b'""', b",", b";", b"\t", b"|", b"\r\n", b"\n", b"\r", b" ", "é".encode(), b"Phone"]
) | st.sampled_from([b"4155550100", b"+1 (212) 555-0199", b"Ann"])
# Bytes that make a file no text of any encoding, or of another one than the rest.
_ENCODING_PIECES = st.sampled_from(
    [b"\x00", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\xe9", b"\x81"]
) | st.binary(max_size=16)
# Runs either short or just past a limit: a run of delimiters past MAX_COLUMNS is a row too wide
# (or, quoted, a long cell), a run of letters past MAX_CELL_CHARS a cell too long. Lengths in
# between would only make examples slow.
_RUN_LENGTHS = st.integers(1, 40) | st.integers(MAX_COLUMNS, MAX_CELL_CHARS + 100)
_RUNS = st.builds(
    lambda piece, length: piece * length, st.sampled_from([b",", b"\t", b"a"]), _RUN_LENGTHS
)
_TEXT = st.lists(_TEXT_PIECES | _RUNS, max_size=40).map(b"".join)
_GARBAGE = st.lists(_TEXT_PIECES | _RUNS | _ENCODING_PIECES, max_size=40).map(b"".join)
CONTACT_FILES = (
    st.binary(max_size=256)
    | _GARBAGE
    | _TEXT.map(lambda tail: b"Phone,Name\r\n" + tail)
    | _TEXT.map(lambda tail: codecs.BOM_UTF8 + b"Phone;Name\n4155550100;Ann\n" + tail)
    | _GARBAGE.map(lambda tail: b"Phone,Name\r\n4155550100,Ann\r\n" + tail)
)

# What reading may allocate in Python (tracemalloc; pyarrow's own pool is not counted): a fixed
# part for pandas' frames, and a multiple of the file for its text, decoded and re-encoded. The
# reader with no column limit took over 1 GB for a 100 KB file (issue 19).
_FIXED_BYTES = 48 << 20
_BYTES_PER_INPUT_BYTE = 40


def read_or_refusal(path: Path) -> ContactTable | ContactFileError:
    try:
        return read_contact_table(path)
    except ContactFileError as refused:
        return refused


@settings(max_examples=150, deadline=None)
@given(data=CONTACT_FILES)
def test_the_reader_reads_or_refuses_any_bytes_within_a_memory_bound(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        tracemalloc.start()
        try:
            read = read_or_refusal(path)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    event(type(read).__name__)
    assert peak < _FIXED_BYTES + _BYTES_PER_INPUT_BYTE * len(data)
    if isinstance(read, ContactFileError):
        assert str(read).startswith("fuzz.csv: ")
        assert "\n" not in str(read)
    else:
        assert len(read.rows) == len(read.row_numbers)
        assert read.rows.shape[1] <= MAX_COLUMNS
        assert int(read.rows.map(len).max().max()) <= MAX_CELL_CHARS


@pytest.fixture
def phone_only_campaign(demo_campaign: CampaignConfig) -> CampaignConfig:
    return demo_campaign.model_copy(update={"columns": ColumnMapping(phone="Phone")})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=CONTACT_FILES)
def test_an_import_of_any_bytes_accounts_for_every_row_or_is_refused(
    session: Session, phone_only_campaign: CampaignConfig, data: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        try:
            table = read_contact_table(path)
            summary = ingest_contacts_file(
                session=session, config=phone_only_campaign, path=path, out_dir=Path(folder)
            )
        except ContactFileError:
            return
        finally:
            session.rollback()  # each example imports into an empty store
    assert summary.rows_read == len(table.rows)
    assert summary.rows_read == summary.accepted + summary.rejected_total
