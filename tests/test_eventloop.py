"""Runs go on uvloop where it is installed, and on asyncio's own loop where it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from campaigner import eventloop


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_runs_on_uvloop_when_installed() -> None:
    assert eventloop.run(_loop_type()) is uvloop.Loop


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes `import uvloop` raise ImportError, as on Windows.
    monkeypatch.setitem(sys.modules, "uvloop", None)
    loop_type = eventloop.run(_loop_type())
    assert issubclass(loop_type, asyncio.BaseEventLoop)
    assert not issubclass(loop_type, uvloop.Loop)
