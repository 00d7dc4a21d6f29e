"""Where a report's files are written before they replace the previous report's.

Every file is first written into a staging folder, a new hidden folder inside the report folder
(`.report-….partial`: same file system, so moving a file out of it is an atomic rename), and only
a complete file is moved into place, over the previous one of that name. A disk that fills or a
writer that fails leaves the previous report as it was, and the staging folder is removed
whatever happens.

Nothing is written through a symbolic link: a report folder, or a report file in it, that is one
is refused (`ReportError`) before anything is written. The staging folder is private (mode 0700)
and new, so nobody can plant a link in it, and a rename replaces a link itself, never its target.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from campaigner.reports.errors import ReportError

__all__ = ["move_into_place", "refuse_symlinks", "staging_folder"]


def refuse_symlinks(out_dir: Path, file_names: Iterable[str]) -> None:
    """Raise `ReportError` if `out_dir` or one of the named files in it is a symbolic link.

    The folders above `out_dir` may be links (/var is one on macOS): the caller chose that path.
    """
    for path in (out_dir, *(out_dir / name for name in file_names)):
        if path.is_symlink():
            raise ReportError(
                f"refusing to write the report: {path} is a symbolic link "
                f"(to {os.readlink(path)}); write to a real folder, or remove the link"
            )


@contextmanager
def staging_folder(out_dir: Path) -> Iterator[Path]:
    """A new, empty staging folder inside `out_dir` (created if needed), removed on exit."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", suffix=".partial", dir=out_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(staged: Iterable[Path], out_dir: Path) -> list[Path]:
    """Move each staged (complete) file into `out_dir`, replacing the file of that name; returns
    the files' new paths."""
    placed = []
    for path in staged:
        target = out_dir / path.name
        os.replace(path, target)
        placed.append(target)
    return placed
