"""Exactly once when everything goes wrong at once (issue 23's scenario, in real processes).

Several `campaigner run` processes of one campaign start at random moments against a simulator
that loses create answers, answers 5xx and refuses calls for capacity (as when other traffic
fills the workspace); a rival campaign dials the same workspace meanwhile. One run's clock is
40 s fast and another's 40 s slow (libfaketime), one run is paused with SIGSTOP for longer than
its lease, one is killed with SIGKILL. Afterwards
the simulator's own record is held against the store one to one, and `campaigner audit` must
agree: no attempt with two calls, no call without its attempt, every run exited by itself,
every contact settled or due.

Two seeds run in `make test`; `pytest -m soak` runs many more.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from campaigner.store import CallAttempt, ContactStatus
from tests.dialer.conftest import CAMPAIGN_YAML, numbers
from tests.dialer.processes import Processes, run_to_end
from tests.dialer.test_crash_safety import (
    CliCampaign,
    assert_each_attempt_called_once,
    cli_campaign,
    contacts,
    expire_leases,
)

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
RUNS_EXIT_WITHIN = 150.0
FAULTS = "lost_create=0.08,5xx=0.04,capacity=0.05"
CI_SEEDS = [23, 2312]
SOAK_SEEDS = list(range(100, 120))


def needs_libfaketime() -> None:
    if LIBFAKETIME.exists():
        return
    message = f"libfaketime is not installed ({LIBFAKETIME}): apt-get install faketime"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def skewed(env: dict[str, str], offset: str) -> dict[str, str]:
    """`env` for a process whose clock is `offset` ("+40s", "-40s") off the machine's."""
    return {
        **env,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
    }


def start_rival(campaign: CliCampaign) -> subprocess.Popen[bytes]:
    """Another campaign of the store on the same workspace, dialing its own contacts."""
    folder = campaign.processes.workdir
    (folder / "rival.yaml").write_text(CAMPAIGN_YAML.format(name="rival", extra=""))
    rows = "".join(f"{phone},Rival{n}\n" for n, phone in enumerate(numbers(40, "617")))
    (folder / "rival.csv").write_text("phone,first_name\n" + rows)
    args = ["ingest", "rival.yaml", "rival.csv", "--json"]
    run_to_end(campaign.processes, args, name="ingest-rival", env=campaign.env)
    return campaign.processes.start(["run", "rival.yaml", "--json"], name="rival", env=campaign.env)


def start_runs(campaign: CliCampaign, rng: random.Random) -> dict[str, subprocess.Popen[bytes]]:
    """The rival, then five runs of the campaign, 0 to 1.5 s apart, two with skewed clocks;
    one of them is paused past its lease and one killed, each at a random moment."""
    runs = {"rival": start_rival(campaign)}
    plans = [
        ("plain", campaign.env),
        ("fast-clock", skewed(campaign.env, "+40s")),
        ("paused", campaign.env),
        ("killed", campaign.env),
        ("slow-clock", skewed(campaign.env, "-40s")),
    ]
    rng.shuffle(plans)
    for label, env in plans:
        runs[label] = campaign.processes.start(
            ["run", f"{campaign.name}.yaml", "--json"], name=label, env=env
        )
        time.sleep(rng.uniform(0, 1.5))
    time.sleep(rng.uniform(0.5, 3))
    runs["paused"].send_signal(signal.SIGSTOP)
    time.sleep(rng.uniform(0.5, 2))
    if runs["killed"].poll() is None:
        runs["killed"].send_signal(signal.SIGKILL)
    # Paused for longer than the 5 s lease: the other runs take over what it held.
    time.sleep(rng.uniform(6, 10))
    runs["paused"].send_signal(signal.SIGCONT)
    return runs


def wait_for_exits(campaign: CliCampaign, runs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Every run ends by itself (the killed one aside), with exit code 0."""
    deadline = time.monotonic() + RUNS_EXIT_WITHIN
    for label, run in runs.items():
        try:
            code = run.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            out, err = campaign.processes.output(label)
            pytest.fail(f"run {label} never stopped: {out[-2000:]} {err[-2000:]}")
        if label != "killed":
            assert code == 0, campaign.processes.output(label)


def left_by(campaign: CliCampaign, pid: int) -> list[int]:
    """Attempts without a call still owned by the run with this process id."""
    owner = f"{socket.gethostname()}:{pid}:"
    with Session(campaign.engine) as session:
        rows = session.exec(
            select(CallAttempt.id).where(
                col(CallAttempt.owner).startswith(owner),
                col(CallAttempt.retell_call_id).is_(None),
                col(CallAttempt.finalized).is_(False),
            )
        ).all()
    return [row for row in rows if row is not None]


def exactly_once_under_chaos(processes: Processes, seed: int) -> None:
    needs_libfaketime()
    rng = random.Random(seed)
    phones = numbers(30, "212") + numbers(30, "312") + numbers(30, "415") + numbers(30, "808")
    with cli_campaign(
        processes,
        "chaos",
        concurrency=4,
        seed=seed,
        caps="max_concurrency: 12",
        sim_options=["--faults", FAULTS],
    ) as campaign:
        campaign.ingest(phones)
        runs = start_runs(campaign, rng)
        wait_for_exits(campaign, runs)
        # What the killed run held without a call was taken over by the runs that outlived it.
        assert left_by(campaign, runs["killed"].pid) == []
        statuses = Counter(contact.status for contact in contacts(campaign.engine))
        assert set(statuses) <= {
            ContactStatus.DONE,
            ContactStatus.WAITING_RETRY,
            ContactStatus.PENDING,
            # The killed run's claims and the attempts in doubt it left, until the next run.
            ContactStatus.DIALING,
        }, statuses
        faults = campaign.sim.stats()["faults_injected"]
        # The rest of the campaign, with the faults off: every contact ends settled.
        campaign.sim.set_faults("none")
        expire_leases(campaign.engine)
        campaign.run_until_settled()
        calls = assert_each_attempt_called_once(
            campaign.sim, campaign.engine, "chaos", others=["rival"]
        )
        audit = run_to_end(processes, ["audit", "chaos", "--json"], name="audit", env=campaign.env)
    assert audit["attempts_with_several_calls"] == {}
    assert audit["calls_without_attempt"] == []
    assert audit["attempts_whose_call_is_missing"] == []
    assert audit["calls_at_retell"] == len(calls)
    # The chaos happened: answers were lost, 5xx answered, calls refused for capacity.
    assert faults.get("lost_create", 0) > 0
    assert faults.get("5xx", 0) > 0
    assert any(call.get("disconnection_reason") == "concurrency_limit_reached" for call in calls)


@pytest.mark.slow
@pytest.mark.parametrize("seed", CI_SEEDS)
def test_exactly_once_under_chaos(processes: Processes, seed: int) -> None:
    exactly_once_under_chaos(processes, seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_exactly_once_under_chaos_many_seeds(processes: Processes, seed: int) -> None:
    exactly_once_under_chaos(processes, seed)


def test_the_skewed_clock_is_skewed(tmp_path: Path) -> None:
    """The skew the chaos test relies on is real: a process under it reads another time."""
    needs_libfaketime()
    python = shutil.which("python3") or "python3"
    script = "import time; print(time.time())"
    env = skewed(dict(os.environ), "+40s")
    before = time.time()
    shown = float(subprocess.run([python, "-c", script], env=env, capture_output=True).stdout)
    assert 39 < shown - before < 45
