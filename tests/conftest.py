"""Shared test configuration.

Tests that need an outside service (PostgreSQL, a browser) skip when it is missing on a developer's
machine, but fail under CI (`CI=true`), so a missing install step can never pass silently.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_dependency(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"required by CI but missing: {reason}")
    pytest.skip(reason)
