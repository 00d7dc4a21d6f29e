from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from campaigner.retell.retrying import RequestRetries, retry_after_seconds


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5
    now = datetime(2026, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=now.timestamp()) == 30.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_backoff_grows_caps_and_jitters_down_only() -> None:
    policy = RequestRetries(base_delay=0.5, max_delay=8.0, rng=random.Random(7))
    for index, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        delay = policy.delay(index)
        assert 0.75 * ceiling <= delay <= ceiling


def test_server_suggested_wait_over_a_minute_is_ignored() -> None:
    policy = RequestRetries(rng=random.Random(1))
    assert policy.delay(0, {"retry-after": "3600"}) <= 0.5
    assert policy.delay(0, {"retry-after": "60"}) == 60.0


def test_statuses_worth_retrying() -> None:
    policy = RequestRetries()
    assert all(policy.should_retry_status(s, {}) for s in (408, 409, 429, 500, 503))
    assert not any(policy.should_retry_status(s, {}) for s in (400, 401, 402, 404, 422))
    assert policy.should_retry_status(400, {"x-should-retry": "true"})
    assert not policy.should_retry_status(503, {"x-should-retry": "false"})
