"""How far the first sheet of an XLSX file reaches, read from its XML before calamine loads it.

calamine allocates a sheet's whole rectangle before it reads a value: one cell at XFD1048576 asks
for 2^34 cells (512 GiB) and the process aborts (SIGABRT), beyond any `except`. So the sheet's
XML is scanned first, decompressed in chunks of `_CHUNK_BYTES`, in memory that does not grow with
the file: the references of its rows (`<row r="7">`) and cells (`<c r="B7">`) give the farthest
row and column, and the rectangle from A1 to there is held to the limits of
`campaigner.contacts.limits` (pandas pads the sheet from A1 too).

Why not the sheet's `<dimension>` alone: it is optional and written by whatever made the file, so
it may be missing or wrong, and calamine goes by the cells. Why not calamine in a child process
under a memory cap: each import would pay for a second Python with pandas and for copying every
cell back, and an address-space cap is not portable (macOS ignores it) and fails allocators that
reserve more than they use.

A cell or row written without its reference (optional in the format; the usual writers all
write it) takes the position after the previous one, as calamine places it: a sheet that has
such tags is scanned a second time, tag by tag, which is slower.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.limits import MAX_COLUMNS, MAX_GRID_CELLS

__all__ = ["SheetExtent", "check_first_sheet_extent", "column_name"]

# Decompressed bytes scanned at a time; the bytes of a tag-less chunk carried over to the next.
_CHUNK_BYTES = 1 << 20
_REFERENCE_TAIL = 64
# workbook.xml and its relationships name the sheets; a real one is kilobytes.
_MAX_INDEX_BYTES = 16 << 20

_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_FIRST_SHEET_ID = re.compile(rb"<" + _PREFIX + rb"sheet\s[^>]*?\b" + _PREFIX + rb'id="([^"]+)"')
_RELATIONSHIP = re.compile(rb"<" + _PREFIX + rb"Relationship\s([^>]*)>")
_ATTRIBUTE = re.compile(rb'\b(Id|Target)="([^"]*)"')
# A reference attribute, wherever it is: taking every `r="…"` of the sheet (and any attribute
# whose name ends in `r`), rather than only those a pattern finds inside a tag, can only
# overstate the extent (an attribute value may hold a `>`, which would hide the reference from a
# pattern of the tag). No `\b` in front: the pattern then starts with a literal, which the
# regular expression engine finds three times faster.
_REFERENCE = re.compile(rb"""r\s*=\s*["']([A-Za-z]*)([0-9]+)["']""")
_ROW_OR_CELL_TAG = re.compile(rb"<" + _PREFIX + rb"(?:row|c)[\s/>]")
_ROW_OR_CELL = re.compile(rb"<" + _PREFIX + rb"(row|c)(\s[^>]*)?/?>")


@dataclass(frozen=True, slots=True)
class SheetExtent:
    """The farthest row and column (1-based) a sheet's cells and rows reach."""

    rows: int
    columns: int

    def farthest(self, other: SheetExtent) -> SheetExtent:
        """The extent reaching as far as either."""
        return SheetExtent(
            rows=max(self.rows, other.rows), columns=max(self.columns, other.columns)
        )


def check_first_sheet_extent(name: str, data: bytes) -> SheetExtent:
    """The first sheet's extent; `ContactFileError` when it is beyond the limits or cannot be
    found (calamine would fail on such a file too)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            member = _first_sheet_part(name, archive)
            extent, every_tag_referenced = _referenced_extent(_chunks(archive, member))
            if not every_tag_referenced:
                extent = extent.farthest(_placed_extent(_chunks(archive, member)))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        KeyError,  # a part that is not in the archive
        EOFError,
        ValueError,  # a reference of more digits than int() takes
        RuntimeError,  # an encrypted part
        NotImplementedError,  # a compression method zipfile lacks
    ) as error:
        raise ContactFileError(f"{name}: cannot be read as an XLSX file ({error})") from None
    if extent.columns > MAX_COLUMNS or extent.rows * extent.columns > MAX_GRID_CELLS:
        raise ContactFileError(
            f"{name}: the first sheet reaches cell {column_name(extent.columns)}{extent.rows} "
            f"({extent.rows:,} rows × {extent.columns:,} columns from A1); a contact file has "
            f"at most {MAX_GRID_CELLS:,} cells and {MAX_COLUMNS:,} columns"
        )
    return extent


def column_name(number: int) -> str:
    """A 1-based column number as letters: 1 → A, 27 → AA, 16,384 → XFD."""
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


def _first_sheet_part(name: str, archive: zipfile.ZipFile) -> str:
    """The archive member of the workbook's first sheet, as workbook.xml orders them."""
    sheet = _FIRST_SHEET_ID.search(_index_part(name, archive, "xl/workbook.xml"))
    if sheet is None:
        raise ContactFileError(f"{name}: cannot be read as an XLSX file (it has no sheet)")
    for relationship in _RELATIONSHIP.finditer(
        _index_part(name, archive, "xl/_rels/workbook.xml.rels")
    ):
        attributes = dict(_ATTRIBUTE.findall(relationship.group(1)))
        if attributes.get(b"Id") == sheet.group(1) and b"Target" in attributes:
            target = attributes[b"Target"].decode("utf-8", errors="replace")
            return target.removeprefix("/") if target.startswith("/") else f"xl/{target}"
    raise ContactFileError(f"{name}: cannot be read as an XLSX file (its first sheet is missing)")


def _index_part(name: str, archive: zipfile.ZipFile, member: str) -> bytes:
    if archive.getinfo(member).file_size > _MAX_INDEX_BYTES:
        raise ContactFileError(f"{name}: cannot be read as an XLSX file ({member} is too large)")
    return archive.read(member)


def _chunks(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member decompressed in chunks that each end before the last tag they begin (a tag cut
    by the chunk's end is carried over to the next one).

    What is carried stays under a chunk: a chunk without a `<` (a text of megabytes) carries only
    its last `_REFERENCE_TAIL` bytes, enough for a reference cut in two, so that a file of one
    endless tag cannot make the carried bytes grow with it.
    """
    carried = b""
    with archive.open(member) as stream:
        while block := stream.read(_CHUNK_BYTES):
            text = carried + block
            cut = text.rfind(b"<", max(len(text) - _CHUNK_BYTES, 0))
            if cut < 0:
                cut = max(len(text) - _REFERENCE_TAIL, 0)
            carried, text = text[cut:], text[:cut]
            yield text
    yield carried


def _referenced_extent(chunks: Iterator[bytes]) -> tuple[SheetExtent, bool]:
    """The farthest reference of the sheet (regular expressions over whole chunks, in compiled
    code), and whether every row and cell has a reference."""
    rows = columns = 0
    every_tag_referenced = True
    for chunk in chunks:
        references = _REFERENCE.findall(chunk)
        if len(_ROW_OR_CELL_TAG.findall(chunk)) > len(references):
            every_tag_referenced = False
        rows = max(rows, max((int(number) for _, number in references), default=0))
        letters = {letters for letters, _ in references}
        columns = max(columns, max(map(_column_number, letters), default=0))
    return SheetExtent(rows=rows, columns=columns), every_tag_referenced


def _placed_extent(chunks: Iterator[bytes]) -> SheetExtent:
    """The extent with every row and cell placed as calamine places it, tag by tag: a row
    without a reference follows the previous row, a cell without one the previous cell."""
    row = column = rows = columns = 0
    for chunk in chunks:
        for tag in _ROW_OR_CELL.finditer(chunk):
            reference = _REFERENCE.search(tag.group(2) or b"")
            if tag.group(1) == b"row":
                row = int(reference.group(2)) if reference else row + 1
                column = 0
                rows = max(rows, row)
                continue
            column = _column_number(reference.group(1)) if reference else column + 1
            rows = max(rows, int(reference.group(2)) if reference else row)
            columns = max(columns, column)
    return SheetExtent(rows=rows, columns=columns)
