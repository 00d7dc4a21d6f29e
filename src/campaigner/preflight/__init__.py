"""Preflight: the campaign's setup checked against the Retell workspace before anything is dialed.

`campaigner check CAMPAIGN_FILE` prints the checklist; `campaigner run`, the `run-campaign` flow
and `campaigner serve` run the same checks before a campaign's first dial (`checked_before_dial`),
and a failed check (a blocker) stops the run with the checklist. docs/preflight.md says what each
check looks at.
"""

from __future__ import annotations

from campaigner.preflight.checklist import Check, Checklist, Mark
from campaigner.preflight.rendering import checklist_lines, checklist_markdown
from campaigner.preflight.running import (
    PASS_MAX_AGE,
    PreflightFailed,
    check_and_remember,
    checked_before_dial,
    run_checks,
    setup_fingerprint,
)

__all__ = [
    "PASS_MAX_AGE",
    "Check",
    "Checklist",
    "Mark",
    "PreflightFailed",
    "check_and_remember",
    "checked_before_dial",
    "checklist_lines",
    "checklist_markdown",
    "run_checks",
    "setup_fingerprint",
]
