"""Shared fixtures: a real Cartback server in a subprocess on a free port, over a real SQLite file;
and `local_server`, the same app in this process (no interpreter start, no port) for tests that need
settings of their own but nothing of uvicorn's.

`pytest -m "not slow"` is the fast tier, run on every change (browser tests are slow, every one);
`pytest` is CI's command. With CARTBACK_TEST_BACKEND=postgresql the same tests run on PostgreSQL
(CARTBACK_TEST_PG, default postgresql://root@127.0.0.1:5432/postgres, names the server): every
database a test asks for (`new_database`) is a schema of its own in a database made for the session
and dropped after it; tests of SQLite itself (its file, its locks, its pragmas) are marked
`sqlite_only` and skipped there.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cartback import caps
from cartback.app import create_app
from cartback.config import Settings
from cartback.connection import Connection, connect_sync, transaction
from cartback.ingest import memo
from cartback.shops import create_shop

with warnings.catch_warnings():
    # Starlette 1.x asks for the `httpx2` fork and warns on import when it finds httpx: both work.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("CARTBACK_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("CARTBACK_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")
POSTGRES = BACKEND == "postgresql"
sqlite_only = pytest.mark.skipif(POSTGRES, reason="about SQLite itself")


class _PgDatabases:
    """One database per test session, one schema per database a test asks for."""

    def __init__(self) -> None:
        self.name = f"cartback_test_{os.getpid()}_{os.urandom(3).hex()}"
        self.count = itertools.count(1)
        self.created = False

    def _admin(self):
        import psycopg

        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)

    def new(self) -> str:
        import psycopg

        if not self.created:
            with self._admin() as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            self.created = True
            # Dropped at exit too: pytest may import this file under two module names (the
            # browser folder's conftest takes the name `conftest`), and then the session hook
            # below holds another instance than the one that created the database.
            atexit.register(self.drop)
        schema = f"t{next(self.count)}"
        base = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{base}?options=-csearch_path%3D{schema}"

    def drop(self) -> None:
        if self.created:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False


# pytest imports this file as `conftest`, the tests as `tests.conftest`: one session database for
# both while `conftest` is still this file (a browser run replaces it; see `new`), dropped by the
# hook below (only `conftest`'s hooks run) or at exit.
_pg: _PgDatabases = getattr(sys.modules.get("conftest"), "_pg", None) or _PgDatabases()


def new_database(tmp_path: Path, name: str = "cartback.db") -> str:
    """A new, empty database for one test: a file in tmp_path, or a PostgreSQL schema of its own."""
    return _pg.new() if POSTGRES else str(tmp_path / name)


@pytest.fixture
def pg_database() -> Any:
    """A PostgreSQL database of the test's own (dropped after it), whatever CARTBACK_TEST_BACKEND
    says: for what is PostgreSQL's alone (advisory locks are per database, so no schema will do)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN} ({exc})")
    name = f"cartback_t_{os.getpid()}_{os.urandom(4).hex()}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def opened(target: Path | str) -> Iterator[Connection]:
    """A connection to a test's database (file or PostgreSQL schema), autocommit, closed after."""
    conn = connect_sync(str(target))
    try:
        yield conn
    finally:
        conn.close()


def query(target: Path | str, sql: str, params: Any = ()) -> list[tuple]:
    """Every row `sql` reads from a test's database, on a connection of its own."""
    with opened(target) as conn:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def table_names(conn: Connection) -> list[str]:
    """The tables of a test's database: its schema's on PostgreSQL."""
    sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
           "AND table_type = 'BASE TABLE'" if POSTGRES else "SELECT name FROM sqlite_master WHERE type = 'table'")
    return sorted(row[0] for row in conn.execute(sql).fetchall())


def pytest_sessionstart(session):
    if not POSTGRES:
        return
    try:
        import psycopg

        psycopg.connect(PG_ADMIN, connect_timeout=5).close()
    except Exception as exc:
        pytest.exit(f"CARTBACK_TEST_BACKEND=postgresql, but no PostgreSQL answers at {PG_ADMIN}: {exc}", returncode=3)


def pytest_sessionfinish(session, exitstatus):
    _pg.drop()
SHARED_DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen | None, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) and wait; a process that ignores SIGTERM is killed after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class ServerProcess:
    """`python -m cartback serve` on 127.0.0.1; stopped by the fixture that started it.

    Its output goes to a file (`log`; `output()` reads it), not a pipe: nobody drains a pipe while
    a test runs, and a chatty server would block on a full one. When the server does not start, the
    error carries the log's tail; when a test using the session's server fails, its report does."""

    def __init__(self, db_path: Path | str, *extra: str, cwd: Path = REPO, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.db_path = db_path
        self.extra = extra
        self.cwd, self.env = cwd, env
        self.port = 0
        self.proc: subprocess.Popen | None = None
        if log is None and not str(db_path).startswith("postgresql:"):
            log = Path(db_path).parent / f"serve-{Path(db_path).stem}.log"  # kept with the test's tmp_path
        elif log is None:
            fd, name = tempfile.mkstemp(prefix="cartback-serve-", suffix=".log")
            os.close(fd)
            log = Path(name)
            weakref.finalize(self, log.unlink, missing_ok=True)
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self, start: int = 0) -> str:
        """What the server wrote from byte `start` of its log on."""
        with open(self.log, "rb") as f:
            f.seek(start)
            return f.read().decode(errors="replace")

    def tail(self, lines: int = 60, start: int = 0) -> str:
        return "\n".join(self.output(start).splitlines()[-lines:])

    def start(self) -> ServerProcess:
        self.port = free_port()
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cartback", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--db", str(self.db_path), *self.extra],
                cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.log}):\n{self.tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not become healthy in 20 s ({self.log}):\n{self.tail()}")

    def stop(self, kill: bool = False) -> None:
        stop_process(self.proc, kill)


class LocalServer:
    """`create_app(Settings(...))` in this process over a SQLite file of the test's own, driven by
    Starlette's TestClient, which runs the lifespan (writer thread, retention loop, render log) in a
    thread of its own until `stop`. `client` is an httpx.Client: redirects not followed, a 500 is an
    answer (as from the real server), `testclient` is the one client address.

    What it is not: uvicorn (header deadlines, connection caps, proxy headers, the access log, a
    socket that stalls or a process that dies): those tests keep `ServerProcess`."""

    def __init__(self, db_path: Path | str, **settings: Any) -> None:
        self.db_path = db_path
        self.settings = Settings(db_path=str(db_path), **settings)
        self.client: TestClient | None = None
        # create_app sets the caps module-wide; put them back for the apps of later tests.
        self._caps = vars(caps.limits).copy()

    def start(self) -> LocalServer:
        memo.clear()  # another test's file may have used the same shop and visitor ids
        self.app = create_app(self.settings)
        self.client = TestClient(self.app, follow_redirects=False, raise_server_exceptions=False)
        self.client.__enter__()
        return self

    def stop(self) -> None:
        if self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None
        vars(caps.limits).update(self._caps)
        memo.clear()


@pytest.fixture
def local_server(tmp_path):
    """`local_server(**settings)` starts a `LocalServer` on a new file in tmp_path; stopped after the test."""
    started: list[LocalServer] = []

    def start(**settings: Any) -> LocalServer:
        server = LocalServer(new_database(tmp_path, f"local{len(started)}.db"), **settings)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def sent_messages(call) -> list[dict]:
    """The ASGI messages `call(send)` sends, run in an event loop of its own."""
    messages: list[dict] = []

    async def send(message):
        messages.append(message)

    asyncio.run(call(send))
    return messages


class Demo:
    """`python -m cartback demo` on ports the OS picks (0), read back from the banner it prints."""

    def __init__(self, db: Path | str, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cartback", "demo", "--host", "127.0.0.1", "--port", "0", "--shop-port", "0",
             "--db", str(db)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        # Drain the output for the whole run so a chatty server can never block on a full pipe.
        threading.Thread(target=self._read, daemon=True).start()
        self.shop = self._wait_for(r"Demo shop:\s+(http://\S+?)/?$")
        self.widget = self._wait_for(r"Widget server:\s+(http://\S+)$")
        self.dashboard = self._wait_for(r"Dashboard:\s+(http://\S+)$")
        self.api_key = next((ln for ln in self.lines if ln.startswith("cb_")), None)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = re.search(pattern, line)
                if m:
                    return m.group(1)
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the reader catch the last lines
                raise RuntimeError("cartback demo exited:\n" + "\n".join(self.lines))
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("cartback demo did not print its URLs:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class Shop:
    id: str
    api_key: str
    origins: list[str]


_shop_numbers = itertools.count(1)


def add_shop(db_path: Path, origins: list[str], selector: str | None = None, locale: str = "tr",
             currency: str = "TRY", settings: dict | None = None, shop_id: str | None = None) -> Shop:
    # A random part too: pytest may load this file twice (as `conftest` and `tests.conftest`), each
    # with its own counter, and both write to the session's one server.
    shop_id = shop_id or f"shop{os.getpid()}-{next(_shop_numbers)}-{os.urandom(3).hex()}"
    conn = connect_sync(str(db_path))
    try:
        key = transaction(conn, create_shop, shop_id, origins, selector, locale, currency, settings)
    finally:
        conn.close()
    return Shop(shop_id, key, origins)


def put_products(db_path: Path, shop_id: str, products: list[dict]) -> None:
    """Catalog rows written straight to the file (the catalog import API has its own tests)."""
    conn = connect_sync(str(db_path))

    def write(c):
        for p in products:
            c.execute(
                "INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'catalog', ?) ON CONFLICT (shop, id) DO UPDATE SET "
                "name = excluded.name, price = excluded.price, currency = excluded.currency, url = excluded.url, "
                "image = excluded.image, category = excluded.category, in_stock = excluded.in_stock, "
                "source = 'catalog', updated_at = excluded.updated_at",
                (shop_id, p["id"], p.get("name"), p.get("price"), p.get("currency", "TRY"), p.get("url"),
                 p.get("image"), p.get("category"), int(p.get("in_stock", True)), time.time()),
            )

    try:
        transaction(conn, write)
    finally:
        conn.close()


UNIT_SHOP = "s1"


@pytest.fixture
def unit_db(tmp_path) -> str:
    """The database of the `conn` fixture (a file, or a PostgreSQL schema), for a second connection."""
    return new_database(tmp_path, "unit.db")


@pytest.fixture
def conn(unit_db):
    """A migrated database with one shop, UNIT_SHOP, for the tests that call the store and the
    recommender directly (test_catalog.py has a `conn` of its own)."""
    memo.clear()  # ingest's memory of what it wrote: another test's file had the same shop id
    c = connect_sync(unit_db)
    transaction(c, create_shop, UNIT_SHOP, ["http://shop.test"])
    yield c
    c.close()
    memo.clear()


@pytest.fixture(scope="session")
def cartback_server(tmp_path_factory):
    # --count-bots: Playwright's Chromium says "HeadlessChrome", which the bot filter drops.
    # --rate-limit 0 and the per-address limits off: tests send bursts from one address no visitor
    # would; the limiters have their own tests (test_endpoints_events.py, test_hostile.py).
    where = tmp_path_factory.mktemp("server")
    server = ServerProcess(new_database(where), "--count-bots", "--rate-limit", "0",
                           "--address-limit", "0", "--key-failure-limit", "0",
                           # The tests' client plays a local reverse proxy (X-Forwarded-For per "visitor").
                           "--trusted-proxy", "127.0.0.1", log=where / "serve.log")
    server.start()
    _session_server.append(server)
    yield server
    _session_server.clear()
    server.stop()


# The session's server, while it runs: a failed test's report shows what it logged during the test.
_session_server: list[ServerProcess] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if _session_server:
        item.stash[_log_start] = _session_server[0].log.stat().st_size


_log_start = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    start = item.stash.get(_log_start, 0)  # 0: the test that started the server
    if report.failed and _session_server and "cartback_server" in item.fixturenames:
        server = _session_server[0]
        if server.log.stat().st_size > start:
            report.sections.append((f"session server log ({server.log}), tail", server.tail(start=start)))


@pytest.fixture
def make_shop(cartback_server):
    def make(origins: list[str] | None = None, selector: str | None = None, locale: str = "tr",
             currency: str = "TRY", settings: dict | None = None) -> Shop:
        # No holdout unless a test asks for one: a held-out visitor never gets the block.
        return add_shop(cartback_server.db_path, origins or ["http://shop.test"], selector, locale, currency,
                        {"holdout_share": 0, **(settings or {})})
    return make


@pytest.fixture
def seed_catalog(cartback_server):
    def seed(shop, products: list[dict]) -> None:
        put_products(cartback_server.db_path, shop.id if hasattr(shop, "id") else shop, products)
    return seed


@pytest.fixture
def api(cartback_server):
    with httpx.Client(base_url=cartback_server.url, timeout=10) as client:
        yield client


def _in_browser_tests(item: pytest.Item) -> bool:
    return "/tests/browser/" in str(item.path).replace("\\", "/")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _in_browser_tests(item):
            item.add_marker(pytest.mark.slow)  # a real Chromium each: never in the fast tier
    # Playwright's sync API keeps an event loop running on the main thread from the first browser
    # test to the end of the session, and asyncio.run() refuses to start inside it: browser tests last.
    items.sort(key=_in_browser_tests)


# When blocks show what the recommender learned from an event: at once with one serving process on
# a SQLite file; on PostgreSQL every server shares its database (`Database.shared`), and one learner
# process applies the log about every second (recommend/learner.py).
LEARNED_WITHIN = 5.0 if POSTGRES else 0.0


def eventually(read: Callable[[], Any], expected: Any, within: float = LEARNED_WITHIN) -> Any:
    """`read()` until it gives `expected` or a read asked after `within` seconds has not; its last
    answer. A read is judged by when it was asked: a slow answer on a busy machine is not late."""
    deadline = time.monotonic() + within
    while True:
        asked = time.monotonic()
        got = read()
        if got == expected or asked >= deadline:
            return got
        time.sleep(0.05)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run `calls` in threads of their own, released at the same moment (processes starting
    together); each one's result, or the exception it raised, in order."""
    ready = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        ready.wait()
        try:
            results[index] = call()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class FakeClock:
    """A clock a test moves by hand: call it, or use it as the `time` module (`.time()`, `.monotonic()`)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now
