"""Cell objects built column by column are the JSON text of the per-row dicts, byte for byte."""

from __future__ import annotations

import orjson
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from campaigner.contacts.cell_json import json_objects
from campaigner.store import JSONText, json_text

_cells = st.one_of(st.none(), st.text(), st.sampled_from(['"', "\\", "a\nb", "\x00", "é\u2028"]))


@st.composite
def columns(draw: st.DrawFn) -> tuple[list[str], list[list[str | None]]]:
    keys = draw(st.lists(st.text(), max_size=4, unique=True))
    count = draw(st.integers(min_value=0, max_value=8))
    return keys, [draw(st.lists(_cells, min_size=count, max_size=count)) for _ in keys]


@given(columns(), st.integers(min_value=0, max_value=8))
def test_json_objects_write_what_json_text_writes_for_the_row_dicts(
    drawn: tuple[list[str], list[list[str | None]]], count_without_columns: int
) -> None:
    keys, values = drawn
    count = len(values[0]) if values else count_without_columns
    fields = [
        (key, pa.array(cells, pa.large_string())) for key, cells in zip(keys, values, strict=True)
    ]

    texts = json_objects(fields, count)

    rows = [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)] or [
        {} for _ in range(count)
    ]
    assert list(texts) == [json_text(row) for row in rows]
    assert [orjson.loads(text) for text in texts if text is not None] == rows


def test_json_text_slices_stay_json_text() -> None:
    texts = JSONText(['{"a":"1"}', None, "{}"])

    assert isinstance(texts[1:], JSONText)
    assert list(texts[1:]) == [None, "{}"]
    assert texts[0] == '{"a":"1"}'
    assert len(texts) == 3
