"""Text from people and Retell made safe to show: escape sequences and controls gone, markup and
markdown shown as written."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from campaigner.display_text import for_markdown, for_rich, printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),  # colours (CSI)
        ("\x1b[2J\x1b[Hcleared", "cleared"),  # a screen clear and a cursor move
        ("\x1b]0;new title\x07after", "after"),  # a window title, ended by BEL
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # a hyperlink (OSC 8)
        ("\x1bcreset", "reset"),  # ESC c resets the terminal
        ("\x9b31mC1\x85", "31mC1"),  # C1 controls: CSI and NEL
        ("abc\u202eevil\u2066x\u2069\u200f", "abcevilx"),  # bidi overrides, isolates, marks
        ("two\nlines\tand\r\x00nul", "two lines and nul"),
        ("kept: é, 名前, emoji 📞", "kept: é, 名前, emoji 📞"),
    ],
)
def test_printable_removes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


@given(st.text())
def test_printable_leaves_no_control_character(text: str) -> None:
    assert not any(
        ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F for character in printable(text)
    )


def test_rich_shows_markup_as_written() -> None:
    out = io.StringIO()

    Console(file=out, color_system=None, width=200).print(
        for_rich("[bold]x[/bold] [link=https://evil.example]y[/link] \\[z]")
    )

    assert out.getvalue() == "[bold]x[/bold] [link=https://evil.example]y[/link] \\[z]\n"


def test_markdown_escapes_every_character_markdown_acts_on() -> None:
    assert for_markdown("**a** [b](c) <i>&amp; `d` # e | f_g") == (
        r"\*\*a\*\* \[b\]\(c\) \<i\>\&amp; \`d\` \# e \| f\_g"
    )
