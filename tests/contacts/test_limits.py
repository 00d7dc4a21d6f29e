"""Contact files that would exhaust the machine or be misread are refused with one clear line.

Issue 19: a far-away XLSX cell, a row of 100,000 delimiters, one stray Windows-1252 byte in a
UTF-8 file. Each is refused as a `ContactFileError` naming the file and where it went wrong.
"""

from __future__ import annotations

import codecs
import io
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import openpyxl
import pytest

from campaigner.contacts import reading
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.limits import MAX_CELL_CHARS, MAX_COLUMNS, MAX_GRID_CELLS
from campaigner.contacts.reading import read_contact_table
from campaigner.contacts.xlsx_extent import SheetExtent, check_first_sheet_extent

# The XLSX is read in a child process: on a reader that allocates the whole sheet, the child
# aborts (SIGABRT) instead of the test run. Its address space is capped, so a reader that tries
# to allocate gigabytes fails at once instead of using the machine's memory.
_READ_IN_CHILD = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
    from campaigner.contacts.errors import ContactFileError
    from campaigner.contacts.reading import read_contact_table
    try:
        read_contact_table(Path(sys.argv[1]))
    except ContactFileError as error:
        print(error)
        sys.exit(3)
    """
)


def read_in_child(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _READ_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("phone_in_a1", [False, True])
def test_an_xlsx_cell_at_the_sheets_far_corner_is_refused_before_it_is_loaded(
    tmp_path: Path, phone_in_a1: bool
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if phone_in_a1:
        sheet.append(["Phone"])
        sheet.append(["4155550100"])
    sheet["XFD1048576"] = "x"
    path = tmp_path / "far corner.xlsx"
    workbook.save(path)
    assert path.stat().st_size < 8_000

    child = read_in_child(path)

    assert (child.returncode, child.stderr) == (3, "")
    assert child.stdout.startswith("far corner.xlsx: the first sheet reaches cell XFD1048576")
    assert len(child.stdout.splitlines()) == 1


def delimited_row(path: Path, *, cell: str) -> Path:
    path.write_text(f"Name,Phone,Note\nAnn,4155550100,ok\nBob,4155550101,{cell}\n")
    return path


def test_a_row_of_a_hundred_thousand_delimiters_is_refused_with_its_row_number(
    tmp_path: Path,
) -> None:
    path = delimited_row(tmp_path / "wide.csv", cell="," * 100_000)
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path)
    assert str(refused.value) == (
        f"wide.csv: row 3 has 100,003 cells; a contact file has at most {MAX_COLUMNS:,} columns"
    )


def test_a_quoted_cell_full_of_delimiters_is_a_long_cell(tmp_path: Path) -> None:
    path = delimited_row(tmp_path / "long.csv", cell='"' + "," * 100_000 + '"')
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path)
    assert str(refused.value) == (
        "long.csv: row 3, column 3 ('Note') holds 100,000 characters "
        f"(',,,,,,,,…'); a cell has at most {MAX_CELL_CHARS:,}"
    )


def test_cells_and_columns_up_to_the_limits_are_read(tmp_path: Path) -> None:
    path = delimited_row(tmp_path / "edge.csv", cell='"' + "," * MAX_CELL_CHARS + '"')
    assert read_contact_table(path).rows["Note"].str.len().max() == MAX_CELL_CHARS
    wide = tmp_path / "wide.csv"
    headers = [f"c{index}" for index in range(MAX_COLUMNS)]
    wide.write_text(",".join(headers) + "\n4155550100\n")
    assert read_contact_table(wide).headers == tuple(headers)


def test_one_windows_1252_byte_in_a_utf8_file_is_refused_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("Name,Phone\nJosé,4155550100\n".encode() + b"Ren\xe9,4155550101\n")
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path)
    assert str(refused.value) == (
        "mixed.csv: line 3 (byte 31) is not UTF-8 (byte 0xE9), though the rest of the file is: "
        "save it as CSV UTF-8"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            codecs.BOM_UTF8 + b"Name,Phone\nAnn,1\n\xff,2\n",
            r"line 3 \(byte 20\) is not UTF-8 \(byte 0xFF\): save it as CSV UTF-8",
        ),
        (
            "Name,Phone\nAnn,1\n".encode("utf-16") + b"\x00\xd8,\x00",
            r"line 3 \(byte 36\) is not UTF-16 \(byte 0x00\): save it as CSV UTF-8",
        ),
        (
            b"Name,Phone\nRen\xe9,1\n\x81,2\n",
            r"line 3 \(byte 18\) is not Windows-1252 \(byte 0x81\): save it as CSV UTF-8",
        ),
    ],
)
def test_a_byte_invalid_in_the_files_encoding_is_refused_where_it_is(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ContactFileError, match=f"^bad.csv: {message}"):
        read_contact_table(path)


def test_a_file_entirely_in_windows_1252_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes("Name,Phone\nRené,4155550100\nZoë,4155550101\n".encode("cp1252"))
    table = read_contact_table(path)
    assert (table.encoding, table.rows["Name"].tolist()) == ("cp1252", ["René", "Zoë"])


_SHEET = "xl/worksheets/sheet1.xml"


def workbook_with_sheet_data(path: Path, sheet_data: str, *, prefix: str = "") -> Path:
    """An XLSX file (made by openpyxl) whose first sheet's XML holds `sheet_data` as written."""
    made = io.BytesIO()
    openpyxl.Workbook().save(made)
    namespace = f"xmlns{':' + prefix if prefix else ''}={_MAIN!r}"
    tag = f"{prefix}:" if prefix else ""
    sheet = (
        f'<?xml version="1.0"?><{tag}worksheet {namespace}><{tag}sheetData>{sheet_data}'
        f"</{tag}sheetData></{tag}worksheet>"
    )
    with zipfile.ZipFile(made) as source, zipfile.ZipFile(path, "w") as target:
        for member in source.infolist():
            content = sheet.encode() if member.filename == _SHEET else source.read(member)
            target.writestr(member, content)
    return path


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.mark.parametrize(
    ("sheet_data", "prefix", "farthest"),
    [
        # Cells without a reference follow the previous cell: XFC, then XFD, then one too far.
        ('<row r="1"><c r="XFC1"/><c/><c/></row>', "", "XFE1"),
        # Rows without one follow the previous row: 15,301 of them after row 1,048,576, in a
        # sheet 47 columns wide (AU), make 50,002,219 cells.
        ('<row r="1048576"><c r="AU1"/></row>' + "<row/>" * 15_301, "", "AU1063877"),
        # Prefixed tags, single quotes and spaces around `=`.
        ("<x:row r='9'><x:c r = 'XFD1048576'/></x:row>", "x", "XFD1048576"),
        # A `>` inside an attribute value before the reference.
        ('<row r="1"><c s=">" r="XFD1048576"/></row>', "", "XFD1048576"),
    ],
)
def test_the_sheets_extent_counts_every_cell_however_it_is_written(
    tmp_path: Path, sheet_data: str, prefix: str, farthest: str
) -> None:
    path = workbook_with_sheet_data(tmp_path / "odd.xlsx", sheet_data, prefix=prefix)
    with pytest.raises(
        ContactFileError, match=f"^odd.xlsx: the first sheet reaches cell {farthest} "
    ):
        check_first_sheet_extent(path.name, path.read_bytes())


def test_cells_without_references_are_placed_as_calamine_places_them(tmp_path: Path) -> None:
    sheet_data = (
        '<row><c t="inlineStr"><is><t>Phone</t></is></c><c t="inlineStr"><is><t>Name</t></is></c>'
        '</row><row><c><v>4155550100</v></c><c t="inlineStr"><is><t>Ann</t></is></c></row>'
        '<row r="4"><c r="B4" t="inlineStr"><is><t>Bob</t></is></c></row>'
    )
    path = workbook_with_sheet_data(tmp_path / "plain.xlsx", sheet_data)
    assert check_first_sheet_extent(path.name, path.read_bytes()) == SheetExtent(rows=4, columns=2)
    table = read_contact_table(path)
    assert table.rows.to_numpy().tolist() == [["4155550100", "Ann"], ["", "Bob"]]
    assert list(table.row_numbers) == [2, 4]


def test_an_archive_without_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ContactFileError, match=r"^empty.xlsx: cannot be read as an XLSX file \("):
        read_contact_table(path)


def test_messages_show_header_cells_as_short_masked_excerpts(tmp_path: Path) -> None:
    path = tmp_path / "no header.csv"
    cells = ["Ann", "4155550100", "x" * 40, *(f"c{index}" for index in range(27))]
    path.write_text(",".join(cells) + "\n" + ",".join(cells) + "\n")
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path).require_columns(["Phone"])
    assert str(refused.value) == (
        "no header.csv: column 'Phone' not found; the file has 'Ann', '##########', "
        f"'{'x' * 32}…', "
        + ", ".join("'c#'" for _ in range(10))
        + ", "
        + ", ".join("'c##'" for _ in range(7))
        + " and 10 more"
    )


def test_a_far_cell_after_megabytes_of_text_without_a_tag_is_found(tmp_path: Path) -> None:
    text = "x" * (3 << 20)  # three chunks of the scan without a `<`
    sheet_data = (
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>{text}</t></is></c><c r="XFD1048576"/></row>'
    )
    path = workbook_with_sheet_data(tmp_path / "long text.xlsx", sheet_data)
    with pytest.raises(ContactFileError, match="reaches cell XFD1048576 "):
        check_first_sheet_extent(path.name, path.read_bytes())


def test_a_grid_of_more_cells_than_the_limit_is_refused_before_it_is_made(tmp_path: Path) -> None:
    # 5,002 rows, one of them 10,001 cells wide: 30 KB that pandas would pad to 50 million cells.
    path = tmp_path / "grid.csv"
    path.write_text("Phone\n" + "4155550100\n" * 5_000 + "," * 10_000 + "\n")
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path)
    assert str(refused.value) == (
        f"grid.csv: 5,002 rows × 10,001 columns is 50,025,002 cells; "
        f"a contact file has at most {MAX_GRID_CELLS:,}"
    )


def test_a_row_longer_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is 64 MiB; a smaller one shows the same path without writing 64 MiB.
    monkeypatch.setattr(reading, "_MAX_ROW_BYTES", 4_096)
    path = tmp_path / "long row.csv"
    path.write_text("Phone,Note\n4155550100," + "x" * 10_000 + "\n4155550101\n")
    with pytest.raises(ContactFileError) as refused:
        read_contact_table(path)
    assert str(refused.value) == "long row.csv: a row is longer than 4,096 bytes"
