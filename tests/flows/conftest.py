"""One Prefect test harness for every flow test, and a workspace per test.

The harness takes ~14 s to start, so it is session-scoped and only tests in this folder (all marked
`prefect`) ask for it. A workspace is a folder with campaigns/, inbox/ and out/, a migrated SQLite
store and a fast simulator, wired in through the environment the flows read.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from campaigner.settings import get_settings
from campaigner.store import Contact, SourceFile, make_engine
from retell_sim import SimulatorConfig, SimulatorHandle, run_simulator

CAMPAIGN = """
name: {name}
agent: {{agent_id: agent_campaigner_demo}}
from_numbers: ["+14155550100"]
columns: {{phone: phone}}
window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}}
caps: {{calls_per_second: 100}}
"""


def contacts_csv(count: int, first: int = 0) -> str:
    """A contacts file of `count` fictional New York numbers (555-01xx)."""
    return "phone\n" + "".join(f"+121255501{n:02d}\n" for n in range(first, first + count))


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@dataclass
class Workspace:
    root: Path
    engine: Engine
    sim: SimulatorHandle

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def add_campaign(self, name: str) -> Path:
        (self.root / "campaigns" / f"{name}.yaml").write_text(CAMPAIGN.format(name=name))
        folder = self.inbox / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def drop(self, campaign: str, name: str, text: str, age_s: float = 30) -> Path:
        """A file written `age_s` seconds ago into the campaign's inbox folder."""
        path = self.inbox / campaign / name
        path.write_text(text)
        then = time.time() - age_s
        os.utime(path, (then, then))
        return path

    def count(self, table: type[Contact] | type[SourceFile]) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(table)).one()


@pytest.fixture
def workspace(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    (tmp_path / "campaigns").mkdir()
    store = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, store)
    config = SimulatorConfig(speed=500, concurrency_limit=20, cps=100, seed=5, analysis_delay_s=1)
    with run_simulator(config) as sim:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{store}")
        monkeypatch.setenv("CAMPAIGNER_INBOX", str(tmp_path / "inbox"))
        monkeypatch.setenv("CAMPAIGNER_CAMPAIGNS_DIR", str(tmp_path / "campaigns"))
        monkeypatch.setenv("RETELL_BASE_URL", sim.base_url)
        monkeypatch.setenv("RETELL_API_KEY", sim.api_key)
        get_settings.cache_clear()
        engine = make_engine(f"sqlite:///{store}")
        yield Workspace(root=tmp_path, engine=engine, sim=sim)
        engine.dispose()
    get_settings.cache_clear()
