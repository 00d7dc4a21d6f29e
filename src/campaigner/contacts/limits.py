"""How large a contact file may be: the limits, and refusing a file beyond them in one line.

The limits are those of a spreadsheet, so nothing a person can make in Excel is refused, and
they bound what reading a file costs (docs/ingest.md, "Limits"):

- `MAX_COLUMNS`: 16,384 columns, Excel's widest sheet (column XFD).
- `MAX_CELL_CHARS`: 32,767 characters, the most an Excel cell holds. A contact cell is a name, a
  number, a date or a note; anything longer is not a field but a broken file (an unclosed quote
  swallowing the rest of it, say), and it would be stored with every contact and sent to Retell.
- `MAX_GRID_CELLS`: 50 million cells, rows × columns (5 million contacts of 10 columns). The
  grid is padded to its widest row (and an XLSX sheet to its farthest cell), so one wide row or
  one far cell would otherwise multiply the memory of every row.

Messages show at most a short excerpt of a cell, with its digits masked: a cell may hold a phone
number, and errors end up in logs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from campaigner.contacts.errors import ContactFileError

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_GRID_CELLS",
    "cell_excerpt",
    "check_cell_lengths",
    "check_grid_size",
    "header_list",
    "refuse_wide_row",
]

MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767
MAX_GRID_CELLS = 50_000_000

# Characters of a cell shown in a message; of a header cell (a column's name, usually); and how
# many header cells a message lists.
_EXCERPT_CHARS = 8
_HEADER_EXCERPT_CHARS = 32
_LISTED_HEADERS = 20


def cell_excerpt(text: str, chars: int = _EXCERPT_CHARS) -> str:
    """The first `chars` characters of a cell, quoted, digits masked (`#`), control characters
    as `?`."""
    shown = "".join(
        "#" if char.isdigit() else char if char.isprintable() else "?" for char in text[:chars]
    )
    return f"'{shown}{'…' if len(text) > chars else ''}'"


def header_list(cells: Sequence[str]) -> str:
    """Header cells for a message: the first `_LISTED_HEADERS`, each as a longer excerpt (the
    "header" may be a row of contact data in a file that has none)."""
    listed = [cell_excerpt(cell, _HEADER_EXCERPT_CHARS) for cell in cells[:_LISTED_HEADERS]]
    more = len(cells) - _LISTED_HEADERS
    return ", ".join(listed) + (f" and {more:,} more" if more > 0 else "")


def refuse_wide_row(name: str, row_number: int, cells: int) -> ContactFileError:
    """The refusal of a file with a row wider than `MAX_COLUMNS`."""
    return ContactFileError(
        f"{name}: row {row_number} has {cells:,} cells; "
        f"a contact file has at most {MAX_COLUMNS:,} columns"
    )


def check_grid_size(name: str, rows: int, columns: int) -> None:
    """Refuse a file whose rows × columns (padded to the widest row) exceed `MAX_GRID_CELLS`."""
    if rows * columns > MAX_GRID_CELLS:
        raise ContactFileError(
            f"{name}: {rows:,} rows × {columns:,} columns is {rows * columns:,} cells; "
            f"a contact file has at most {MAX_GRID_CELLS:,}"
        )


def check_cell_lengths(name: str, grid: pd.DataFrame, header_position: int) -> None:
    """Refuse a grid of strings holding a cell longer than `MAX_CELL_CHARS`.

    The first such cell (by column, then row) is named by its spreadsheet row (grid position + 1),
    its column number and the header cell above it. Lengths are counted by pyarrow on the
    columns' own arrays: pandas' string methods cost ten times more per column, which a file of
    thousands of columns would feel.
    """
    for column_position, column in enumerate(grid.columns):
        lengths = pc.utf8_length(pa.array(grid[column], type=pa.large_string()))
        too_long = pc.index(pc.greater(lengths, MAX_CELL_CHARS), True).as_py()
        if too_long >= 0:
            header = cell_excerpt(str(grid.iat[header_position, column_position]))
            cell = str(grid.iat[too_long, column_position])
            raise ContactFileError(
                f"{name}: row {too_long + 1}, column {column_position + 1} ({header}) holds "
                f"{len(cell):,} characters ({cell_excerpt(cell)}); "
                f"a cell has at most {MAX_CELL_CHARS:,}"
            )
