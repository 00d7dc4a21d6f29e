"""Reports of hostile inputs on a hostile disk (issue 19): headers that collide once renamed, a
cell longer than Excel holds, a disk that fills while the files are written, symbolic links where
the files go."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from campaigner.contacts import limits
from campaigner.reports import ReportError, ReportFormat, export_report
from campaigner.reports.cells import CUT_MARKER, unique_names
from campaigner.reports.excel import EXCEL_MAX_CELL_CHARS
from tests.reports.conftest import REPORT_FILES, ImportContacts, RunCampaign

HEADER = "Phone,First Name,Customer ID"
"""The columns the campaign file names (phone, external id, a dynamic variable)."""


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def sheet_rows(path: Path, sheet: str) -> list[list[Any]]:
    rows: list[list[Any]] = CalamineWorkbook.from_path(path).get_sheet_by_name(sheet).to_python()
    return rows


# Row 5: headers that collide after neutralising or suffixing.


def test_headers_that_collide_once_renamed_are_exported_unique(
    import_contacts: ImportContacts, tmp_path: Path
) -> None:
    engine = import_contacts(
        [
            f"{HEADER},=x,'=x,contact_id,contact_id (input),contact_id (input) (2)",
            "+12125550101,Ann,C1,formula,quoted,plain,suffixed,twice",
            "not a number,Bob,C2,formula,quoted,plain,suffixed,twice",
        ]
    )
    exported = export_report(engine, "imported", tmp_path / "out")

    assert exported.failures == []
    assert [path.name for path in exported.files] == list(REPORT_FILES)
    neutralised = {"'=x": "formula", "'=x (2)": "quoted"}
    expected = {
        **neutralised,
        "contact_id (input)": "plain",
        "contact_id (input) (2)": "twice",  # the input's own name, kept
        "contact_id (input) (3)": "suffixed",
    }
    contact = read_csv(exported.directory / "contacts.csv").iloc[0]
    assert {column: contact[column] for column in expected} == expected
    rejected = read_csv(exported.directory / "rejected.csv").iloc[0]
    assert {column: rejected[column] for column in neutralised} == neutralised
    header = sheet_rows(exported.directory / "report.xlsx", "Contacts")[0]
    assert len(set(header)) == len(header)
    assert set(expected) <= set(header)


NASTY_HEADERS = [
    ["a", "a"],
    ["a", "a", "a (2)"],
    ["a (2)", "a", "a"],
    ["x", "x", "x", "x (2)", "x (3)"],
    ["", "", " "],
]


@pytest.mark.parametrize("names", NASTY_HEADERS)
def test_unique_names_of_nasty_headers(names: list[str]) -> None:
    assert_unique_names(names)


@given(st.lists(st.sampled_from(["a", "a (2)", "a (3)", "b", "", " (2)"]), max_size=12))
def test_unique_names_of_any_headers(names: list[str]) -> None:
    assert_unique_names(names)


def assert_unique_names(names: list[str]) -> None:
    unique = unique_names(names)
    assert len(unique) == len(names)
    assert len(set(unique)) == len(unique)
    first_seen = [name for index, name in enumerate(names) if name not in names[:index]]
    assert [unique[names.index(name)] for name in first_seen] == first_seen
    assert all(new.startswith(old) for old, new in zip(names, unique, strict=True))
    assert unique_names(names) == unique


# Row 6: a cell longer than an Excel cell holds.


def test_a_cell_longer_than_excel_holds_is_cut_in_the_workbook_only(
    import_contacts: ImportContacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ingest now refuses such cells; a store filled before it did still holds them.
    monkeypatch.setattr(limits, "MAX_CELL_CHARS", 100_000)
    notes = "".join(f"{n:07d} " for n in range(5_000))  # 40,000 characters
    long_headers = (f"{notes}1", f"{notes}2")  # alike in the first 32,767 characters
    engine = import_contacts(
        [f"{HEADER},Notes,{','.join(long_headers)}", f"+12125550101,Ann,C1,{notes},a,b"]
    )
    exported = export_report(engine, "imported", tmp_path / "out")

    assert exported.failures == []
    assert [path.name for path in exported.files] == list(REPORT_FILES)
    header, row = sheet_rows(exported.directory / "report.xlsx", "Contacts")
    cell = row[header.index("Notes")]
    assert len(cell) == EXCEL_MAX_CELL_CHARS
    assert cell == notes[: EXCEL_MAX_CELL_CHARS - len(CUT_MARKER)] + CUT_MARKER
    first, second = header[4:6]
    assert (row[4], row[5]) == ("a", "b")
    assert first.endswith(CUT_MARKER)
    assert second == f"{first} (2)"
    assert len(second) <= EXCEL_MAX_CELL_CHARS
    contacts = read_csv(exported.directory / "contacts.csv")
    assert contacts["Notes"].tolist() == [notes]
    assert list(contacts.columns[4:6]) == list(long_headers)


# Row 10: a disk that fills while the report is written; symbolic links where the files go.


class FillingDisk:
    """A file opened for writing on a disk with `room` characters left: the write that passes
    it writes what fits, then fails as a full disk does."""

    def __init__(self, file: IO[Any], room: int) -> None:
        self.file = file
        self.room = room

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            self.file.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return int(self.file.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def __enter__(self) -> FillingDisk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file opened for writing through pathlib fills the disk after 100 characters."""
    real_open = Path.open

    def open_on_a_full_disk(path: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        file = real_open(path, mode, *args, **kwargs)
        return FillingDisk(file, room=100) if "w" in mode else file

    monkeypatch.setattr(Path, "open", open_on_a_full_disk)


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_a_full_disk_keeps_the_previous_report_and_the_other_formats(
    campaign: RunCampaign, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "out"
    export_report(campaign.engine, "report", out)
    before = file_bytes(out)

    request.getfixturevalue("full_disk")
    exported = export_report(campaign.engine, "report", out)

    failed = [ReportFormat.CSV, ReportFormat.HTML, ReportFormat.JSON]
    assert [failure.format for failure in exported.failures] == failed
    assert all(
        str(failure) == f"{failure.format}: not written: No space left on device"
        for failure in exported.failures
    )
    assert [path.name for path in exported.files] == ["report.xlsx", "attempts.parquet"]
    after = file_bytes(out)
    assert sorted(after) == sorted(REPORT_FILES)  # no staging folder left behind
    kept = ("contacts.csv", "attempts.csv", "rejected.csv", "report.html", "summary.json")
    assert {name: after[name] for name in kept} == {name: before[name] for name in kept}


def test_a_symlinked_out_folder_is_refused(campaign: RunCampaign, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    out = tmp_path / "out"
    out.symlink_to(target)
    refusal = re.escape(f"refusing to write the report: {out} is a symbolic link")
    with pytest.raises(ReportError, match=refusal):
        export_report(campaign.engine, "report", out)
    assert list(target.iterdir()) == []


def test_a_symlinked_report_file_is_refused(campaign: RunCampaign, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").symlink_to(victim)
    with pytest.raises(ReportError, match=r"summary\.json is a symbolic link"):
        export_report(campaign.engine, "report", out, [ReportFormat.CSV, ReportFormat.JSON])
    assert victim.read_text() == "precious"
    assert sorted(path.name for path in out.iterdir()) == ["summary.json"]
