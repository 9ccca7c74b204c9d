"""Invented products against one server (issue 12): its memory, its file, and its first calls after
a restart. Bounded: N views in batches of 100 from one address, then one restart.

    python bench/hostile_growth.py SERVER_DIR DB_PATH PORT N
    python bench/hostile_growth.py server /tmp/a.db 18451 200000        # this checkout
    python bench/hostile_growth.py /path/to/other/server /tmp/b.db 18452 200000

Prints the server's RSS before and after, the browser products, learned-neighbour rows and file
size left, and the first event and block times after a restart.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import httpx


def start(env: dict[str, str], db: str, port: int) -> subprocess.Popen[bytes]:
    help_text = subprocess.run([sys.executable, "-m", "cartback", "serve", "--help"], env=env,
                               capture_output=True, text=True).stdout
    # Older versions (compared side by side) had no per-address limit.
    limits = ["--address-limit", "0"] if "address-limit" in help_text else []
    proc = subprocess.Popen([sys.executable, "-m", "cartback", "serve", "--db", db, "--port", str(port),
                             "--rate-limit", "0", *limits],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def rss_mb(proc: subprocess.Popen[bytes]) -> int:
    with open(f"/proc/{proc.pid}/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) // 1024


def main() -> None:
    code, db, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    env = {**os.environ, "PYTHONPATH": code}
    subprocess.run([sys.executable, "-m", "cartback", "shop", "add", "m", "--db", db, "--origin", "http://shop.test"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    proc = start(env, db, port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    print("rss start MB", rss_mb(proc))
    vid = None
    t0 = time.time()
    for b in range(n // 100):
        views = [{"type": "view", "product": {"id": f"f{b}-{i}", "name": "Sahte ürün adı", "price": 9.9}}
                 for i in range(100)]
        body = {"shop": "m", "events": views, **({"vid": vid} if vid else {})}
        if b % 10 == 0:
            vid = None  # a new visitor now and then
        vid = client.post("/v1/events", json=body).json()["vid"]
    print(f"{n} invented products in {time.time() - t0:.1f}s; rss MB", rss_mb(proc))
    proc.terminate()
    proc.wait()
    conn = sqlite3.connect(db)
    print("browser products", conn.execute("select count(*) from products where source='browser'").fetchone()[0],
          "rec_neighbours", conn.execute("select count(*) from rec_neighbours").fetchone()[0],
          "db MB", os.path.getsize(db) // 2**20)
    conn.close()
    proc = start(env, db, port)
    t0 = time.time()
    r = client.post("/v1/events", json={"shop": "m", "events": [{"type": "view", "product": "f1-1"},
                                                                 {"type": "view", "product": "f1-2"}]})
    t1 = time.time()
    client.get("/v1/empty-cart", params={"shop": "m", "vid": r.json()["vid"]})
    t2 = time.time()
    print(f"after restart: first event call {1000 * (t1 - t0):.0f} ms, first block {1000 * (t2 - t1):.0f} ms; "
          f"rss MB", rss_mb(proc))
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
