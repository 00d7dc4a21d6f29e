"""A column of phone cells normalised at once: each distinct cell once, NANP cells vectorised."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from itertools import pairwise

import numpy as np
import pandas as pd

from campaigner.contacts.nanp import NanpDecision, decide_nanp_numbers
from campaigner.contacts.phones import NumberResult, normalise_number

__all__ = ["RESULT_COLUMNS", "NormalisedNumbers", "normalise_numbers"]

RESULT_COLUMNS = tuple(field.name for field in fields(NumberResult))
"""The columns of `NormalisedNumbers.frame`: the fields of `NumberResult`, in order."""

# Distinct cells split into parts decided in threads: the fast path is mostly pyarrow and numpy
# work that runs without the GIL, so two parts use both cores (figures in bench/README.md). Fewer
# cells than the minimum are decided in one part.
_NANP_PARTS = 2
_NANP_PARALLEL_MIN_CELLS = 100_000


@dataclass(frozen=True, slots=True)
class NormalisedNumbers:
    """`normalise_numbers`' answer: one row per input cell, plus how the work was done.

    `frame` has the input's index and the columns of `NumberResult` (object dtype; `reason` holds
    `RejectReason` values or None). `distinct` counts distinct cells, `fast_path` how many of
    them the vectorised NANP path decided.
    """

    frame: pd.DataFrame
    distinct: int
    fast_path: int

    def result_at(self, position: int) -> NumberResult:
        """The result of the input cell at `position` (for tests and diagnostics)."""
        row = self.frame.iloc[position]
        return NumberResult(*(row[column] for column in RESULT_COLUMNS))


def normalise_numbers(cells: pd.Series, default_region: str) -> NormalisedNumbers:
    """Normalise a column of phone cells (strings); identical results to `normalise_number`."""
    codes, uniques = pd.factorize(cells, sort=False)
    distinct = pd.Series(uniques, dtype="str")
    size = len(distinct)
    columns = {name: np.empty(size, dtype=object) for name in RESULT_COLUMNS}
    decided = _decide_nanp_in_parts(distinct, default_region)
    for name, values in decided.columns.items():
        columns[name][decided.positions] = values
    undecided = np.ones(size, dtype=bool)
    undecided[decided.positions] = False
    positions = np.flatnonzero(undecided)
    for position, cell in zip(positions, distinct.iloc[positions].tolist(), strict=True):
        result = normalise_number(cell, default_region)
        for name in RESULT_COLUMNS:
            columns[name][position] = getattr(result, name)
    frame = pd.DataFrame(
        {name: values.take(codes) for name, values in columns.items()},
        index=cells.index,
        dtype=object,
    )
    return NormalisedNumbers(frame=frame, distinct=size, fast_path=len(decided.positions))


def _decide_nanp_in_parts(distinct: pd.Series, default_region: str) -> NanpDecision:
    """`decide_nanp_numbers` on consecutive parts of `distinct` in threads, joined in order."""
    if len(distinct) < _NANP_PARALLEL_MIN_CELLS:
        return decide_nanp_numbers(distinct, default_region)
    bounds = np.linspace(0, len(distinct), _NANP_PARTS + 1, dtype=np.int64)
    parts = [distinct.iloc[start:end].reset_index(drop=True) for start, end in pairwise(bounds)]
    with ThreadPoolExecutor(max_workers=_NANP_PARTS, thread_name_prefix="nanp") as pool:
        decisions = list(pool.map(lambda part: decide_nanp_numbers(part, default_region), parts))
    return NanpDecision(
        positions=np.concatenate(
            [decision.positions + start for decision, start in zip(decisions, bounds, strict=False)]
        ),
        columns={
            name: np.concatenate([decision.columns[name] for decision in decisions])
            for name in decisions[0].columns
        },
    )
