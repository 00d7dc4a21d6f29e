"""A checklist as a terminal reads it, and as a Prefect markdown artifact shows it (JSON is the
model's own `model_dump_json`)."""

from __future__ import annotations

from campaigner.display_text import for_markdown, printable
from campaigner.preflight.checklist import Check, Checklist

__all__ = ["checklist_lines", "checklist_markdown"]


def _verdict(checklist: Checklist) -> str:
    if checklist.ok:
        return "ready to dial"
    count = len(checklist.blockers)
    return f"{count} problem{'s' if count > 1 else ''} to fix before it can dial"


def checklist_lines(checklist: Checklist) -> list[str]:
    """One line per check, its fix indented below it, under a heading with the verdict; what a
    check found may quote Retell's answers, so nothing in a line acts on a terminal."""
    lines = [f"campaign {checklist.campaign} at {checklist.base_url}: {_verdict(checklist)}"]
    for check in checklist.checks:
        lines.append(f"{check.mark.symbol} {check.topic}: {printable(check.found)}")
        if check.fix:
            lines.append(f"    fix: {printable(check.fix)}")
    return lines


def _markdown_row(check: Check) -> str:
    # What a check found may quote Retell's answers (an agent's name, an error message).
    cells = (check.mark.symbol, check.topic, check.found, check.fix or "")
    return "| " + " | ".join(for_markdown(cell) for cell in cells) + " |"


def checklist_markdown(checklist: Checklist) -> str:
    """The checklist as a markdown table under a heading with the verdict."""
    heading = f"# Preflight of {checklist.campaign}: {_verdict(checklist)}"
    table = ["|  | check | found | fix |", "|---|---|---|---|"]
    table += [_markdown_row(check) for check in checklist.checks]
    when = f"Checked against {checklist.base_url} at {checklist.checked_at:%Y-%m-%d %H:%M} UTC."
    return "\n".join([heading, "", when, "", *table])
