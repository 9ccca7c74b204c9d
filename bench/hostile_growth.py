"""Invented products against one server (issue 12): its memory, its file, and its first calls after
a restart. Bounded: N views in batches of 100 from one address, then one restart.

    python bench/hostile_growth.py SERVER_DIR DB_PATH PORT N
    python bench/hostile_growth.py server /tmp/a.db 18451 200000        # this checkout
    python bench/hostile_growth.py /path/to/other/server /tmp/b.db 18452 200000

Prints the server's RSS before and after, the browser products, learned-neighbour rows and file
size left, and the first event and block times after a restart (bench/README.md has the figures).
"""
import os
import sqlite3
import subprocess
import sys
import time

import httpx

code = sys.argv[1]          # server dir (PYTHONPATH)
db = sys.argv[2]
port = int(sys.argv[3])
env = {**os.environ, "PYTHONPATH": code}

def start():
    p = subprocess.Popen([sys.executable, "-m", "cartback", "serve", "--db", db, "--port", str(port), "--rate-limit", "0",
                          *(["--address-limit", "0"] if "address-limit" in subprocess.run([sys.executable, "-m", "cartback", "serve", "--help"], env=env, capture_output=True, text=True).stdout else [])],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200: return p
        except httpx.HTTPError: time.sleep(0.05)
    raise SystemExit("no start")

def rss(p): return int(open(f"/proc/{p.pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024

subprocess.run([sys.executable, "-m", "cartback", "shop", "add", "m", "--db", db, "--origin", "http://shop.test"], env=env, check=True, stdout=subprocess.DEVNULL)
p = start()
u = f"http://127.0.0.1:{port}"
c = httpx.Client(base_url=u, timeout=30)
print("rss start MB", rss(p))
vid = None
t0 = time.time()
N = int(sys.argv[4])
for b in range(N // 100):
    body = {"shop": "m", "events": [{"type": "view", "product": {"id": f"f{b}-{i}", "name": "Sahte ürün adı", "price": 9.9}} for i in range(100)]}
    if vid: body["vid"] = vid
    if b % 10 == 0: vid = None   # a new visitor now and then
    r = c.post("/v1/events", json=body); vid = r.json()["vid"]
print(f"{N} invented products in {time.time()-t0:.1f}s; rss MB", rss(p))
p.terminate(); p.wait()
conn = sqlite3.connect(db)
print("browser products", conn.execute("select count(*) from products where source='browser'").fetchone()[0],
      "rec_neighbours", conn.execute("select count(*) from rec_neighbours").fetchone()[0],
      "db MB", os.path.getsize(db) // 2**20)
conn.close()
p = start()
t0 = time.time(); r = c.post("/v1/events", json={"shop": "m", "events": [{"type": "view", "product": "f1-1"}, {"type": "view", "product": "f1-2"}]})
t1 = time.time(); c.get("/v1/empty-cart", params={"shop": "m", "vid": r.json()["vid"]}); t2 = time.time()
print(f"after restart: first event call {1000*(t1-t0):.0f} ms, first block {1000*(t2-t1):.0f} ms; rss MB", rss(p))
p.terminate(); p.wait()
