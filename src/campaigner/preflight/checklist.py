"""A preflight's result: one `Check` per thing looked at, gathered in a `Checklist`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = ["Check", "Checklist", "Mark"]


class Mark(StrEnum):
    """How a check came out. Only `FAILED` stops a run: it is a blocker."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    INFO = "info"

    @property
    def symbol(self) -> str:
        """The mark at the start of the check's line."""
        return _SYMBOLS[self]


_SYMBOLS = {Mark.PASSED: "✓", Mark.FAILED: "✗", Mark.WARNING: "!", Mark.INFO: "·"}


class Check(BaseModel):
    """One line of the checklist: what was looked at, what was found, and how to fix it."""

    model_config = ConfigDict(frozen=True)

    topic: str
    mark: Mark
    found: str
    fix: str | None = None


class Checklist(BaseModel):
    """Every check of one campaign against one Retell workspace, and whether a run may start."""

    model_config = ConfigDict(frozen=True)

    campaign: str
    base_url: str
    checked_at: datetime
    checks: list[Check]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def blockers(self) -> list[Check]:
        """The checks that failed: each one stops a run until it is fixed."""
        return [check for check in self.checks if check.mark is Mark.FAILED]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """No blocker: the campaign may dial."""
        return not self.blockers
