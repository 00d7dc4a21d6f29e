"""`campaigner report` through typer's runner, on the store of a campaign run on the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flows.resources import reports_dir
from typer.testing import CliRunner

from campaigner.cli import app
from campaigner.reports import default_report_dir, excel
from campaigner.settings import get_settings
from tests.reports.conftest import REPORT_FILES, RunCampaign


@pytest.fixture
def runner(
    campaign: RunCampaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", str(campaign.engine.url))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_report_writes_every_file_to_the_default_folder(runner: CliRunner, tmp_path: Path) -> None:
    """Beside the campaign's imports (out/<campaign>/imports/), where the flows write it too."""
    result = runner.invoke(app, ["report", "report"])
    assert result.exit_code == 0, result.output
    out = Path("out") / "report" / "reports"
    assert default_report_dir("report") == out
    assert f"written to {out}" in result.stdout
    written = sorted(path.name for path in (tmp_path / out).iterdir())
    assert written == sorted(REPORT_FILES)
    assert all(f"{out / name}" in result.stdout for name in written)


def test_report_writes_the_formats_asked_for(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "report", "--out", "elsewhere", "--format", "html", "--format", "JSON"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "elsewhere").iterdir()) == [
        "report.html",
        "summary.json",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["report", "nope"], "error: no campaign named 'nope'"),
        (["report", "report", "--format", "pdf"], "error: --format 'pdf' is not one of csv"),
    ],
)
def test_bad_requests_are_one_clear_line(
    runner: CliRunner, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_format_that_fails_is_one_line_and_the_others_are_written(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 10)
    result = runner.invoke(app, ["report", "report"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: xlsx: not written: the Contacts sheet would have 60 rows, more than Excel's 9; "
        "use the csv or parquet format for this campaign"
    ]
    written = sorted(path.name for path in default_report_dir("report").iterdir())
    assert written == sorted(name for name in REPORT_FILES if name != "report.xlsx")


def test_a_symlinked_out_folder_is_one_clear_line(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    Path("link").symlink_to(tmp_path / "target")
    result = runner.invoke(app, ["report", "report", "--out", "link"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: refusing to write the report: link is a symbolic link (to {tmp_path / 'target'}); "
        "write to a real folder, or remove the link"
    ]
    assert list((tmp_path / "target").iterdir()) == []


def test_help_shows_the_default_folder(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert f"[default: ({default_report_dir('<campaign>')})]" in result.stdout
    assert "[default: (all)]" in result.stdout


def test_the_flows_write_where_the_command_does() -> None:
    assert reports_dir("spring") == default_report_dir("spring") == Path("out/spring/reports")
