"""The simulator's answers carry its virtual clock as their Date, as Retell's carry Retell's."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import api_client

START_MS = 1_800_000_000_000  # 2027-01-15 08:00:00 UTC


def test_the_date_header_is_the_virtual_clock(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(start_ms=START_MS)
    with api_client(sim) as http:
        before = http.get("/get-concurrency")
        http.post("/_sim/advance", json={"seconds": 3600})
        after = http.get("/get-concurrency")
        refused = http.get("/get-concurrency", headers={"Authorization": "Bearer wrong"})

    assert before.headers.get_list("date") == [before.headers["date"]]  # one, not uvicorn's too
    assert parsedate_to_datetime(before.headers["date"]).timestamp() == START_MS / 1000
    assert parsedate_to_datetime(after.headers["date"]).timestamp() == START_MS / 1000 + 3600
    # Errors are stamped too: every answer tells Retell's time.
    assert refused.status_code == 401
    assert parsedate_to_datetime(refused.headers["date"]).timestamp() == START_MS / 1000 + 3600
