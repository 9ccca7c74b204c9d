"""server/cartback/recommend/learner.py: with several processes on one database, every event is
learned once, by one learner, and every process serves what it learned within a second.

Real SQLite files and real `Database` writers (two on one file stand for two processes: each has its
own writer connection, model and lock descriptors); the takeover after a kill uses a real process.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cartback.connection import connect_sync, transaction
from cartback.db import Database
from cartback.ingest import apply_events, memo
from cartback.recommend import KEEP, PRUNE_AT, learner
from cartback.recommend.learner import AdvisoryLock, Learner, SharedModel, consume
from cartback.serve_lock import AlreadyServed
from cartback.shops import VERSION_CHECK_EVERY, create_shop
from cartback.validation import Event

from tests.conftest import REPO, UNIT_SHOP

SHOP = UNIT_SHOP
T0 = 1_700_000_000.0


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Cycles and lock tries every 20 ms instead of every second; small batches, so a run takes many."""
    monkeypatch.setattr(learner, "LEARN_EVERY", 0.02)
    monkeypatch.setattr(learner, "LOCK_RETRY", 0.02)
    monkeypatch.setattr(learner, "BATCH", 97)
    memo.clear()
    yield
    memo.clear()


def new_file(tmp_path: Path, name: str) -> str:
    path = str(tmp_path / name)
    conn = connect_sync(path)
    transaction(conn, create_shop, SHOP, ["http://shop.test"])
    conn.close()
    return path


def script(n: int = 240, seed: int = 7) -> list[tuple[str, list[Event], bool]]:
    """Requests (visitor, events, first request of the visitor): views, adds, favourites, whole carts
    and purchases over 150 products, a fifth of them of one "hub" that collects more than PRUNE_AT
    neighbours (its list is cut, which depends on the order scores arrive in)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    t = T0
    for i in range(n):
        vid = f"v{rng.randrange(40)}"
        evs = []
        for j in range(rng.randint(1, 4)):
            t += rng.uniform(0, 90)
            pid = "hub" if rng.random() < 0.2 else f"p{rng.randrange(150)}"
            kind = rng.choices(["view", "add", "favorite", "purchase", "cart"], [10, 3, 1, 1, 1])[0]
            if kind == "purchase":
                evs.append(Event(type="purchase", order_id=f"o{i}-{j}", total=1.0, currency="TRY",
                                 items=[(pid, 1, 1.0, None)], ts=t))
            elif kind == "cart":
                evs.append(Event(type="cart", items=[(pid, 1, None, None), (f"p{rng.randrange(150)}", 1, None, None)],
                                 ts=t))
            else:
                evs.append(Event(type=kind, product_id=pid, qty=1 if kind == "add" else None, ts=t))
        out.append((vid, evs, vid not in seen))
        seen.add(vid)
    return out


def tables(path: str) -> tuple[dict[tuple[str, str], float], dict[str, int], dict[str, float]]:
    """rec_neighbours' scores, rec_products' neighbour counts and popularity."""
    c = sqlite3.connect(path)
    try:
        scores = {(a, b): s for a, b, s in c.execute("SELECT product_id, neighbour_id, score FROM rec_neighbours")}
        counts = {p: n for p, n, _ in c.execute("SELECT product_id, neighbours, popularity FROM rec_products")
                  if n}
        popularity = {p: w for p, w in c.execute("SELECT product_id, popularity FROM rec_products")}
        return scores, counts, popularity
    finally:
        c.close()


def log_rows(path: str) -> int:
    c = sqlite3.connect(path)
    try:
        return c.execute("SELECT count(*) FROM rec_log").fetchone()[0]
    finally:
        c.close()


def same_learning(shared: str, direct: str) -> None:
    got, want = tables(shared), tables(direct)
    assert got[0].keys() == want[0].keys()
    assert got[0] == pytest.approx(want[0], rel=1e-9)
    assert got[1] == want[1]
    assert got[2] == pytest.approx(want[2], rel=1e-9)


async def write_all(dbs: list[Database], requests: list[tuple[str, list[Event], bool]]) -> None:
    for n, (vid, evs, new) in enumerate(requests):
        await dbs[n % len(dbs)].write(apply_events, SHOP, vid, evs, T0, new, True)


async def drained(path: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while log_rows(path):
        assert time.monotonic() < deadline, "the learner did not consume the log"
        await asyncio.sleep(0.02)


def learned_directly(tmp_path: Path, requests: list[tuple[str, list[Event], bool]]) -> str:
    """The file one process in direct mode (the default) leaves after `requests`."""
    path = new_file(tmp_path, "direct.db")

    async def run() -> None:
        db = Database(path)
        await db.start()
        try:
            await write_all([db], requests)
        finally:
            await db.close()  # checkpoints the lists and the popularity

    asyncio.run(run())
    memo.clear()
    return path


# -- learning once per event ------------------------------------------------------------------------

def test_two_processes_learn_what_one_process_learns(tmp_path):
    requests = script()
    direct = learned_directly(tmp_path, requests)
    path = new_file(tmp_path, "shared.db")

    async def run() -> list[dict[str, float]]:
        a, b = Database(path, shared=True), Database(path, shared=True)
        await a.start()
        await b.start()
        try:
            await write_all([a, b], requests)  # alternately through both
            await drained(path)
            assert [a.model.learner, b.model.learner].count(True) == 1
            await asyncio.sleep(VERSION_CHECK_EVERY + 0.1)
            # Both serve the learner's lists: the one that learned them, and the other from the table.
            return [await db.read(lambda c: c.model.scores(c, SHOP, {"hub": 1.0, "p3": 0.5}, set())) for db in (a, b)]
        finally:
            await a.close()
            await b.close()

    served = asyncio.run(run())
    same_learning(path, direct)
    assert served[0] and served[0] == pytest.approx(served[1])
    assert KEEP <= sum(1 for source, _ in tables(path)[0] if source == "hub") <= PRUNE_AT


def _views(*pids: str, start: float = T0) -> list[Event]:
    return [Event(type="view", product_id=pid, ts=start + n) for n, pid in enumerate(pids)]


def test_a_replayed_group_commit_learns_each_kept_call_once_and_the_failed_one_not_at_all(tmp_path):
    path = new_file(tmp_path, "replay.db")
    calls = {"v1": 0, "v2": 0, "v3": 0}
    gate = threading.Event()

    def hold(conn):
        gate.wait(10)  # the writer waits here while the next three calls queue up: one batch

    def views(conn, vid, *pids):
        calls[vid] += 1
        apply_events(conn, SHOP, vid, _views(*pids), T0, True, True)

    def refused(conn):
        views(conn, "v2", "c", "d")
        raise ValueError("refused")

    async def run() -> None:
        db = Database(path, shared=True)
        await db.start()
        try:
            held = asyncio.ensure_future(db.write(hold))
            await asyncio.sleep(0.1)
            first = asyncio.ensure_future(db.write(views, "v1", "a", "b"))
            failing = asyncio.ensure_future(db.write(refused))
            last = asyncio.ensure_future(db.write(views, "v3", "x", "y"))
            await asyncio.sleep(0.1)
            gate.set()
            await held
            await first
            await last
            with pytest.raises(ValueError, match="refused"):
                await failing
            await drained(path)
        finally:
            await db.close()

    asyncio.run(run())
    # One batch: run until v2 failed, rolled back, run again with a savepoint each.
    assert calls == {"v1": 2, "v2": 2, "v3": 1}
    scores, _, popularity = tables(path)
    w = 1 / (1 + 1 / 600)  # the second view a second after the first
    assert scores == pytest.approx({("a", "b"): w, ("b", "a"): 0.7 * w, ("x", "y"): w, ("y", "x"): 0.7 * w})
    assert popularity == {"a": 1.0, "b": 1.0, "x": 1.0, "y": 1.0}


def test_a_learner_that_stops_is_replaced_and_nothing_is_lost_or_doubled(tmp_path, monkeypatch):
    requests = script(seed=11)
    direct = learned_directly(tmp_path, requests)
    path = new_file(tmp_path, "takeover.db")
    third = len(requests) // 3

    async def run() -> None:
        dbs = [Database(path, shared=True), Database(path, shared=True)]
        for db in dbs:
            await db.start()
        try:
            await write_all(dbs, requests[:third])
            await drained(path)
            first = next(db for db in dbs if db.model.learner)
            other = next(db for db in dbs if db is not first)
            # The other serves blocks from the lists as they are now; then the learner learns more.
            assert await other.read(lambda c: c.model.scores(c, SHOP, {"hub": 1.0}, set()))
            await write_all(dbs, requests[third:2 * third])
            await drained(path)
            monkeypatch.setattr(learner, "LEARN_EVERY", 30.0)  # the learner's next cycle is far off...
            await asyncio.sleep(0.2)
            await write_all(dbs, requests[2 * third:])
            assert log_rows(path) > 0  # ...so it stops with rows it did not consume
            monkeypatch.setattr(learner, "LEARN_EVERY", 0.02)
            await first.close()
            await drained(path)  # the other takes over, from the table's lists, not the ones it held
            assert other.model.learner
        finally:
            for db in dbs:
                await db.close()

    asyncio.run(run())
    same_learning(path, direct)


def test_a_file_served_alone_again_applies_what_shared_servers_left_in_the_log(tmp_path, monkeypatch):
    requests = script(n=80, seed=13)
    direct = learned_directly(tmp_path, requests)
    path = new_file(tmp_path, "alone.db")
    monkeypatch.setattr(learner, "LEARN_EVERY", 30.0)  # the shared servers stop before their learner learns

    async def run() -> None:
        dbs = [Database(path, shared=True), Database(path, shared=True)]
        for db in dbs:
            await db.start()
        await write_all(dbs, requests)
        for db in dbs:
            await db.close()
        assert log_rows(path) > 0 and not tables(path)[0]
        alone = Database(path)  # direct mode: it reads no log, so it applies what is left at start
        await alone.start()
        await alone.close()

    asyncio.run(run())
    assert log_rows(path) == 0
    same_learning(path, direct)


_CHILD = """
import asyncio, sys
from cartback.db import Database
from cartback.recommend import learner
learner.LEARN_EVERY, learner.BATCH = 0.01, 7

async def main():
    db = Database(sys.argv[1], shared=True)
    await db.start()
    while not db.model.learner:
        await asyncio.sleep(0.01)
    print("learner", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_a_killed_learner_is_replaced_and_nothing_is_lost_or_doubled(tmp_path):
    requests = script(seed=5)
    direct = learned_directly(tmp_path, requests)
    path = new_file(tmp_path, "killed.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "server"), str(REPO)])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, path], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "learner"

        async def run() -> None:
            db = Database(path, shared=True)
            await db.start()
            try:
                # The child consumes a few rows every 10 ms while these are written; it is killed
                # wherever it is, inside its transaction or not.
                await write_all([db], requests[:len(requests) * 2 // 3])
                assert not db.model.learner
                deadline = time.monotonic() + 20
                while not tables(path)[0]:  # on a busy machine the child may not have run yet
                    assert time.monotonic() < deadline, "the child learner consumed nothing"
                    await asyncio.sleep(0.01)
                child.send_signal(signal.SIGKILL)
                child.wait(10)
                await write_all([db], requests[len(requests) * 2 // 3:])
                await drained(path)
                assert db.model.learner
            finally:
                await db.close()

        asyncio.run(run())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    same_learning(path, direct)


def test_a_consume_that_rolls_back_drops_the_learners_memory_and_counts_nothing_twice(tmp_path):
    requests = script(n=60, seed=3)
    direct = learned_directly(tmp_path, requests)
    path = new_file(tmp_path, "rollback.db")
    now = [0.0]
    conn = connect_sync(path, model=SharedModel())
    model = conn.model
    assert isinstance(model, SharedModel)
    lead = Learner(model, path, clock=lambda: now[0])

    def cycle() -> int:
        now[0] += 1.0
        return lead.cycle(conn)

    def learn(part: list[tuple[str, list[Event], bool]]) -> None:
        for vid, evs, new in part:
            transaction(conn, apply_events, SHOP, vid, evs, T0, new, True)

    learn(requests[:30])
    assert cycle() == 0  # the lock, taken; learning starts at the next cycle
    while cycle():
        pass
    assert model.learner and log_rows(path) == 0 and model._lists
    learn(requests[30:])
    conn.execute("CREATE TRIGGER refuse BEFORE DELETE ON rec_log BEGIN SELECT RAISE(ABORT, 'refused'); END")
    before = tables(path)
    assert cycle() == 0  # failed: logged, rolled back
    assert not model._lists and not model.dirty and tables(path) == before and log_rows(path) > 0
    conn.execute("DROP TRIGGER refuse")
    while cycle():
        pass
    assert log_rows(path) == 0
    lead.close()
    conn.close()
    same_learning(path, direct)


# -- serving what the learner learned -----------------------------------------------------------------

def test_other_processes_serve_the_learners_lists_within_a_second(tmp_path):
    path = new_file(tmp_path, "follow.db")
    writer = connect_sync(path, model=SharedModel())
    learning = writer.model
    assert isinstance(learning, SharedModel)
    learning.lead(True)
    now = [100.0]
    reader = connect_sync(path, model=SharedModel(clock=lambda: now[0]))
    follower = reader.model

    def learn(vid: str, *pids: str) -> None:
        transaction(writer, apply_events, SHOP, vid, _views(*pids), T0, True, True)
        transaction(writer, consume, learning)

    learn("u1", "a", "b")
    assert follower.scores(reader, SHOP, {"a": 1.0}, set()) == {"b": 1.0}
    learn("u2", "a", "c")
    learn("u3", "a", "c")
    now[0] += VERSION_CHECK_EVERY * 0.8
    assert follower.scores(reader, SHOP, {"a": 1.0}, set()) == {"b": 1.0}  # held, not read again yet
    # A list loaded now is read with the version: the held ones, older, go too.
    assert follower.scores(reader, SHOP, {"a": 1.0, "c": 1.0}, set()).keys() == {"a", "b", "c"}
    assert follower.scores(reader, SHOP, {"a": 1.0}, set()) == pytest.approx({"b": 1 / 3, "c": 2 / 3})
    learn("u4", "a", "d")
    now[0] += VERSION_CHECK_EVERY
    assert "d" in follower.scores(reader, SHOP, {"a": 1.0}, set())  # within VERSION_CHECK_EVERY
    # The learner's own blocks read its memory: no version to check.
    assert learning.scores(writer, SHOP, {"a": 1.0}, set()).keys() == {"b", "c", "d"}
    writer.close()
    reader.close()


# -- the locks --------------------------------------------------------------------------------------

def test_shared_servers_share_a_file_and_a_lone_server_cannot_join_them(tmp_path):
    path = new_file(tmp_path, "serve.db")

    async def run() -> None:
        a, b = Database(path, shared=True), Database(path, shared=True)
        await a.start()
        await b.start()
        try:
            with pytest.raises(AlreadyServed, match="already served by another cartback process"):
                await Database(path).start()
        finally:
            await a.close()
            await b.close()
        alone = Database(path)
        await alone.start()
        try:
            with pytest.raises(AlreadyServed, match="serves it alone"):
                await Database(path, shared=True).start()
        finally:
            await alone.close()

    asyncio.run(run())


def test_one_file_lock_holder_at_a_time(tmp_path):
    one, two = learner.learner_lock(str(tmp_path / "x.db"), None), learner.learner_lock(str(tmp_path / "x.db"), None)
    assert one.try_acquire() and one.try_acquire() and one.check()
    assert not two.try_acquire() and not two.check()
    one.release()
    assert two.try_acquire() and (tmp_path / "x.db.learner-lock").read_text().strip() == str(os.getpid())
    two.release()


class PgConn:
    """A psycopg connection with `?` placeholders, as cartback's PostgreSQL connection takes them."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.raw = psycopg.connect(url, autocommit=True)

    def execute(self, sql, params=()):
        return self.raw.execute(sql.replace("?", "%s"), params)


def test_postgresql_advisory_lock_elects_one_learner_and_goes_with_its_session(pg_database):
    a, b = PgConn(pg_database), PgConn(pg_database)
    one, two = AdvisoryLock(a), AdvisoryLock(b)
    assert one.try_acquire() and one.try_acquire() and one.check()
    assert not two.try_acquire()
    one.release()
    assert two.try_acquire() and two.check()
    assert not one.try_acquire()
    b.raw.close()  # the holder's process died: its session, and the lock, end
    deadline = time.monotonic() + 10
    while not one.try_acquire():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # A reconnected session does not hold the lock any more: `check` says so.
    one.conn = PgConn(pg_database)
    assert not one.check()
    assert not one.try_acquire()  # the old session still holds it, until it ends
    a.raw.close()
    deadline = time.monotonic() + 10
    while not one.try_acquire():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    one.release()
    one.conn.raw.close()
