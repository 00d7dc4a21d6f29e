"""Text from people and from Retell, made safe to show: on a terminal through Rich, and in the
markdown of a Prefect artifact.

A pause reason (`campaigner pause --reason`), Retell's error text in an automatic pause, a file or
campaign name: any of them may hold Rich markup (`[link=…]`, `[red]`), terminal escape sequences
(a window-title change, a screen clear) or bidi overrides that reorder what a reader sees. Shown
raw, they would act instead of being read.

    console.print(f"paused: {for_rich(reason)}")
    lines.append(f"- stopped because: {for_markdown(reason)}")
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["for_markdown", "for_rich", "printable", "printable_lines"]

_ESCAPE_SEQUENCE_RE = re.compile(
    r"\x1b(?:"
    r"\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|[\]PX^_].*?(?:\x07|\x1b\\|\Z)"  # OSC, DCS, SOS, PM, APC: titles, links, up to their end
    r"|[ -/]*[0-~]"  # two- and three-character sequences (ESC c resets the terminal)
    r")?",
    re.DOTALL,
)
_CONTROL_RE = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0 (tab and newline too: shown text is one line) and C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "]"
)
_MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&])")


def printable(text: str) -> str:
    """The text without escape sequences and control characters (C0, C1, bidi controls); a
    line break or tab becomes a space."""
    without_sequences = _ESCAPE_SEQUENCE_RE.sub("", text)
    return _CONTROL_RE.sub(lambda found: " " if found[0] in "\t\n\r" else "", without_sequences)


def printable_lines(text: str) -> str:
    """Each line of the text printable, the line breaks kept (a message of several problems)."""
    return "\n".join(printable(line) for line in text.splitlines())


def for_rich(text: str) -> str:
    """Printable text whose square brackets Rich shows instead of reading them as markup."""
    return escape(printable(text))


def for_markdown(text: str) -> str:
    """Printable text with every character markdown (or the HTML in it) would act on escaped."""
    return _MARKDOWN_SPECIAL_RE.sub(r"\\\1", printable(text))
