"""Reading contact files: encodings, delimiters, quoting, XLSX, blank rows, headers, errors."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigner.contacts import reading
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.reading import (
    DELIMITERS,
    ContactTable,
    normalise_header,
    read_contact_table,
)

ROWS = [
    ["First Name", "Phone", "Customer ID"],
    ["Zoë", "(415) 555-0100", "007"],
    ["Ann", "+1 212 555 0199", "12"],
]


def write_csv(
    path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    return path


def cells(table: ContactTable) -> list[list[str]]:
    return [list(table.headers), *table.rows.to_numpy().tolist()]


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # Python writes a BOM (little-endian here)
        ("utf-16-le", None),  # no BOM: refused below
        ("utf-16-be", "utf-16"),  # BOM added by write_csv
        ("cp1252", "cp1252"),
    ],
)
def test_encodings(tmp_path: Path, encoding: str, reported: str | None) -> None:
    path = write_csv(tmp_path / "contacts.csv", ROWS, encoding=encoding)
    if reported is None:
        with pytest.raises(ContactFileError, match="NUL characters"):
            read_contact_table(path)
        return
    table = read_contact_table(path)
    assert table.encoding == reported
    assert cells(table) == ROWS
    assert table.headers[0] == "First Name"  # no BOM left in the first header


def test_excel_unicode_text_is_utf16_with_tabs(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.txt", ROWS, delimiter="\t", encoding="utf-16")
    table = read_contact_table(path)
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert cells(table) == ROWS


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [*ROWS, ["Smith, Jr; x|y", "415-555-0150", "9"]]
    table = read_contact_table(write_csv(tmp_path / "c.csv", rows, delimiter=delimiter))
    assert table.delimiter == delimiter
    assert cells(table) == rows


def test_quoted_newlines_quotes_and_delimiters_stay_in_one_cell(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        'Name,Phone,Note\n"Ann ""A"" Lee",415-555-0100,"line 1\nline 2, more"\nBob,4155550101,\n'
    )
    table = read_contact_table(path)
    assert cells(table)[1:] == [
        ['Ann "A" Lee', "415-555-0100", "line 1\nline 2, more"],
        ["Bob", "4155550101", ""],
    ]
    # The quoted line break does not start a spreadsheet row.
    assert list(table.row_numbers) == [2, 3]


def test_cells_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "Phone,ID,Amount,Flag\n04155550100,000123,1e5,NA\n4155550100.0,12345678901234567890,,null\n"
    )
    table = read_contact_table(path)
    assert cells(table)[1:] == [
        ["04155550100", "000123", "1e5", "NA"],
        ["4155550100.0", "12345678901234567890", "", "null"],
    ]


def test_blank_rows_are_skipped_counted_and_keep_their_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("\nName,Phone\nAnn,1\n\n , \n,\nBob,2\n\n")
    table = read_contact_table(path)
    assert table.rows["Name"].tolist() == ["Ann", "Bob"]
    # Row 1 is blank, the header is row 2; rows 4-6 and 8 are blank.
    assert list(table.row_numbers) == [3, 7]
    assert table.blank_rows == 5


def test_headers_match_ignoring_case_and_spacing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [[" Phone  Number ", "CUSTOMER id"], ["1", "2"]])
    table = read_contact_table(path)
    assert table.require_columns(["phone number", "Customer ID"]) == {
        "phone number": "Phone  Number",
        "Customer ID": "CUSTOMER id",
    }
    assert normalise_header("\tPhone \n Number ") == "phone number"


def test_missing_columns_are_listed_with_the_columns_found(tmp_path: Path) -> None:
    table = read_contact_table(write_csv(tmp_path / "c.csv", ROWS))
    with pytest.raises(ContactFileError) as error:
        table.require_columns(["Phone", "Mobile", "Clinic"])
    assert str(error.value) == (
        "c.csv: columns 'Mobile', 'Clinic' not found; "
        "the file has 'First Name', 'Phone', 'Customer ID'"
    )


def test_two_headers_matching_one_column_is_an_error(tmp_path: Path) -> None:
    table = read_contact_table(write_csv(tmp_path / "c.csv", [["Phone", "phone "], ["1", "2"]]))
    assert table.headers == ("Phone", "phone")
    with pytest.raises(ContactFileError, match="'PHONE' is ambiguous: 2 header cells"):
        table.column_for("PHONE")


def test_empty_and_repeated_headers_get_names_and_extra_cells_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Phone,,Phone,\n1,a,b,\n2,c,d,,extra\n")
    table = read_contact_table(path)
    assert table.headers == ("Phone", "column_2", "Phone (2)", "column_5")
    assert table.rows.to_numpy().tolist() == [["1", "a", "b", ""], ["2", "c", "d", "extra"]]


def test_xlsx_first_sheet_as_displayed_text(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Phone", "Customer ID", "Appointment", "Seen", "Amount", "Time"])
    sheet.append([4155550100, "007", date(2026, 3, 2), True, 12.5, datetime(2026, 3, 2, 9, 30)])
    sheet.append([])
    sheet.append(["+1 212 555 0199", 123, None, False, 3.0, None])
    workbook.create_sheet("Ignored").append(["nothing", "here"])
    path = tmp_path / "contacts.xlsx"
    workbook.save(path)
    table = read_contact_table(path)
    assert (table.encoding, table.delimiter) == (None, None)
    assert cells(table)[1:] == [
        ["4155550100", "007", "2026-03-02", "TRUE", "12.5", "2026-03-02 09:30:00"],
        ["+1 212 555 0199", "123", "", "FALSE", "3", ""],
    ]
    assert list(table.row_numbers) == [2, 4]
    assert table.blank_rows == 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\r\n\r\n,,\r\n", "the file is empty"),
        ("header.csv", b"Name,Phone\r\n\r\n", "has a header row but no contact rows"),
        ("binary.csv", b"\x00\x01\x02PK", "contains NUL characters"),
        (
            "latin.csv",
            b"Name\r\n\x81\x8d\x8f\x90\x9d\r\n",
            r"line 2 \(byte 6\) is not Windows-1252 \(byte 0x81\): save it as CSV UTF-8",
        ),
        ("fake.xlsx", b"Name,Phone\r\nAnn,1\r\n", "cannot be read as an XLSX file"),
        ("contacts.pdf", b"%PDF", "unknown file type '.pdf'"),
        ("contacts", b"Phone\n1\n", "contacts: no file extension; use .csv, .tsv, .txt, .xlsx"),
    ],
)
def test_unusable_files_raise_one_clear_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ContactFileError, match=message):
        read_contact_table(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ContactFileError, match="no such file"):
        read_contact_table(tmp_path / "nope.csv")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ContactFileError, match="is a directory"):
        read_contact_table(folder)


# --- any table written with any supported delimiter and encoding reads back identical -------

_HEADER_ALPHABET = st.characters(
    codec="utf-8", exclude_characters=',;\t|"\r\n\x00', exclude_categories=["Cs", "Zs", "Cc"]
)
# Windows-1252 text is recognised by failing UTF-8 and holding no UTF-8 character; characters
# whose cp1252 byte is a UTF-8 continuation byte (0x80-0xBF) could form one by accident (a file
# that does is refused), so they are left out here.
_CP1252_SAFE = "".join(chr(code) for code in range(32, 127)) + bytes(range(0xC0, 0x100)).decode(
    "cp1252"
)
_CELL_EXTRAS = ',;\t|"\r\n '


def _cell_text(encoding: str) -> st.SearchStrategy[str]:
    if encoding == "cp1252":
        return st.text(alphabet=_CP1252_SAFE + _CELL_EXTRAS, max_size=12)
    return st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"])
        | st.sampled_from(list(_CELL_EXTRAS)),
        max_size=12,
    )


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[list[str]], str, str]:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"]))
    delimiter = draw(st.sampled_from(DELIMITERS))
    width = draw(st.integers(min_value=1, max_value=4))
    header_text = (
        st.text(
            alphabet=_CP1252_SAFE.translate({ord(c): None for c in ',;|"'}), min_size=1, max_size=8
        )
        if encoding == "cp1252"
        else st.text(alphabet=_HEADER_ALPHABET, min_size=1, max_size=8)
    ).filter(lambda text: text.strip() == text and text.strip() != "")
    header = draw(st.lists(header_text, min_size=width, max_size=width, unique_by=normalise_header))
    row = st.lists(_cell_text(encoding), min_size=width, max_size=width).filter(
        lambda cells: any(cell.strip() for cell in cells)
    )
    rows = draw(st.lists(row, min_size=1, max_size=6))
    return [header, *rows], delimiter, encoding


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=tables())
def test_any_table_reads_back_identical(
    tmp_path: Path, table: tuple[list[list[str]], str, str]
) -> None:
    rows, delimiter, encoding = table
    path = write_csv(tmp_path / "table.csv", rows, delimiter=delimiter, encoding=encoding)
    read = read_contact_table(path)
    assert cells(read) == rows
    assert list(read.row_numbers) == list(range(2, len(rows) + 1))
    assert read.blank_rows == 0


@settings(max_examples=100, deadline=None)
@given(table=tables(), blank_lines=st.lists(st.integers(min_value=1, max_value=6), max_size=3))
def test_the_fast_and_the_fallback_parser_read_the_same_grid(
    table: tuple[list[list[str]], str, str], blank_lines: list[int]
) -> None:
    rows, delimiter, _ = table
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    lines = buffer.getvalue()
    for line_break in sorted(blank_lines, reverse=True):
        # Only between records: the blank line goes after the n-th record's terminator.
        records = lines.split("\r\n")
        if line_break < len(records) and not lines.count('"'):
            lines = "\r\n".join([*records[:line_break], "", *records[line_break:]])
    width = len(rows[0])
    fast = reading._read_csv_arrow(lines.encode("utf-8"), delimiter, width)
    assert fast is not None
    slow = reading._read_csv(lines, delimiter, width=width)
    assert fast.to_numpy().tolist() == slow.to_numpy().tolist()
