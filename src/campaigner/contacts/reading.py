"""Reading contact files (CSV in any common encoding and delimiter, or XLSX) as tables of strings.

Rules (docs/ingest.md explains them to campaign managers):

- Text files: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), else
  Windows-1252 when the file holds no UTF-8 character; every byte is held to the encoding chosen
  (`campaigner.contacts.encodings`). The delimiter is sniffed among `,` `;` tab `|` from the
  header line. Quoted cells may hold delimiters, quotes and line breaks.
- XLSX: the first sheet, through calamine. Cells become the text a person sees: whole numbers
  without `.0`, dates as `YYYY-MM-DD` (with the time when it is not midnight), TRUE/FALSE.
- Every cell is a string; nothing is turned into a number, so leading zeros and long ids survive.
- The header is the first non-blank row. A row whose cells are all empty (a blank line, or only
  delimiters) is not a contact row: it is skipped and counted in `blank_rows`, but it still takes
  its row number, so row numbers are the ones a person sees in a spreadsheet (header = row 1 when
  the file starts with it; a quoted line break does not start a new row).
- A header cell that is empty gets the name `column_<n>` (n = its 1-based position); columns with
  an empty header and no value at all (trailing delimiters) are dropped. A row with more cells
  than the header gets `column_<n>` columns too, so no cell is lost.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from python_calamine import CalamineError

from campaigner.contacts.encodings import decode_text
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.limits import (
    MAX_COLUMNS,
    check_cell_lengths,
    check_grid_size,
    header_list,
    refuse_wide_row,
)
from campaigner.contacts.xlsx_extent import check_first_sheet_extent

__all__ = [
    "DELIMITERS",
    "TEXT_SUFFIXES",
    "XLSX_SUFFIXES",
    "ContactTable",
    "normalise_header",
    "read_contact_table",
    "read_file_bytes",
    "sniff_delimiter",
]

DELIMITERS = (",", ";", "\t", "|")
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx"})
_SNIFF_CHARS = 65_536
_SNIFF_LINES = 20
# The longest row (record) a text file may have, in bytes. pyarrow reads a file in blocks and
# cannot read a row that spans more than two, so the block is this large when rows are counted
# (the fast reader keeps its 1 MiB blocks and leaves longer rows to the count). A contact row is
# a few hundred bytes; 64 MiB is a thousand cells of the longest kind (32,767 2-byte characters).
_MAX_ROW_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class ContactTable:
    """A contact file read as strings.

    `rows` has one column per header (named by `headers`, unique) and one row per non-blank
    input row, with a default RangeIndex; `row_numbers[i]` is the spreadsheet row number of
    `rows.iloc[i]`. `header_cells` are the header cells as written (before naming empty ones).
    """

    path: Path
    headers: tuple[str, ...]
    header_cells: tuple[str, ...]
    rows: pd.DataFrame
    row_numbers: npt.NDArray[np.int64]
    blank_rows: int
    encoding: str | None
    delimiter: str | None

    def column_for(self, wanted: str) -> str | None:
        """The header matching `wanted` ignoring case and whitespace, or None when there is none.

        Raises `ContactFileError` when two header cells match, since the choice would be a guess.
        """
        key = normalise_header(wanted)
        matches = [
            header
            for header, cell in zip(self.headers, self.header_cells, strict=True)
            if normalise_header(cell) == key
        ]
        if len(matches) > 1:
            raise ContactFileError(
                f"{self.path.name}: column {wanted!r} is ambiguous: "
                f"{len(matches)} header cells match it"
            )
        return matches[0] if matches else None

    def require_columns(self, wanted: Iterable[str]) -> dict[str, str]:
        """Map each wanted column name to its header; one error naming every missing column."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for name in wanted:
            header = self.column_for(name)
            if header is None:
                missing.append(name)
            else:
                found[name] = header
        if missing:
            listed = ", ".join(repr(name) for name in missing)
            present = header_list(self.header_cells)
            raise ContactFileError(
                f"{self.path.name}: column{'s' if len(missing) > 1 else ''} {listed} not found; "
                f"the file has {present}"
            )
        return found


def normalise_header(text: str) -> str:
    """A header for matching: case-folded, inner whitespace collapsed, outer whitespace removed."""
    return " ".join(text.split()).casefold()


def read_file_bytes(path: Path) -> bytes:
    """A file's bytes; `ContactFileError` for a missing, unreadable or directory path."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ContactFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ContactFileError(f"{path}: is a directory, not a contacts file") from None
    except OSError as error:
        raise ContactFileError(f"{path}: cannot be read ({error.strerror})") from None


def read_contact_table(path: Path, data: bytes | None = None) -> ContactTable:
    """Read a contact file as strings; raise `ContactFileError` when it cannot be used.

    `data` is the file's content when the caller has already read it (to hash it, say).
    """
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES | XLSX_SUFFIXES:
        known = ", ".join(sorted(TEXT_SUFFIXES | XLSX_SUFFIXES))
        kind = f"unknown file type {suffix!r}" if suffix else "no file extension"
        raise ContactFileError(f"{path.name}: {kind}; use {known}")
    if data is None:
        data = read_file_bytes(path)
    if suffix in TEXT_SUFFIXES:
        text, encoding = _decode(path, data)
        delimiter = sniff_delimiter(text)
        grid = _parse_text(path, text, delimiter, _utf8_without_bom(data, text, encoding))
        return _table_from_grid(path, grid, encoding=encoding, delimiter=delimiter)
    return _table_from_grid(path, _read_xlsx(path, data), encoding=None, delimiter=None)


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """The file's text and the encoding it was read with (`campaigner.contacts.encodings`)."""
    text, encoding = decode_text(path.name, data)
    if "\x00" in text:
        raise ContactFileError(
            f"{path.name}: contains NUL characters; it is not a text file "
            "(or UTF-16 without a byte-order mark: save it as CSV UTF-8)"
        )
    return text, encoding


def _utf8_without_bom(data: bytes, text: str, encoding: str) -> bytes:
    """The file as UTF-8 bytes, reusing the original bytes when they already are."""
    if encoding == "utf-8":
        return data
    if encoding == "utf-8-sig":
        return data[len(codecs.BOM_UTF8) :]
    return text.encode("utf-8")


def sniff_delimiter(text: str) -> str:
    """The delimiter among `DELIMITERS` that the header line uses (`,` for a single column).

    When the header holds several candidates, the one whose count is the same on most sample
    lines wins; when it holds none, the candidate least used in the sample (a single column).
    """
    lines = [line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()][:_SNIFF_LINES]
    if not lines:
        return DELIMITERS[0]
    header_counts = {delimiter: _count_unquoted(lines[0], delimiter) for delimiter in DELIMITERS}
    in_header = [delimiter for delimiter in DELIMITERS if header_counts[delimiter]]
    if not in_header:
        return min(
            DELIMITERS,
            key=lambda delimiter: sum(_count_unquoted(line, delimiter) for line in lines),
        )

    def consistency(delimiter: str) -> tuple[int, int]:
        same = sum(_count_unquoted(line, delimiter) == header_counts[delimiter] for line in lines)
        return same, header_counts[delimiter]

    return max(in_header, key=consistency)


def _count_unquoted(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _parse_text(path: Path, text: str, delimiter: str, utf8: bytes) -> pd.DataFrame:
    """All records as a grid of strings, blank lines included (as rows of empty cells).

    pyarrow's multi-threaded reader takes files whose rows all have the header's width (much
    faster than pandas' parser: bench/README.md); a file with a wider or narrower row goes to
    pandas, read with room for every cell once pyarrow has counted the cells of every row
    (outside quotes) and the grid they make is known to be within the limits.
    """
    if not text.strip():
        raise ContactFileError(f"{path.name}: the file is empty")
    first_line = next(line for line in text[:_SNIFF_CHARS].splitlines() if line.strip())
    # A header wider than the limit fails the fast reader at that width; the count then names it.
    width = min(_count_unquoted(first_line, delimiter) + 1, MAX_COLUMNS)
    grid = _read_csv_arrow(utf8, delimiter, width)
    if grid is not None:
        check_grid_size(path.name, *grid.shape)
        return grid
    records, widest = _survey_records(path, utf8, delimiter, width)
    check_grid_size(path.name, records, widest)
    try:
        return _read_csv(text, delimiter, width=widest)
    except pd.errors.ParserError as error:
        raise ContactFileError(f"{path.name}: cannot be read as CSV ({error})") from None


def _parse_options(delimiter: str, on_invalid_row: _RowWidths | None = None) -> pa_csv.ParseOptions:
    return pa_csv.ParseOptions(
        delimiter=delimiter,
        quote_char='"',
        double_quote=True,
        newlines_in_values=True,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid_row,
    )


class _RowWidths:
    """pyarrow's handler of rows that do not have the expected width: it keeps the widest, counts
    them, and stops the reading at the first row wider than `MAX_COLUMNS`."""

    def __init__(self) -> None:
        self.widest = 0
        self.rows = 0
        self.too_wide: tuple[int, int] | None = None  # (row number, cells)

    def __call__(self, row: pa_csv.InvalidRow) -> str:
        if row.actual_columns > MAX_COLUMNS:
            assert row.number is not None  # pyarrow numbers the rows when it reads on one thread
            self.too_wide = (row.number, row.actual_columns)
            return "error"
        self.widest = max(self.widest, row.actual_columns)
        self.rows += 1
        return "skip"


def _survey_records(path: Path, utf8: bytes, delimiter: str, width: int) -> tuple[int, int]:
    """How many records the file has and how many cells its widest has, counted by pyarrow
    (quote-aware, in compiled code, in memory proportional to the file, whatever its rows).

    Single-threaded, so that pyarrow knows each row's number; in blocks as large as the longest
    row `_MAX_ROW_BYTES` allows (pyarrow cannot read a row longer than its block).
    """
    widths = _RowWidths()
    names = [str(index) for index in range(width)]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(utf8),
            read_options=pa_csv.ReadOptions(
                column_names=names, use_threads=False, block_size=_MAX_ROW_BYTES
            ),
            parse_options=_parse_options(delimiter, widths),
            # Only the rows are counted: the cells are converted for one column.
            convert_options=pa_csv.ConvertOptions(
                include_columns=names[:1], column_types={names[0]: pa.string()}
            ),
        )
    except pa.ArrowInvalid as error:
        # pyarrow's message would show the row's text: only its number and width are shown.
        if widths.too_wide is not None:
            raise refuse_wide_row(path.name, *widths.too_wide) from None
        if "straddling" in str(error):
            raise ContactFileError(
                f"{path.name}: a row is longer than {_MAX_ROW_BYTES:,} bytes"
            ) from None
        raise ContactFileError(f"{path.name}: cannot be read as CSV") from None
    return table.num_rows + widths.rows, max(widths.widest, width)


def _read_csv_arrow(utf8: bytes, delimiter: str, width: int) -> pd.DataFrame | None:
    """The grid read by pyarrow, or None when some row does not have `width` cells."""
    names = [str(index) for index in range(width)]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(utf8),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=_parse_options(delimiter),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    grid: pd.DataFrame = table.to_pandas(
        types_mapper={pa.string(): pd.StringDtype("pyarrow", np.nan)}.get
    )
    grid.columns = pd.RangeIndex(width)
    return grid


def _read_csv(text: str, delimiter: str, width: int) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        header=None,
        names=list(range(width)),
        index_col=False,
        dtype=str,
        na_filter=False,
        skip_blank_lines=False,
        quotechar='"',
        doublequote=True,
        engine="c",
    )


def _read_xlsx(path: Path, data: bytes) -> pd.DataFrame:
    """The first sheet as a grid of strings, once its extent is known to be within the limits
    (calamine allocates the whole extent first: `campaigner.contacts.xlsx_extent`)."""
    check_first_sheet_extent(path.name, data)
    try:
        grid = pd.read_excel(
            io.BytesIO(data),
            sheet_name=0,
            header=None,
            dtype=object,
            engine="calamine",
            na_filter=False,
        )
    except (CalamineError, ValueError) as error:
        raise ContactFileError(f"{path.name}: cannot be read as an XLSX file ({error})") from None
    for column in grid.columns:
        # Columns of text only (most of them) need no per-cell conversion.
        if pd.api.types.infer_dtype(grid[column], skipna=False) != "string":
            grid[column] = grid[column].map(_xlsx_cell_text)
    return grid.astype("str")


def _xlsx_cell_text(value: object) -> str:
    """The text a spreadsheet shows for a cell value calamine returns."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _table_from_grid(
    path: Path, grid: pd.DataFrame, *, encoding: str | None, delimiter: str | None
) -> ContactTable:
    """Split a grid of strings into header and rows, numbering rows as a spreadsheet does."""
    grid = grid.reset_index(drop=True)
    grid.columns = pd.RangeIndex(grid.shape[1])
    blank = _blank_rows(grid)
    filled = np.flatnonzero(~blank)
    if not len(filled):
        raise ContactFileError(f"{path.name}: the file is empty")
    header_position = int(filled[0])
    check_cell_lengths(path.name, grid, header_position)
    data_positions = filled[1:]
    if not len(data_positions):
        raise ContactFileError(f"{path.name}: has a header row but no contact rows")
    header_cells = [cell.strip() for cell in grid.iloc[header_position]]
    contiguous = data_positions[-1] - data_positions[0] + 1 == len(data_positions)
    selection = slice(data_positions[0], data_positions[-1] + 1) if contiguous else data_positions
    rows = grid.iloc[selection].reset_index(drop=True)
    keep = [
        index
        for index, cell in enumerate(header_cells)
        if cell or not (rows[index].str.strip() == "").all()
    ]
    headers = _unique_headers([header_cells[index] or f"column_{index + 1}" for index in keep])
    rows = rows[keep]
    rows.columns = pd.Index(headers)
    return ContactTable(
        path=path,
        headers=tuple(headers),
        header_cells=tuple(header_cells[index] for index in keep),
        rows=rows,
        row_numbers=(data_positions + 1).astype(np.int64),
        blank_rows=int(blank.sum()),
        encoding=encoding,
        delimiter=delimiter,
    )


def _blank_rows(grid: pd.DataFrame) -> npt.NDArray[np.bool_]:
    blank = np.ones(len(grid), dtype=bool)
    for column in grid.columns:
        cells = grid[column]
        maybe = blank & (cells != "").to_numpy(dtype=bool)
        if maybe.any():
            positions = np.flatnonzero(maybe)
            stripped_empty = (cells.iloc[positions].str.strip() == "").to_numpy(dtype=bool)
            blank[positions[~stripped_empty]] = False
    return blank


def _unique_headers(names: list[str]) -> list[str]:
    """Names made unique by suffixing repeats: `Phone`, `Phone (2)`."""
    taken: set[str] = set()
    unique: list[str] = []
    for name in names:
        candidate, count = name, 1
        while candidate in taken:
            count += 1
            candidate = f"{name} ({count})"
        taken.add(candidate)
        unique.append(candidate)
    return unique
