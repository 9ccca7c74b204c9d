"""server/cartback/locks.py: locks across processes that die with their holder; one catalog import
per shop, on SQLite (a file per shop) and on PostgreSQL (an advisory lock per shop)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from cartback.errors import ApiError
from cartback.locks import AdvisoryShopLocks, FileLock, FileShopLocks

from tests.conftest import REPO

REFUSAL = "shop: an import for this shop is running; retry when it has finished"


def holder_process(path: str) -> subprocess.Popen:
    """Another process holding a FileLock on `path` until it is killed."""
    code = ("import sys, time\nfrom cartback.locks import FileLock\n"
            f"assert FileLock({path!r}).try_acquire() is None\nprint('held', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_file_lock_is_refused_naming_its_holder_and_dies_with_it(tmp_path):
    path = str(tmp_path / "x.lock")
    holder = holder_process(path)
    try:
        mine = FileLock(path)
        assert mine.try_acquire() == str(holder.pid)
        assert not mine.held
    finally:
        holder.kill()  # kill -9: no chance to release
        holder.wait(10)
    assert mine.try_acquire() is None and mine.held
    # Within one process too: a second object on the file is refused while the first holds it.
    assert FileLock(path).try_acquire() == str(os.getpid())
    mine.release()
    assert FileLock(path).try_acquire() is None


def test_one_import_per_shop_whoever_asks_and_the_lock_is_back_after_a_failure(tmp_path):
    db = str(tmp_path / "shop.db")
    first, second = FileShopLocks(db), FileShopLocks(db)
    with first.hold("bal"):
        for locks in (first, second):
            with pytest.raises(ApiError) as refused, locks.hold("bal"):
                pass
            assert (refused.value.status, refused.value.code, refused.value.message, refused.value.field) == (
                429, "import_running", REFUSAL, "shop")
        with second.hold("recel"):  # another shop is not held up
            pass
    with pytest.raises(RuntimeError), second.hold("bal"):
        raise RuntimeError("the import failed")
    with first.hold("bal"):
        pass
    assert sorted(os.listdir(f"{db}.locks")) == ["import-bal", "import-recel"]


def test_another_process_holding_a_shops_import_refuses_this_one(tmp_path):
    db = str(tmp_path / "shop.db")
    os.makedirs(f"{db}.locks")
    holder = holder_process(f"{db}.locks/import-bal")
    try:
        with pytest.raises(ApiError, match=re.escape(REFUSAL)), FileShopLocks(db).hold("bal"):
            pass
    finally:
        holder.kill()
        holder.wait(10)
    with FileShopLocks(db).hold("bal"):
        pass


def test_postgresql_advisory_locks_hold_per_shop_across_sessions_and_end_with_the_session(pg_database):
    first, second = AdvisoryShopLocks(pg_database), AdvisoryShopLocks(pg_database)
    with first.hold("bal"):
        with pytest.raises(ApiError, match=re.escape(REFUSAL)), second.hold("bal"):
            pass
        with pytest.raises(ApiError, match=re.escape(REFUSAL)), first.hold("bal"):
            pass
        with second.hold("recel"):
            pass
    assert not first.sessions and not second.sessions  # each import's session closed with it
    with second.hold("bal"):  # released on the way out
        pass
    held = AdvisoryShopLocks(pg_database)
    with held.hold("bal"):
        held.sessions["bal"].close()  # the session ends (a crashed process): the server drops its locks
        deadline = time.monotonic() + 5
        while True:  # the server ends the session's backend as soon as it sees the socket close
            try:
                with second.hold("bal"):
                    break
            except ApiError:
                assert time.monotonic() < deadline, "the lock outlived its session"
                time.sleep(0.05)


def test_an_unreachable_postgresql_refuses_the_import_with_503_naming_the_database():
    locks = AdvisoryShopLocks("postgresql://root@127.0.0.1:1/nothing?connect_timeout=2")
    with pytest.raises(ApiError) as refused, locks.hold("bal"):
        pass
    assert (refused.value.status, refused.value.code, refused.value.field) == (503, "storage_unavailable", "database")
    assert "import lock" in refused.value.message and "PostgreSQL" in refused.value.message
    with pytest.raises(ApiError) as again, locks.hold("bal"):  # the failure left nothing held
        pass
    assert again.value.status == 503
