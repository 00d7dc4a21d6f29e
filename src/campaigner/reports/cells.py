"""Column names and cells as every format can hold them: names unique after every rename, text cut
to a format's limit with a visible marker."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CUT_MARKER", "cut_text", "unique_names"]

CUT_MARKER = "…[cut]"
"""Ends a text that was cut to fit a format, so a reader sees that the rest is missing."""


def unique_names(names: Sequence[str]) -> list[str]:
    """`names` with each repeat of an earlier name renamed `<name> (n)`, n the smallest number
    from 2 up that no other name has; first occurrences keep their names, so the same names always
    come out the same."""
    taken = set(names)
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        if name in seen:
            number = 2
            while f"{name} ({number})" in taken:
                number += 1
            name = f"{name} ({number})"
            taken.add(name)
        seen.add(name)
        unique.append(name)
    return unique


def cut_text(text: str, limit: int) -> str:
    """`text`, or when it is longer than `limit` characters its start and `CUT_MARKER`, `limit`
    characters in all."""
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT_MARKER)] + CUT_MARKER
