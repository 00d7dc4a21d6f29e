"""JSON objects of table cells, built column by column.

An import stores JSON objects per row: a contact's variables, metadata and original row, a
rejected row's cells. A dict per row encoded with orjson costs Python work per object, seconds
for a million contacts (figures in bench/README.md); here pyarrow joins the key literals and the
cells of whole columns at once, and only rows that need more than quotes and backslashes escaped
(a control character, a missing cell) go through `json_text`. The text is exactly what
`json_text({key: cell, ...})` writes (a property test holds the two together).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from campaigner.store import JSONText, json_text

__all__ = ["Cells", "json_objects", "string_column"]

# pyarrow has no type hints (mypy sees Any).
Cells: TypeAlias = Any
"""One column of cells: a pyarrow Array or ChunkedArray of large_string."""

# Characters JSON escapes inside a string: quote, backslash, and the control characters.
_ESCAPED = r'["\\\x00-\x1f]'
_CONTROL = r"[\x00-\x1f]"


def string_column(values: pd.Series) -> Cells:
    """A table column as one contiguous pyarrow array of large strings.

    The reader's columns come in about a hundred chunks; `take` on a chunked array joins them
    on every call, and an import takes from every column once per chunk of contacts (figures
    in bench/README.md).
    """
    cells: Cells = pc.cast(pa.array(values), pa.large_string())
    if isinstance(cells, pa.ChunkedArray):
        return cells.combine_chunks()
    return cells


def json_objects(fields: Sequence[tuple[str, Cells]], count: int) -> JSONText:
    """Per row, the JSON text of {key: the row's cell in the key's column} in `fields` order.

    Every column holds `count` cells; a missing (null) cell becomes JSON null.
    """
    if not fields:
        return JSONText(["{}"] * count)
    pieces: list[Any] = []
    by_orjson = np.zeros(count, dtype=bool)
    for index, (key, cells) in enumerate(fields):
        opening = "{" if index == 0 else '",'
        pieces.append(_literal(f'{opening}{json_text(key)}:"'))
        escaped, control = _escape(cells)
        pieces.append(escaped)
        by_orjson |= control
    pieces.append(_literal('"}'))
    joined = pc.binary_join_element_wise(*pieces, _literal(""))
    # A null cell makes the joined text null.
    by_orjson |= pc.is_null(joined).to_numpy(zero_copy_only=False)
    texts: list[str | None] = joined.to_pylist()
    for position in np.flatnonzero(by_orjson).tolist():
        texts[position] = json_text({key: cells[position].as_py() for key, cells in fields})
    return JSONText(texts)


def _literal(text: str) -> Any:
    return pa.scalar(text, pa.large_string())


def _escape(cells: Cells) -> tuple[Cells, np.ndarray]:
    """The cells with quotes and backslashes escaped, and which cells hold a control character."""
    no_control = np.zeros(len(cells), dtype=bool)
    if not pc.any(pc.match_substring_regex(cells, _ESCAPED)).as_py():
        return cells, no_control
    control = pc.match_substring_regex(cells, _CONTROL).fill_null(False)
    escaped = pc.replace_substring(pc.replace_substring(cells, "\\", "\\\\"), '"', '\\"')
    return escaped, control.to_numpy(zero_copy_only=False)
