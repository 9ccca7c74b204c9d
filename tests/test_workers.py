"""`cartback serve --workers N` on a real SQLite file: several real processes behind one port
(server/cartback/server.py, app.app_from_env, the shared mode of db.Database and of the caches,
locks.py, renders' erasure tombstones).

Which worker answered is read from the kernel: the server side of each test connection is found in
/proc/net/tcp and its socket among the workers' descriptors. Every request here opens a connection
of its own, so the kernel spreads them over the workers, and each test checks that the cases it is
about (an event taken by one worker, the block answered by another) did happen."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cartback.connection import connect_sync
from cartback.dashboard.lockout import MAX_FAILS_PER_ADDRESS

from tests.conftest import (
    REPO,
    LocalServer,
    ServerProcess,
    add_shop,
    eventually,
    free_port,
    new_database,
    put_products,
    sqlite_only,
    stop_process,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # every test starts server processes

ORIGIN = "http://shop.test"


@dataclass
class Answer:
    status: int
    text: str
    worker: int | None

    def json(self) -> dict:
        return json.loads(self.text)


class Workers(ServerProcess):
    """`cartback serve --workers N`, limits off (tests send bursts from one address)."""

    def __init__(self, db_path: Path, n: int, *extra: str) -> None:
        super().__init__(db_path, "--workers", str(n), "--rate-limit", "0", "--address-limit", "0",
                         "--key-failure-limit", "0", *extra)
        self.n = n

    def start(self) -> Workers:
        super().start()
        deadline = time.monotonic() + 30
        answered: set[int | None] = set()
        try:
            # Ready when each of the N workers has answered (the first one up answers /healthz alone).
            while not (len(self.pids()) == self.n and answered >= self.pids()):
                assert time.monotonic() < deadline, f"workers {self.pids()} did not all answer: {answered}"
                answered.add(self.call("GET", "/healthz").worker)
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self) -> set[int]:
        assert self.proc is not None
        pid = self.proc.pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        workers = set()
        for child in children:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    if b"spawn_main" in f.read():
                        workers.add(child)
            except OSError:
                pass  # gone meanwhile
        return workers

    def worker_of(self, client_port: int) -> int | None:
        """The worker holding the server side of the connection from `client_port`."""
        inode = None
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == self.port and \
                        int(fields[2].rsplit(":", 1)[1], 16) == client_port:
                    inode = fields[9]
        target = f"socket:[{inode}]"
        for pid in self.pids():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return pid
                    except OSError:
                        continue
            except OSError:
                continue
        return None

    def call(self, method: str, path: str, body: bytes | str | dict | None = None,
             headers: dict[str, str] | None = None, **params: str) -> Answer:
        """One request on a connection of its own."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if params:
            path += "?" + urlencode(params)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            text = response.read().decode()
            assert conn.sock is not None
            return Answer(response.status, text, self.worker_of(conn.sock.getsockname()[1]))
        finally:
            conn.close()

    def every_worker(self, ask, tries: int = 400) -> None:
        """Call `ask()` (which checks its answer and returns it) until every worker has answered."""
        seen = set()
        for _ in range(tries):
            seen.add(ask().worker)
            if seen >= self.pids():
                return
        raise AssertionError(f"only workers {seen} of {self.pids()} answered in {tries} requests")

    def track(self, shop: str, events: list[dict], vid: str | None = None) -> tuple[str, int | None]:
        answer = self.call("POST", "/v1/events", {"shop": shop, "vid": vid, "events": events},
                           {"content-type": "text/plain"})
        assert answer.status == 200, answer.text
        return answer.json()["vid"], answer.worker

    def block(self, shop: str, vid: str, locale: str = "en") -> Answer:
        return self.call("GET", "/v1/empty-cart", shop=shop, vid=vid, locale=locale)


def product(pid: str, **extra: object) -> dict:
    return {"id": pid, "name": f"Honey {pid}", "price": 100.0, "currency": "TRY", "url": f"{ORIGIN}/p/{pid}",
            **extra}


def shown(answer: Answer) -> list[str]:
    return re.findall(r'data-cartback-product="([^"]+)"', answer.text) if answer.status == 200 else []


@pytest.fixture(scope="module", params=[2, 4], ids=["2-workers", "4-workers"])
def workers(request, tmp_path_factory):
    server = Workers(new_database(tmp_path_factory.mktemp("workers")), request.param).start()
    yield server
    server.stop()


def new_shop(server: Workers, **settings: object):
    return add_shop(server.db_path, [ORIGIN], locale="en", settings={"holdout_share": 0, **settings})


def test_an_acknowledged_event_is_in_the_next_block_whichever_worker_answers(workers):
    shop = new_shop(workers)
    put_products(workers.db_path, shop.id, [product(f"p{i}") for i in range(200)])
    vid = None
    crossed = 0
    for i in range(200):  # 40 at least; more while the kernel gives blocks to the worker that took the event
        vid, took = workers.track(shop.id, [{"type": "view", "product": f"p{i}"}], vid)
        block = workers.block(shop.id, vid)
        # The product just acknowledged leads the block, not the one before it.
        assert shown(block)[:1] == [f"p{i}"], (i, took, block.worker, block.status)
        crossed += took != block.worker
        if i >= 39 and crossed >= 3:
            break
    assert crossed >= 3, "the kernel gave every block to the worker that took its event"


def test_a_settings_change_reaches_every_worker_within_a_second(workers):
    shop = new_shop(workers, max_block=8)
    auth = {"authorization": f"Bearer {shop.api_key}"}
    path = f"/v1/shops/{shop.id}/settings"

    def max_block(expected: int):
        def ask() -> Answer:
            answer = workers.call("GET", path, headers=auth)
            assert answer.json()["settings"]["max_block"] == expected, f"worker {answer.worker}: old settings"
            return answer
        return ask

    workers.every_worker(max_block(8))  # every worker holds the shop in its registry
    changed = workers.call("PATCH", path, {"max_block": 5}, auth)
    assert changed.status == 200 and changed.json()["settings"]["max_block"] == 5
    time.sleep(1.0)
    workers.every_worker(max_block(5))


def test_a_catalog_import_reaches_every_worker_within_a_second(workers):
    shop = new_shop(workers)
    auth = {"authorization": f"Bearer {shop.api_key}"}

    def feed(name: str) -> str:
        return f"id,name,price,currency,url\nhoney,{name},100,TRY,{ORIGIN}/p/honey\n"

    assert workers.call("PUT", f"/v1/shops/{shop.id}/catalog", feed("Acacia honey"), auth).status == 200
    vid, _ = workers.track(shop.id, [{"type": "view", "product": "honey"}])

    def named(name: str):
        def ask() -> Answer:
            block = workers.block(shop.id, vid)
            assert name in block.text, f"worker {block.worker} shows another name"
            return block
        return ask

    workers.every_worker(named("Acacia honey"))  # every worker has the product in its cache
    imported = workers.call("PUT", f"/v1/shops/{shop.id}/catalog", feed("Chestnut honey"), auth)
    assert imported.status == 200 and imported.json()["updated"] == 1
    time.sleep(1.0)
    workers.every_worker(named("Chestnut honey"))


def test_guessed_keys_lock_the_dashboard_sign_in_on_every_worker(workers):
    shop = new_shop(workers)
    form = {"content-type": "application/x-www-form-urlencoded"}
    for i in range(MAX_FAILS_PER_ADDRESS):
        wrong = workers.call("POST", "/dashboard/login?lang=en", urlencode({"shop": shop.id, "key": f"cb_guess{i}"}),
                             form)
        assert wrong.status == 401, wrong.text

    def locked() -> Answer:
        answer = workers.call("POST", "/dashboard/login?lang=en", urlencode({"shop": shop.id, "key": shop.api_key}),
                              form)
        assert answer.status == 429 and "Please wait 15 minutes" in answer.text, \
            f"worker {answer.worker} let the address try again: {answer.status}"
        return answer

    # The kernel spread the five failures over the workers, so some worker took fewer than five, or
    # none; every worker refuses all the same: each counts all of them, not N times the tries.
    workers.every_worker(locked)


def visitor_rows(db_path: Path, shop: str, vid: str) -> dict[str, int]:
    conn = connect_sync(str(db_path))
    try:
        return {table: conn.execute(f"SELECT count(*) FROM {table} WHERE shop = ? AND vid = ?",
                                    (shop, vid)).fetchone()[0]
                for table in ("events", "visitor_items", "visitors", "blocks")}
    finally:
        conn.close()


def test_erasing_a_visitor_through_one_worker_removes_what_the_others_wrote(workers):
    shop = new_shop(workers)
    put_products(workers.db_path, shop.id, [product(p) for p in ("a", "b", "c")])
    auth = {"authorization": f"Bearer {shop.api_key}"}
    erased = []
    blocks = 0
    for _ in range(4):
        token, _ = workers.track(shop.id, [{"type": "view", "product": "a"}, {"type": "add", "product": "b"}])
        workers.track(shop.id, [{"type": "favorite", "product": "c"}], token)

        def block(token: str = token) -> Answer:
            nonlocal blocks
            answer = workers.block(shop.id, token)  # its record waits in that worker's render log
            assert answer.status == 200
            blocks += 1
            return answer

        # Every worker holds a record of this visitor's block, so whichever worker takes the erasure,
        # the others hold one too (the kernel may send a busy machine's requests all to one worker).
        workers.every_worker(block)
        vid = token.split(".")[0]
        gone = workers.call("DELETE", f"/v1/shops/{shop.id}/visitors/{vid}", headers=auth)
        assert gone.status == 200 and gone.json()["erased"], gone.text
        erased.append(vid)
    time.sleep(1.5)  # every worker's render log has been written by now
    for _ in range(2):
        for vid in erased:
            assert visitor_rows(workers.db_path, shop.id, vid) == dict.fromkeys(
                ("events", "visitor_items", "visitors", "blocks"), 0), vid
        time.sleep(1.0)  # and nothing comes back later
    # The blocks still count for the report, under the erased visitors' new ids.
    conn = connect_sync(str(workers.db_path))
    try:
        kept = conn.execute("SELECT count(*) FROM blocks WHERE shop = ? AND vid LIKE 'erased-%'", (shop.id,))
        assert kept.fetchone()[0] == blocks
    finally:
        conn.close()


def stalled_upload(server: Workers, shop) -> tuple[socket.socket, int | None]:
    """A catalog upload whose body stops half-way: its worker holds the shop's import lock."""
    body = f"id,name,url\nslow,Slow honey,{ORIGIN}/p/slow\n".encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PUT /v1/shops/{shop.id}/catalog HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {shop.api_key}\r\n"
                 f"Content-Length: {len(body) + 5}\r\n\r\n".encode() + body)
    # Until a worker accepts the connection no process holds its socket: ask until one does.
    deadline = time.monotonic() + 10
    while (holder := server.worker_of(sock.getsockname()[1])) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return sock, holder


def answered(sock: socket.socket) -> bool:
    """Whether the server has answered on `sock` (or closed it), without waiting or consuming."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return True
    except BlockingIOError:
        return False
    finally:
        sock.setblocking(True)


def test_one_catalog_import_per_shop_across_workers_and_the_command_line(workers):
    shop = new_shop(workers)
    other = new_shop(workers)
    auth = {"authorization": f"Bearer {shop.api_key}"}
    feed = f"id,name,url\nquick,Quick honey,{ORIGIN}/p/quick\n"
    sock, holder = stalled_upload(workers, shop)
    try:
        deadline = time.monotonic() + 10
        refused_by = set()
        while len(refused_by) < workers.n:  # every worker refuses, the holder's and the others
            assert time.monotonic() < deadline, refused_by
            answer = workers.call("PUT", f"/v1/shops/{shop.id}/catalog", feed, auth)
            if answer.status == 200:
                # This import took the lock before the stalled upload's handler asked for it: that
                # one got 429, and goes again.
                if answered(sock):
                    sock.close()
                    sock, holder = stalled_upload(workers, shop)
                continue
            assert answer.status == 429 and answer.json()["error"]["code"] == "import_running", answer.text
            refused_by.add(answer.worker)
        assert holder in refused_by
        cli = subprocess.run([sys.executable, "-m", "cartback", "catalog", "import", shop.id, "-", "--db",
                              str(workers.db_path)], input=feed, cwd=REPO, capture_output=True, text=True,
                             timeout=60)
        assert cli.returncode == 1
        assert cli.stderr.strip() == "cartback: shop: an import for this shop is running; retry when it has finished"
        # Other shops import meanwhile.
        assert workers.call("PUT", f"/v1/shops/{other.id}/catalog", feed,
                            {"authorization": f"Bearer {other.api_key}"}).status == 200
        sock.sendall(b"\n\n\n\n\n")  # the rest of the body: the stalled import ends
        assert b" 200 OK" in sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert workers.call("PUT", f"/v1/shops/{shop.id}/catalog", feed, auth).status == 200


def test_a_killed_worker_loses_no_acknowledged_event_and_is_replaced(tmp_path):
    server = Workers(new_database(tmp_path), 2).start()
    try:
        shop = new_shop(server)
        before = server.pids()
        acked: list[str] = []
        stop = threading.Event()

        def load(thread: int) -> None:
            # One kept-alive connection per thread, opened again when its worker is killed.
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            vid = None
            for i in range(100_000):
                if stop.is_set():
                    break
                pid = f"t{thread}-{i}"
                body = json.dumps({"shop": shop.id, "vid": vid, "events": [{"type": "add", "product": product(pid)}]})
                try:
                    conn.request("POST", "/v1/events", body, {"content-type": "text/plain"})
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()  # not acknowledged: the killed worker's connection
                    continue
                if response.status == 200:
                    vid = json.loads(answer)["vid"]
                    acked.append(pid)
            conn.close()

        threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        assert eventually(lambda: len(acked) > 20, True, 30), f"{len(acked)} events acknowledged before the kill"
        victim = min(before)
        at_kill = len(acked)
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.0)  # events sent to the killed worker meanwhile fail, and are not counted
        assert eventually(lambda: len(acked) > at_kill + 20, True, 30), \
            f"{len(acked) - at_kill} events acknowledged after the kill"
        stop.set()
        for t in threads:
            t.join(30)
        conn = connect_sync(str(server.db_path))
        try:
            stored = {r[0] for r in conn.execute("SELECT product_id FROM events WHERE shop = ? AND type = 'add'",
                                                 (shop.id,))}
        finally:
            conn.close()
        assert set(acked) <= stored, sorted(set(acked) - stored)[:10]
        # uvicorn's supervisor started a new worker in its place.
        deadline = time.monotonic() + 15
        while not (len(server.pids()) == 2 and victim not in server.pids()):
            assert time.monotonic() < deadline, server.pids()
            time.sleep(0.1)
    finally:
        server.stop()


@sqlite_only  # PostgreSQL takes any number of servers
def test_a_second_server_or_demo_on_the_file_is_refused(tmp_path):
    db = tmp_path / "cartback.db"
    server = Workers(db, 2, "--rate-limit", "600").start()
    try:
        # The one rule that is not shared is said as the server starts.
        assert "Rate limits are counted in each worker: a client whose requests reach all 2 may get up to 2 " \
               "times --rate-limit" in server.output()
        for command in (["serve", "--port", str(free_port())], ["demo", "--port", "0", "--shop-port", "0"]):
            second = subprocess.run([sys.executable, "-m", "cartback", *command, "--host", "127.0.0.1",
                                     "--db", str(db)], cwd=REPO, capture_output=True, text=True, timeout=60)
            assert second.returncode == 2
            # The parent and its workers hold the lock together; the file names the last to take it.
            holder = re.search(rf"{re.escape(str(db))} is already served by another cartback process \(pid (\d+)\)",
                               second.stderr)
            assert holder and int(holder.group(1)) in {server.proc.pid, *server.pids()}, second.stderr
            assert "--workers" in second.stderr
        assert server.call("GET", "/healthz").status == 200
    finally:
        server.stop()
    # The lock went with the parent: the file can be served again, by one process too.
    alone = ServerProcess(db)
    before = alone.log.stat().st_size  # the same log as the workers'
    alone.start().stop()
    assert "Cartback on http://" in alone.output(before) and "Rate limits" not in alone.output(before)


def test_workers_end_with_their_parent_even_when_it_is_killed(tmp_path):
    # The parent holds the file's serve lock for them: a worker left behind would serve it unlocked.
    db = tmp_path / "cartback.db"
    server = Workers(db, 2).start()
    orphans = server.pids()
    server.stop(kill=True)
    deadline = time.monotonic() + 15
    while any(os.path.exists(f"/proc/{pid}") and not _zombie(pid) for pid in orphans):
        assert time.monotonic() < deadline, "workers outlived their parent"
        time.sleep(0.1)
    ServerProcess(db).start().stop()


@pytest.mark.parametrize("n", [1, 2])
def test_a_server_whose_workers_cannot_start_exits_3_instead_of_retrying(tmp_path, n):
    code = ("import sys\nfrom pathlib import Path\nfrom cartback.config import Settings\n"
            "from cartback.server import run\n"
            f"sys.exit(run(Settings(db_path={str(tmp_path / 'c.db')!r}, port={free_port()}, "
            f"snippet_path=Path({str(tmp_path / 'missing.js')!r})), 'warning', workers={n}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "missing.js" in done.stderr



def probe_app():
    """An app factory for server.run(factory=...): the process's app plus GET /probe, which names
    the process and whether its settings put it in shared mode."""
    from cartback.app import app_from_env
    from cartback.config import WORKER_SETTINGS_ENV, Settings
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def probe(request):
        shared = Settings.from_json(os.environ[WORKER_SETTINGS_ENV]).shared
        return JSONResponse({"pid": os.getpid(), "shared": shared})

    app = app_from_env()
    app.router.routes.insert(0, Route("/probe", probe))
    return app


@pytest.mark.parametrize("n", [1, 2])
def test_an_app_factory_builds_the_app_of_every_process(tmp_path, n):
    """The hook bench/workers.py uses to add its reference route: every process serves the factory's app."""
    port = free_port()
    code = ("import sys\nfrom cartback.config import Settings\nfrom cartback.server import run\n"
            f"sys.exit(run(Settings(db_path={str(tmp_path / 'c.db')!r}, port={port}), 'warning', workers={n}, "
            "factory='tests.test_workers:probe_app'))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    answers: dict[int, bool] = {}
    try:
        deadline = time.monotonic() + 60
        while len(answers) < n:
            assert time.monotonic() < deadline and proc.poll() is None, f"processes that answered: {answers}"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/probe")
                response = conn.getresponse()
                assert response.status == 200, response.read()
                answer = json.loads(response.read())
                answers[answer["pid"]] = answer["shared"]
            except OSError:
                time.sleep(0.05)  # not listening yet
            finally:
                conn.close()
    finally:
        stop_process(proc)
    assert list(answers.values()) == [n > 1] * n
    assert (proc.pid in answers) == (n == 1)  # one process serves itself; N workers are its children

def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_every_worker_keeps_the_header_deadline_and_redacts_tokens(tmp_path):
    server = Workers(tmp_path / "cartback.db", 2, "--header-timeout", "1", "--log-level", "debug").start()
    try:
        slow = []
        # Until every worker holds some (a busy machine may let one worker accept many in a row).
        while {w for _, w in slow} - {None} != server.pids():
            assert len(slow) < 200, {w for _, w in slow}
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
            time.sleep(0.01)  # accepted by then, so worker_of finds its socket
            slow.append((s, server.worker_of(s.getsockname()[1])))
        time.sleep(1.5)
        for s, worker in slow:
            s.settimeout(2)
            try:
                assert s.recv(100) == b"", worker
            except ConnectionResetError:
                pass  # aborted: closed all the same
            s.close()
        server.every_worker(lambda: server.call("GET", "/v1/empty-cart", shop="nope", vid="SECRETTOKEN"))
    finally:
        server.stop()
    log = server.output()
    assert "vid=…" in log and "SECRETTOKEN" not in log


def learned(target: str, shop: str) -> tuple[dict, dict]:
    conn = connect_sync(target)
    try:
        lists = {(p, n): score for p, n, score in conn.execute(
            "SELECT product_id, neighbour_id, score FROM rec_neighbours WHERE shop = ?", (shop,))}
        popular = {p: score for p, score in conn.execute(
            "SELECT product_id, popularity FROM rec_products WHERE shop = ? AND popularity > 0", (shop,))}
        return lists, popular
    finally:
        conn.close()


def test_every_event_is_learned_once_whichever_worker_takes_it(workers, tmp_path):
    """The same visits through the workers and through one server alone (direct learning) leave the
    same neighbours and popularity: nothing learned twice, nothing lost."""
    shop = new_shop(workers)
    reference = LocalServer(str(tmp_path / "alone.db"), count_bots=True).start()
    try:
        alone = add_shop(reference.db_path, [ORIGIN], locale="en", settings={"holdout_share": 0}, shop_id=shop.id)
        kinds = ["view", "view", "add", "favorite", "view", "purchase"]
        start = time.time() - 3600
        tokens: dict[tuple[str, int], str | None] = {}
        for step in range(6):
            for visitor in range(10):
                pid = f"p{(visitor * 3 + step * 2) % 9}"
                event: dict = {"type": kinds[step], "product": product(pid), "ts": start + visitor * 60 + step * 30}
                if kinds[step] == "purchase":
                    event = {"type": "purchase", "order_id": f"o{visitor}", "value": 100.0, "ts": event["ts"],
                             "items": [{"id": pid, "qty": 1, "price": 100.0}]}
                for where, key, send in (("workers", shop.api_key, workers.call), ("alone", alone.api_key, None)):
                    body = {"shop": shop.id, "vid": tokens.get((where, visitor)), "events": [event]}
                    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
                    if send is not None:
                        answer = send("POST", "/v1/events", body, headers)
                        status, text = answer.status, answer.text
                    else:
                        r = reference.client.post("/v1/events", json=body, headers=headers)
                        status, text = r.status_code, r.text
                    assert status == 200, text
                    tokens[(where, visitor)] = json.loads(text)["vid"]
    finally:
        reference.stop()  # its writer checkpoints what it learned as it stops
    expected_lists, expected_popular = learned(reference.db_path, shop.id)
    assert len(expected_lists) > 20 and len(expected_popular) == 9
    deadline = time.monotonic() + 15
    while True:  # the learner (one of the workers) applies the log within a few seconds
        lists, popular = learned(str(workers.db_path), shop.id)
        if lists.keys() == expected_lists.keys() and popular.keys() == expected_popular.keys() and all(
                abs(lists[k] - v) < 1e-9 for k, v in expected_lists.items()) and all(
                abs(popular[k] - v) < 1e-9 for k, v in expected_popular.items()):
            break
        assert time.monotonic() < deadline, (sorted(set(lists.items()) ^ set(expected_lists.items()))[:6],
                                             popular, expected_popular)
        time.sleep(0.2)
