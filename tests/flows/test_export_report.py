"""`export-report` under the Prefect harness, on contacts imported but not dialed: a file whose
headers collide once renamed is reported (issue 19, row 5), and a format that cannot be written
fails the run after the others are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows.inbox import watch_inbox
from flows.report import export_report_flow

from campaigner.reports import ReportError, excel
from tests.flows.conftest import Workspace
from tests.reports.conftest import REPORT_FILES

pytestmark = pytest.mark.prefect

COLLIDING = "phone,=x,'=x,contact_id,contact_id (input)\n+12125550101,a,b,c,d\n"


@pytest.fixture
def imported(workspace: Workspace) -> Workspace:
    workspace.add_campaign("nightly")
    workspace.drop("nightly", "colliding.csv", COLLIDING)
    assert [(outcome.file, outcome.error) for outcome in watch_inbox(quiet_seconds=0.1)] == [
        ("colliding.csv", None)
    ]
    return workspace


@pytest.mark.usefixtures("imported")
def test_headers_that_collide_once_renamed_are_reported() -> None:
    report = export_report_flow("nightly")
    assert report.failures == []
    assert [path.name for path in report.files] == list(REPORT_FILES)
    header = (report.directory / "contacts.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith(
        '"phone","\'=x","\'=x (2)","contact_id (input)","contact_id (input) (2)",'
    )


@pytest.mark.usefixtures("imported")
def test_a_format_that_fails_fails_the_run_after_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 1)
    with pytest.raises(ReportError, match=r"^nightly: xlsx: not written: the Contacts sheet"):
        export_report_flow.with_options(retries=0)("nightly")
    written = sorted(path.name for path in Path("out/nightly/reports").iterdir())
    assert written == sorted(name for name in REPORT_FILES if name != "report.xlsx")
