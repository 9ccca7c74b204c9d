"""server/cartback/serve_lock.py: one serving process per SQLite file, refused with a reason, never run wrong."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from cartback.db import Database
from cartback.serve_lock import AlreadyServed

from tests.conftest import REPO, ServerProcess, free_port


def test_a_second_server_on_the_same_file_refuses_to_start_and_says_why(tmp_path):
    db = tmp_path / "shop.db"
    first = ServerProcess(db).start()
    try:
        second = subprocess.run(
            [sys.executable, "-m", "cartback", "serve", "--host", "127.0.0.1", "--port", str(free_port()),
             "--db", str(db)], cwd=REPO, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2
        assert second.stderr.startswith(f"cartback serve: error: {db} is already served by another cartback "
                                         f"process (pid {first.proc.pid})")
        assert "learn every event twice" in second.stderr
        # The first one still answers.
        import httpx
        assert httpx.get(first.url + "/healthz", timeout=5).status_code == 200
    finally:
        first.stop()
    # Once the first has stopped, the file can be served again; another file any time.
    ServerProcess(db).start().stop()


def test_a_killed_server_leaves_no_lock_behind(tmp_path):
    db = tmp_path / "shop.db"
    server = ServerProcess(db).start()
    server.stop(kill=True)
    ServerProcess(db).start().stop()


def test_two_databases_in_one_process_on_one_file_are_refused_too(tmp_path):
    path = str(tmp_path / "x.db")

    async def scenario() -> None:
        first = Database(path)
        await first.start()
        try:
            second = Database(path)
            with pytest.raises(AlreadyServed, match=f"pid {os.getpid()}"):
                await second.start()
        finally:
            await first.close()
        third = Database(path)  # released on close
        await third.start()
        await third.close()

    asyncio.run(scenario())
