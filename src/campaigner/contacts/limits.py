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

__all__ = ["MAX_CELL_CHARS", "MAX_COLUMNS", "MAX_GRID_CELLS"]

MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767
MAX_GRID_CELLS = 50_000_000
