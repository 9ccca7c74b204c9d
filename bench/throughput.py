"""Throughput of Cartback's hot endpoints, as ratios to a bare Starlette endpoint on the same server.

    python bench/throughput.py [--duration 10] [--connections 32] [--runs 3] [--profile DIR]

One uvicorn process (uvloop + httptools, access log off) serves `cartback.app.create_app(...)`
pinned to CPU 0, with one extra route added only here: `GET /__bare` returning
PlainTextResponse("ok"). `wrk` drives it from CPU 1. Each run measures, one after the other:

    bare        GET /__bare
    snippet     GET /snippet.js               (Accept-Encoding: gzip, as a browser sends it)
    events      POST /v1/events               (text/plain, one `view` with product details,
                                               rotating over 1000 visitors x 200 products)
    block       GET /v1/empty-cart            (one visitor with 50 events; the block shows 8 cards:
                                               cart 2, viewed 4, similar 2)
    block-many  GET /v1/empty-cart            (rotating over 200 such visitors, so nothing
                                               cached per visitor can flatter the number)

All data is prepared through the real HTTP API before measuring (the catalog is written straight
to the database, as the CLI import would). Absolute req/s on a 2-core machine move by 10-20% from
one minute to the next; the ratio to the bare endpoint measured in the same run is what to
compare, with the server's CPU time per request (steadier still). The table shows the median req/s
over runs and the median of the per-run ratios. bench/README.md explains the columns.

Exit status: 0 all targets met, 1 a target missed, 2 the benchmark itself failed (wrong statuses,
socket errors, missing wrk). It is a benchmark, not a CI test.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The `cartback` package lives in server/ (the source folder): a checkout runs without an install.
if str(REPO / "server") not in sys.path:
    sys.path.insert(0, str(REPO / "server"))

SCRIPT = Path(__file__).resolve()
LUA = SCRIPT.parent / "throughput.lua"
SHOP = "bench"
ORIGIN = "http://shop.test"
N_PRODUCTS = 200
N_OUT_OF_STOCK = 10
N_EVENT_VISITORS = 1000
N_EVENT_LINES = 5000
EVENTS_PER_BLOCK_VISITOR = 50
CARDS_EXPECTED = 8

# Every request carries what a browser would send; the bare endpoint gets the same headers.
COMMON_HEADERS = [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Accept: */*",
    "Accept-Language: tr-TR,tr;q=0.9,en;q=0.8",
    "Accept-Encoding: gzip, deflate, br",
]
WRK_INSTALL = ("wrk is not installed. On Debian/Ubuntu: `apt-get install -y wrk` (as root); on macOS: "
               "`brew install wrk`. Then run this again.")


@dataclass
class Endpoint:
    name: str
    label: str
    target: float | None
    lines: list[str]
    headers: list[str] = field(default_factory=list)
    expected_status: int = 200


@dataclass
class Measurement:
    rps: float
    requests: int
    server_cpu: float  # share of one core used by the server process during the run
    wrk_cpu: float
    p50_ms: float | None
    p99_ms: float | None
    others_cpu: float | None = None  # CPU time of other processes on the server's core, share of wall time
    steal: float | None = None  # hypervisor steal on the server's core
    load_others_cpu: float | None = None  # other processes on wrk's core
    wall: float = 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU per request (all its threads), µs: robust to time lost to other processes."""
        return self.server_cpu * self.wall / max(1, self.requests) * 1e6


# -- the server child ---------------------------------------------------------------------------

def bench_settings(db_path: str, port: int = 8000):
    """The server's settings: every limit off, as wrk is one address sending what thousands of
    visitors would."""
    from cartback.config import Settings

    return Settings(db_path=db_path, port=port, count_bots=True, rate_limit_per_minute=0, address_limit_per_minute=0)


async def _bare(request):
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("ok")


def add_bare(app):
    """The reference every ratio is taken against, first in the route list: it pays the least
    routing, which keeps the ratios honest."""
    from starlette.routing import Route

    app.router.routes.insert(0, Route("/__bare", _bare, methods=["GET"]))
    return app


def serve_child(db_path: str, port: int) -> None:
    """Runs in the child process: the real app plus /__bare, under uvicorn with uvloop + httptools."""
    import uvicorn
    from cartback.app import create_app

    app = add_bare(create_app(bench_settings(db_path)))
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", access_log=False,
                log_level="warning", lifespan="on")


def child_setup(cpu: int | None, priority: bool):
    """preexec_fn for the server, wrk and py-spy: pin to one CPU; with --priority, run in an
    autogroup of its own at nice -10 (Linux schedules sessions fairly against each other, so a plain
    nice does nothing against other sessions' busy processes)."""
    def setup() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        if priority:
            try:
                Path("/proc/self/autogroup").write_text("-10")
            except OSError:
                pass
            try:
                os.setpriority(os.PRIO_PROCESS, 0, -10)
            except OSError:
                pass
    return setup


class Server:
    """The server child: `script --serve-child DB PORT *extra` (this file's serve_child by default)."""

    def __init__(self, db_path: Path | str, cpu: int | None, log_path: Path, priority: bool = False,
                 script: Path = SCRIPT, extra: tuple[str, ...] = ()) -> None:
        self.db_path = db_path
        self.script = script
        self.extra = extra
        self.cpu = cpu
        self.priority = priority
        self.log_path = log_path
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open as long as the server runs
        self.proc = subprocess.Popen(
            [sys.executable, str(self.script), "--serve-child", str(self.db_path), str(self.port), *self.extra],
            cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=child_setup(self.cpu, self.priority),
            start_new_session=self.priority,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited at start-up:\n{self.log_tail()}")
            try:
                status, _, _ = Client(self.port).request("GET", "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"the server did not answer /healthz within 30 s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process, all threads, and of the processes it started
        (`--workers`); NaN where /proc is missing."""
        assert self.proc is not None
        return process_cpu([self.proc.pid], children=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


def process_cpu(pids: list[int], children: bool = False) -> float:
    """User + system CPU seconds of these processes (all threads), with `children` of their
    descendants too; NaN when none can be read."""
    total, found, todo = 0.0, False, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found = True
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if children:
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    todo += [int(c) for c in task.read_text().split()]
                except OSError:
                    pass
    return total if found else math.nan


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchError(Exception):
    pass


# -- a small keep-alive HTTP client for preparing data --------------------------------------------

class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body.encode() if body is not None else None, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def post_events(self, token: str | None, events: list[dict]) -> str:
        payload = {"shop": SHOP, **({"vid": token} if token else {}), "events": events}
        status, _, data = self.request("POST", "/v1/events", json.dumps(payload, ensure_ascii=False),
                                       {"content-type": "text/plain;charset=UTF-8", "origin": ORIGIN})
        if status != 200:
            raise BenchError(f"POST /v1/events answered {status} while preparing data: {data[:300]!r}")
        answer = json.loads(data)
        if answer.get("accepted") != len(events):
            raise BenchError(f"POST /v1/events accepted {answer.get('accepted')} of {len(events)}: {answer}")
        return answer["vid"]


# -- data -------------------------------------------------------------------------------------------

HONEY = ["Çiçek Balı", "Kestane Balı", "Çam Balı", "Ayçiçek Balı", "Karakovan Balı", "Petek Bal", "Meşe Balı",
         "Lavanta Balı", "Narenciye Balı", "Yayla Balı"]
SIZES = ["250 g", "460 g", "850 g", "1 kg", "2 kg"]


def make_catalog(rng: random.Random) -> list[dict]:
    out_of_stock = set(rng.sample(range(N_PRODUCTS), N_OUT_OF_STOCK))
    products = []
    for i in range(N_PRODUCTS):
        pid = f"p{i:04d}"
        products.append({
            "id": pid,
            "name": f"{HONEY[i % len(HONEY)]} {SIZES[i % len(SIZES)]} no. {i}",
            "price": round(rng.uniform(90, 1400), 2),
            "currency": "TRY",
            "url": f"{ORIGIN}/urun/{pid}",
            "image": f"{ORIGIN}/img/{pid}.jpg",
            "category": "Bal > " + HONEY[i % len(HONEY)],
            "in_stock": i not in out_of_stock,
        })
    return products


def create_shop_and_catalog(db_path: Path | str, products: list[dict]) -> None:
    from cartback.connection import connect_sync, transaction
    from cartback.shops import create_shop

    def write(conn):
        # No holdout: every request of the block benchmark renders the block (a held-out visitor
        # gets a cheaper 204, which would flatter the figure).
        create_shop(conn, SHOP, [ORIGIN], "woocommerce", "tr", "TRY", {"holdout_share": 0})
        for p in products:
            conn.execute(
                "INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'catalog', ?)",
                (SHOP, p["id"], p["name"], p["price"], p["currency"], p["url"], p["image"], p["category"],
                 int(p["in_stock"]), time.time()),
            )

    conn = connect_sync(str(db_path))
    try:
        transaction(conn, write)
    finally:
        conn.close()


def view_event(p: dict) -> dict:
    """What the snippet sends for a product page: the JSON-LD Product's fields."""
    return {"type": "view", "product": {k: p[k] for k in ("id", "name", "url", "image", "category", "price",
                                                          "currency", "in_stock")}}


def visitor_session(rng: random.Random, products: list[dict]) -> list[dict]:
    """50 events of one browsing history: 47 views of 24 products, 2 cart adds, then the cart emptied.

    The block then shows 2 "was in your cart", 4 "recently viewed" and 2 "you may also like"
    cards (8 in all), so the recommender's serving queries are part of the figure.
    """
    in_stock = [p for p in products if p["in_stock"]]
    seen = rng.sample(products, 20) + rng.sample(in_stock, 4)
    carted = rng.sample([p for p in seen if p["in_stock"]], 2)
    events: list[dict] = [view_event(p) for p in seen]
    events += [view_event(rng.choice(seen)) for _ in range(47 - len(events))]
    rng.shuffle(events)
    events += [{"type": "add", "product": {"id": p["id"]}, "qty": rng.randint(1, 3)} for p in carted]
    events.append({"type": "cart", "items": []})
    assert len(events) == EVENTS_PER_BLOCK_VISITOR
    return events


def prepare(port: int, products: list[dict], block_visitors: int, rng: random.Random) -> dict[str, list[str]]:
    """Visitors made through the real API; returns the request lines for each endpoint."""
    client = Client(port)
    # Visitors for the POST benchmark: each gets its token from a first real view.
    event_tokens = [client.post_events(None, [view_event(rng.choice(products))]) for _ in range(N_EVENT_VISITORS)]
    event_lines = []
    for i in range(N_EVENT_LINES):
        body = {"shop": SHOP, "vid": event_tokens[i % N_EVENT_VISITORS], "events": [view_event(rng.choice(products))]}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        assert "\t" not in text and "\n" not in text
        event_lines.append(f"POST\t/v1/events\t{text}")

    # Visitors for the block: 50 events each, posted in batches of 5 as a browsing session would.
    block_paths = []
    for _ in range(block_visitors):
        token = None
        session = visitor_session(rng, products)
        for start in range(0, len(session), 5):
            token = client.post_events(token, session[start:start + 5])
        block_paths.append(f"/v1/empty-cart?shop={SHOP}&vid={token}")

    # Every prepared visitor must really get a block of 8 cards.
    compositions: collections.Counter[str] = collections.Counter()
    for path in block_paths:
        status, _, html = client.request("GET", path, headers={"origin": ORIGIN})
        cards = html.count(b"data-cartback-product=")
        if status != 200 or cards != CARDS_EXPECTED:
            raise BenchError(f"GET {path} answered {status} with {cards} cards; expected 200 with {CARDS_EXPECTED}")
        compositions[block_composition(html.decode())] += 1
    status, headers, _ = client.request("GET", "/snippet.js", headers={"accept-encoding": "gzip"})
    if status != 200 or headers.get("content-encoding") != "gzip":
        raise BenchError(f"GET /snippet.js answered {status}, content-encoding {headers.get('content-encoding')!r}")
    status, _, body = client.request("GET", "/__bare")
    if status != 200 or body != b"ok":
        raise BenchError(f"GET /__bare answered {status} {body!r}")
    return {
        "compositions": [f"{n} x {c}" for c, n in compositions.most_common()],
        "events": event_lines,
        "block": [f"GET\t{block_paths[0]}"],
        "block-many": [f"GET\t{p}" for p in block_paths],
    }


def make_endpoints(lines: dict[str, list[str]], block_visitors: int) -> list[Endpoint]:
    """The rows, from prepare()'s request lines."""
    api = [f"Origin: {ORIGIN}"]
    return [
        Endpoint("bare", "GET /__bare: PlainTextResponse('ok')", None, ["GET\t/__bare"]),
        Endpoint("snippet", "GET /snippet.js, gzip", 0.8, ["GET\t/snippet.js"]),
        Endpoint("events", f"POST /v1/events, 1 view ({N_EVENT_VISITORS} visitors)", 0.4, lines["events"],
                 ["Content-Type: text/plain;charset=UTF-8", *api]),
        Endpoint("block", "GET /v1/empty-cart, 1 visitor, 8 cards", 0.2, lines["block"], api),
        Endpoint("block-many", f"GET /v1/empty-cart, {block_visitors} visitors, 8 cards", 0.2,
                 lines["block-many"], api),
    ]


def block_composition(html: str) -> str:
    """'cart 2, viewed 4, similar 2': the cards per section of one block's HTML."""
    parts = re.split(r'data-section="([a-z_-]+)"', html)
    return ", ".join(f"{parts[i]} {parts[i + 1].count('data-cartback-product=')}" for i in range(1, len(parts) - 1, 2))


# -- wrk --------------------------------------------------------------------------------------------

_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_CHECK = re.compile(r"CARTBACK-CHECK requests=(\d+) bad=(\d+) last_bad_status=(\d+)")
_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


@dataclass
class Rig:
    """Where and how load is generated."""

    wrk: str
    server: Server
    workdir: Path
    connections: int
    threads: int
    server_cpu: int | None
    load_cpu: int | None
    priority: bool


def _cpu_busy(cpu: int | str | None) -> tuple[float, float]:
    """(busy, steal) seconds of one CPU ("" for all of them) since boot, from /proc/stat; (0, 0)
    when not pinned."""
    if cpu is None or not Path("/proc/stat").exists():
        return 0.0, 0.0
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            v = [int(x) for x in line.split()[1:]]
            user, nice, system, _idle, _iowait, irq, softirq, steal = [*v, 0, 0, 0, 0, 0, 0, 0, 0][:8]
            tick = os.sysconf("SC_CLK_TCK")
            return (user + nice + system + irq + softirq) / tick, steal / tick
    return 0.0, 0.0


def run_wrk(rig: Rig, endpoint: Endpoint, duration: float) -> Measurement:
    server = rig.server
    req_file = rig.workdir / f"requests-{endpoint.name}.txt"
    if not req_file.exists():
        req_file.write_text("\n".join(endpoint.lines) + "\n", encoding="utf-8")
    cmd = [rig.wrk, "-t", str(rig.threads), "-c", str(rig.connections), "-d", f"{max(1, round(duration))}s",
           "--latency", "--timeout", "5s", "-s", str(LUA)]
    for h in COMMON_HEADERS + endpoint.headers:
        cmd += ["-H", h]
    cmd += [f"http://127.0.0.1:{server.port}/", "--", str(req_file), str(endpoint.expected_status)]

    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, steal0 = _cpu_busy(rig.server_cpu)
    lbusy0, _ = _cpu_busy(rig.load_cpu)
    cpu0, t0 = server.cpu_seconds(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                          preexec_fn=child_setup(rig.load_cpu, rig.priority), start_new_session=rig.priority)
    cpu1, t1 = server.cpu_seconds(), time.monotonic()
    busy1, steal1 = _cpu_busy(rig.server_cpu)
    lbusy1, _ = _cpu_busy(rig.load_cpu)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BenchError(f"wrk failed for {endpoint.name} (exit {proc.returncode}):\n{out}")
    if not server.alive():
        raise BenchError(f"the server died during {endpoint.name}:\n{server.log_tail()}")
    rps_m, check = _RPS.search(out), _CHECK.search(out)
    if rps_m is None or check is None:
        raise BenchError(f"could not read wrk's output for {endpoint.name}:\n{out}")
    requests, bad, bad_status = (int(g) for g in check.groups())
    problems = []
    if bad:
        problems.append(f"{bad} of {requests} responses were not {endpoint.expected_status} (e.g. {bad_status})")
    non2xx = _NON2XX.search(out)
    if non2xx and int(non2xx.group(1)):
        problems.append(f"{non2xx.group(1)} non-2xx/3xx responses")
    sock = _SOCKET.search(out)
    if sock and any(int(x) for x in sock.groups()):
        problems.append(sock.group(0))
    if requests == 0:
        problems.append("no request completed")
    if problems:
        raise BenchError(f"{endpoint.name}: " + "; ".join(problems) + f"\n--- wrk output ---\n{out}"
                         f"\n--- server log ---\n{server.log_tail()}")
    pct = {p: _to_ms(float(v), unit) for p, v, unit in _PCT.findall(out)}
    wall = t1 - t0
    server_cpu = (cpu1 - cpu0) / wall
    wrk_cpu = (after_children.ru_utime + after_children.ru_stime - before_children.ru_utime
               - before_children.ru_stime)
    others = max(0.0, (busy1 - busy0) / wall - server_cpu) if rig.server_cpu is not None else None
    steal = (steal1 - steal0) / wall if rig.server_cpu is not None else None
    load_others = max(0.0, (lbusy1 - lbusy0) / wall - wrk_cpu / wall) if rig.load_cpu is not None else None
    return Measurement(rps=float(rps_m.group(1)), requests=requests, server_cpu=server_cpu,
                       wrk_cpu=wrk_cpu / wall, p50_ms=pct.get("50"), p99_ms=pct.get("99"),
                       others_cpu=others, steal=steal, load_others_cpu=load_others, wall=wall)


def _to_ms(value: float, unit: str) -> float:
    return {"us": value / 1000, "ms": value, "s": value * 1000}[unit]


# -- profiling --------------------------------------------------------------------------------------

def profile_endpoint(py_spy: str, rig: Rig, endpoint: Endpoint, out_dir: Path, duration: float,
                     rate: int) -> str:
    """py-spy samples the server while wrk loads it; returns a text summary in µs per request."""
    assert rig.server.proc is not None
    raw = out_dir / f"{endpoint.name}.collapsed.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(rig.server.proc.pid), "--rate", str(rate),
                            "--format", "raw", "--nolineno", "--nonblocking", "--gil",
                            "--duration", str(int(duration) + 2),
                            "--output", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           preexec_fn=child_setup(rig.load_cpu, rig.priority), start_new_session=rig.priority)
    time.sleep(0.5)
    m = run_wrk(rig, endpoint, duration)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not raw.exists():
        raise BenchError(f"py-spy failed: {err.decode(errors='replace')}")
    summary = summarize_profile(raw, rate, m, endpoint)
    (out_dir / f"{endpoint.name}.summary.txt").write_text(summary, encoding="utf-8")
    return summary


# Frames every sample of a thread passes through: they say nothing about where time goes.
_OUTER_FRAMES = ("<module> (", "main (throughput.py)", "serve_child (", "run (uvicorn/main.py)",
                 "Server.run (uvicorn", "asyncio_run (", "Runner.run (asyncio", "Thread._bootstrap",
                 "Thread.run (threading", "_worker (concurrent")


def summarize_profile(raw: Path, rate: int, m: Measurement, endpoint: Endpoint, top: int = 30) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread (")] or frames
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    # With --gil py-spy samples the thread holding the GIL, so samples/rate = seconds of Python work.
    # (Without it, threads that are runnable but waiting for the one core are counted as busy too.)
    # Samples cover wrk's run plus a second or two of idle around it (idle threads are not sampled).
    requests = max(1, m.requests)
    per = 1e6 / rate / requests

    def table(counter: collections.Counter[str], title: str, skip_outer: bool) -> list[str]:
        rows = [f"{title}", f"{'µs/req':>8} {'share':>6}  function (file)"]
        shown = [(n, c) for n, c in counter.most_common() if not (skip_outer and n.startswith(_OUTER_FRAMES))][:top]
        for name, c in shown:
            rows.append(f"{c * per:8.1f} {c / max(1, total):6.1%}  {name}")
        return rows

    lines = [
        f"{endpoint.name}: {endpoint.label}",
        f"{m.rps:,.0f} req/s under py-spy ({rate} Hz, GIL holder only); server CPU {m.cpu_us:,.0f} µs/request, "
        f"of which {total * per:,.0f} µs held the GIL and are attributed below; the rest ran without the GIL "
        "(SQLite executing statements, the kernel, thread switches)",
        "",
        *table(inclusive, "inclusive (time in the function and everything it calls)", True),
        "",
        *table(own, "self (time in the function itself, C calls included; Runner.run = uvloop's own C code)",
               False),
        "",
    ]
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="whole seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every endpoint; medians are shown (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: wrk has one core)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load per endpoint before run 1")
    parser.add_argument("--block-visitors", type=int, default=200, help="visitors rotated in block-many")
    parser.add_argument("--only", help="comma-separated endpoints besides bare: snippet,events,block,block-many")
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU the server is pinned to (default 0)")
    parser.add_argument("--load-cpu", type=int, default=1, help="CPU wrk (and this script) run on (default 1)")
    parser.add_argument("--profile", metavar="DIR",
                        help="after measuring, profile the server under each endpoint's load with py-spy "
                             "(pip install py-spy); writes DIR/<endpoint>.collapsed.txt and .summary.txt")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--priority", action="store_true",
                        help="run the server and wrk at nice -10 in autogroups of their own (needs root): "
                             "on a machine busy with other work this keeps the figures about Cartback")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-child", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_child:
        serve_child(args.serve_child[0], int(args.serve_child[1]))
        return 0

    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_INSTALL, file=sys.stderr)
        return 2
    py_spy = None
    if args.profile:
        py_spy = shutil.which("py-spy")
        if py_spy is None:
            print("--profile needs py-spy: `pip install py-spy`", file=sys.stderr)
            return 2

    if args.runs < 1 or args.duration < 1:
        parser.error("--runs and --duration must be at least 1")
    # SIGTERM as well as Ctrl-C stops the server this script started.
    signal.signal(signal.SIGTERM, _interrupted)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu: int | None = args.server_cpu
    load_cpu: int | None = args.load_cpu
    if server_cpu not in cpus or load_cpu not in cpus or server_cpu == load_cpu:
        print(f"warning: CPUs {cpus} do not allow server on {server_cpu} and load on {load_cpu}; not pinning "
              "(ratios are less meaningful)", file=sys.stderr)
        server_cpu = load_cpu = None
    else:
        os.sched_setaffinity(0, {load_cpu})  # this process stays off the server's core too
    if args.priority and not Path("/proc/self/autogroup").exists():
        print("warning: --priority needs Linux autogroups (/proc/self/autogroup); running without", file=sys.stderr)

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="cartback-bench-"))
    server = Server(tmp / "bench.db", server_cpu, tmp / "server.log", args.priority)
    rig = Rig(wrk, server, tmp, args.connections, args.threads, server_cpu, load_cpu, args.priority)
    try:
        products = make_catalog(rng)
        create_shop_and_catalog(tmp / "bench.db", products)
        server.start()
        t = time.monotonic()
        lines = prepare(server.port, products, args.block_visitors, rng)
        endpoints = make_endpoints(lines, args.block_visitors)
        if args.only:
            wanted = {w.strip() for w in args.only.split(",")}
            unknown = wanted - {e.name for e in endpoints}
            if unknown:
                raise BenchError(f"--only: unknown endpoints {sorted(unknown)}")
            endpoints = [e for e in endpoints if e.name == "bare" or e.name in wanted]
        print(f"prepared {N_PRODUCTS} products, {N_EVENT_VISITORS} + {args.block_visitors} visitors through the "
              f"API in {time.monotonic() - t:.1f} s; server pid {server.proc.pid} on CPU {server_cpu}, "
              f"wrk -t{args.threads} -c{args.connections} on CPU {load_cpu}", flush=True)
        print(f"blocks of the {args.block_visitors} visitors: {'; '.join(lines['compositions'])}", flush=True)
        if not any("similar" in c for c in lines["compositions"]):
            print("warning: no block has a 'similar' section, so the recommender's serving cost is not measured",
                  file=sys.stderr)

        if args.warmup > 0:
            for e in endpoints:
                run_wrk(rig, e, args.warmup)

        results: dict[str, list[Measurement]] = {e.name: [] for e in endpoints}
        for run in range(1, args.runs + 1):
            for e in endpoints:
                m = run_wrk(rig, e, args.duration)
                results[e.name].append(m)
                print(f"run {run}/{args.runs}  {e.name:<10} {m.rps:>7,.0f} req/s {m.cpu_us:>6,.0f} µs CPU/req | "
                      f"core 0: server {m.server_cpu:4.0%} others {_pct(m.others_cpu)} steal {_pct(m.steal)} | "
                      f"core 1: wrk {m.wrk_cpu:4.0%} others {_pct(m.load_others_cpu)} | "
                      f"p50 {_ms(m.p50_ms)} p99 {_ms(m.p99_ms)}", flush=True)

        code = report(endpoints, results)

        if args.profile:
            out_dir = Path(args.profile)
            out_dir.mkdir(parents=True, exist_ok=True)
            for e in endpoints:
                summary = profile_endpoint(py_spy, rig, e, out_dir, args.duration, args.profile_rate)
                print("\n" + summary, flush=True)
            print(f"profiles in {out_dir}/ (collapsed stacks: any flame-graph tool reads them)")
        return code
    except BenchError as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def _pct(v: float | None) -> str:
    return "  ?" if v is None else f"{v:4.0%}"


def _ms(v: float | None) -> str:
    return "   ?   " if v is None else f"{v:6.2f}ms"


def report(endpoints: list[Endpoint], results: dict[str, list[Measurement]]) -> int:
    """The table. `ratio` (req/s over the same run's bare req/s, median over runs) decides pass/fail;
    `cpu ratio` (bare's server CPU per request over the endpoint's) is the same comparison made with
    CPU time instead of wall time, which other processes on the machine disturb much less."""
    bare = results["bare"]
    print()
    print(f"{'endpoint':<11} {'what':<42} {'req/s':>7} {'µs CPU':>7} {'ratio':>6} {'(min-max)':>10} "
          f"{'cpu ratio':>9} {'target':>7}  result")
    missed = False
    for e in endpoints:
        ms = results[e.name]
        rps = statistics.median(m.rps for m in ms)
        cpu_us = statistics.median(m.cpu_us for m in ms)
        ratios = [m.rps / b.rps for m, b in zip(ms, bare, strict=True)]
        ratio = statistics.median(ratios)
        cpu_ratio = statistics.median(b.cpu_us / m.cpu_us for m, b in zip(ms, bare, strict=True))
        if e.target is None:
            verdict, target = "reference", ""
        else:
            ok = ratio >= e.target
            missed |= not ok
            verdict, target = ("pass" if ok else "FAIL"), f">={e.target:.2f}"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{e.name:<11} {e.label:<42} {rps:>7,.0f} {cpu_us:>7,.0f} {ratio:>6.2f} {spread:>10} "
              f"{cpu_ratio:>9.2f} {target:>7}  {verdict}")
    low_cpu = [e.name for e in endpoints if min(m.server_cpu for m in results[e.name]) < 0.9]
    busy = [e.name for e in endpoints if max((m.others_cpu or 0) + (m.steal or 0) for m in results[e.name]) > 0.1]
    if low_cpu:
        print(f"\nnote: the server used less than 90% of its core in some runs of {', '.join(low_cpu)}; "
              "their req/s understate the server (the µs CPU column does not depend on that).")
    if busy:
        print(f"note: other processes (or the hypervisor) took over 10% of the server's core in some runs of "
              f"{', '.join(busy)}; on a busy machine try --priority (root) or a quieter moment.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
