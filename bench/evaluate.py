"""Offline evaluation: replay real click logs through the code that serves the block; HR@8 / MRR@8.

    python bench/evaluate.py [--data DIR] [--dataset yoochoose|diginetica|all] [--mode frozen|online|both]
    cartback evaluate [same options]

The protocol is the one in ../shared/data/README.md: every train session's clicks are replayed as
`view` events in time order; then for every test session of length n >= 2 and every t = 1..n-1
the visitor's history is clicks[0..t-1], the empty-cart block is computed, and it is a hit when
clicks[t] is among its first 8 products in display order (HR@8; MRR@8 = mean 1/rank, 0 on a miss).
DIGINETICA: sessions sorted by numeric id, the first 80% train, the rest test.

Nothing here reimplements the recommender: a temporary SQLite database is created through
`cartback.db.Database` (the same migrations), the products get catalog rows (name = id,
url = http://shop.example/p/ID, so the block's "worth showing" rule accepts them), every click is
written with `Database.write(ingest.apply_events, ...)` (which calls `recommend.learn`), and every
block is `store.compute_sections(...)` with the shop's default settings (4 recently viewed, then
"you may also like"), exactly what GET /v1/empty-cart renders.

Two modes for the test day:
- frozen: learning stops after the train replay (`recommend.frozen()`), so each test visitor sees a
  model trained on the train days only, like the reference baselines. Test sessions are independent
  then, and run concurrently.
- online: learning goes on through the test day, as it does on a live server; every test click is
  written in global time order, after the blocks that precede it in time were computed (no test
  click is known before its time).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The `cartback` package lives in server/ (the source folder): a checkout runs without an install.
if str(REPO / "server") not in sys.path:
    sys.path.insert(0, str(REPO / "server"))

from cartback import ingest, recommend, store  # noqa: E402
from cartback.db import Database  # noqa: E402
from cartback.shops import create_shop, get_shop  # noqa: E402
from cartback.validation import Event  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
K = 8
SHOP = "eval"
ORIGIN = "http://shop.example"
YOOCHOOSE = ("yoochoose-clicks-100k_train_full.txt", "yoochoose-clicks-100k_test.txt")
DIGINETICA = "sample_train-item-views.csv"
# Concurrent test visitors in frozen mode (they share nothing then; concurrency lets the writer
# group-commit their clicks and both readers work).
CONCURRENCY = 32
TRAIN_CHUNK = 256

Session = list[tuple[float, str]]  # (unix time, item id), in click order


@dataclass
class Result:
    dataset: str
    mode: str
    cases: int
    hr: float
    mrr: float
    train_seconds: float
    test_seconds: float
    train_cpu: float
    test_cpu: float
    train_sessions: int
    test_sessions: int


# -- data ------------------------------------------------------------------------------------------

def _ordered(sessions: dict[Any, list[tuple[float, int, str]]]) -> list[Session]:
    out = []
    for clicks in sessions.values():
        clicks.sort()  # by time, then file order
        out.append([(t, item) for t, _, item in clicks])
    return out


def load_yoochoose(data: Path) -> tuple[list[Session], list[Session]]:
    def read(name: str) -> list[Session]:
        sessions: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
        with open(data / name, encoding="utf-8") as f:
            header = f.readline().split()
            if header != ["SessionId", "ItemId", "Time"]:
                raise ValueError(f"{name}: unexpected header {header}")
            for n, line in enumerate(f):
                sid, item, t = line.rstrip("\n").split("\t")
                sessions[sid].append((float(t), n, item))
        out = _ordered(sessions)
        out.sort(key=lambda s: s[0][0])
        return out
    return read(YOOCHOOSE[0]), read(YOOCHOOSE[1])


def load_diginetica(data: Path) -> tuple[list[Session], list[Session]]:
    sessions: dict[int, list[tuple[float, int, str]]] = defaultdict(list)
    with open(data / DIGINETICA, encoding="utf-8") as f:
        header = f.readline().strip().split(";")
        if header != ["session_id", "user_id", "item_id", "timeframe", "eventdate"]:
            raise ValueError(f"{DIGINETICA}: unexpected header {header}")
        for n, line in enumerate(f):
            sid, _, item, timeframe, day = line.rstrip("\n").split(";")
            # eventdate is the session's day; timeframe is milliseconds since the session started.
            start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.UTC).timestamp()
            sessions[int(sid)].append((start + int(timeframe) / 1000.0, n, item))
    ids = sorted(sessions)
    cut = int(len(ids) * 0.8)
    train = _ordered({i: sessions[i] for i in ids[:cut]})
    test = _ordered({i: sessions[i] for i in ids[cut:]})
    train.sort(key=lambda s: s[0][0])
    return train, test


def load(dataset: str, data: Path) -> tuple[list[Session], list[Session]]:
    return load_yoochoose(data) if dataset == "yoochoose" else load_diginetica(data)


def missing_files(data: Path, dataset: str) -> list[str]:
    names = YOOCHOOSE if dataset == "yoochoose" else (DIGINETICA,)
    return [str(data / n) for n in names if not (data / n).is_file()]


def reference_baselines(data: Path) -> list[tuple[str, float, float]]:
    """The reference table of the data folder's README: (recommender, HR@8, MRR@8)."""
    rows = []
    try:
        text = (data / "README.md").read_text(encoding="utf-8")
    except OSError:
        return rows
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3:
            try:
                rows.append((cells[0], float(cells[1]), float(cells[2])))
            except ValueError:
                pass
    return rows


def cases(test: list[Session]):
    """The protocol's test cases: (clicks[0..t-1], clicks[t]) for every session of length n >= 2, t = 1..n-1."""
    for clicks in test:
        items = [item for _, item in clicks]
        for t in range(1, len(items)):
            yield items[:t], items[t]


def simple_baselines(train: list[Session], test: list[Session]) -> list[tuple[str, float, float]]:
    """Three of the README's simple baselines, in plain Python over the same split (a check of the
    protocol: on yoochoose they give the README's figures; DIGINETICA has no reference table)."""
    popular = [item for item, _ in Counter(item for s in train for _, item in s).most_common(K)]
    rules: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for clicks in train:  # sequential rules: i -> j for j up to 10 clicks after i, weight 1/distance
        items = [item for _, item in clicks]
        for q in range(1, len(items)):
            for p in range(max(0, q - 10), q):
                if items[p] != items[q]:
                    rules[items[p]][items[q]] += 1.0 / (q - p)
    hits = [0, 0, 0]
    rr = [0.0, 0.0, 0.0]
    n = 0
    for history, target in cases(test):
        n += 1
        recent = list(dict.fromkeys(reversed(history)))
        following = rules.get(history[-1], {})
        shown = recent[:3]
        lists = (
            popular,
            (recent + [i for i in popular if i not in recent])[:K],
            (shown + [i for i in sorted(following, key=lambda c: -following[c]) if i not in shown])[:K],
        )
        for b, rec in enumerate(lists):
            if target in rec:
                hits[b] += 1
                rr[b] += 1.0 / (rec.index(target) + 1)
    names = ("most popular items", "recently viewed, then most popular", "3 most recent viewed + sequential rules")
    return [(name, hits[b] / max(1, n), rr[b] / max(1, n)) for b, name in enumerate(names)]


# -- replay ----------------------------------------------------------------------------------------

def _setup(conn, items: list[str], now: float) -> None:
    create_shop(conn, SHOP, [ORIGIN], locale="en", currency="EUR")
    conn.executemany(
        "INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, updated_at) "
        "VALUES (?, ?, ?, NULL, NULL, ?, NULL, NULL, 1, 'catalog', ?)",
        [(SHOP, item, item, f"{ORIGIN}/p/{item}", now) for item in items],
    )


def _views(clicks: Session) -> list[Event]:
    return [Event(type="view", product_id=item, ts=t) for t, item in clicks]


class Scorer:
    def __init__(self) -> None:
        self.cases = 0
        self.hits = 0
        self.rr = 0.0

    def add(self, shown: list[str], target: str) -> None:
        self.cases += 1
        if target in shown:
            self.hits += 1
            self.rr += 1.0 / (shown.index(target) + 1)


async def _block(db: Database, vid: str, settings: dict[str, Any]) -> list[str]:
    sections = await db.read(store.compute_sections, SHOP, vid, settings)
    return [p["id"] for s in sections for p in s.products][:K]


async def _train(db: Database, train: list[Session]) -> None:
    for start in range(0, len(train), TRAIN_CHUNK):
        await asyncio.gather(*(
            db.write(ingest.apply_events, SHOP, f"train-{start + i}", _views(clicks), clicks[0][0], True, True)
            for i, clicks in enumerate(train[start:start + TRAIN_CHUNK])
        ))


async def _test_frozen(db: Database, test: list[Session], settings: dict[str, Any], scorer: Scorer) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int, clicks: Session) -> None:
        vid = f"test-{n}"
        async with gate:
            for t, (ts, item) in enumerate(clicks):
                if t >= 1:
                    scorer.add(await _block(db, vid, settings), item)
                if t < len(clicks) - 1:
                    await db.write(ingest.apply_events, SHOP, vid, [Event(type="view", product_id=item, ts=ts)],
                                   ts, t == 0, True)

    await db.flush_model()  # the popularity fills read the checkpoint
    with recommend.frozen():
        await asyncio.gather(*(one(n, clicks) for n, clicks in enumerate(test) if len(clicks) >= 2))


async def _test_online(db: Database, test: list[Session], settings: dict[str, Any], scorer: Scorer) -> None:
    events = sorted((ts, n, t, item) for n, clicks in enumerate(test) if len(clicks) >= 2
                    for t, (ts, item) in enumerate(clicks))
    for ts, n, t, item in events:
        vid = f"online-{n}"
        if t >= 1:
            await db.flush_model()  # as current as the live server's memory (the fills read the checkpoint)
            scorer.add(await _block(db, vid, settings), item)
        await db.write(ingest.apply_events, SHOP, vid, [Event(type="view", product_id=item, ts=ts)], ts, t == 0, True)


async def replay(dataset: str, data: Path, modes: tuple[str, ...] = ("frozen",)) -> list[Result]:
    train, test = load(dataset, data)
    items = sorted({item for s in train + test for _, item in s})
    results = []
    with tempfile.TemporaryDirectory(prefix="cartback-eval-") as tmp:
        db = Database(os.path.join(tmp, "eval.db"), readers=2, synchronous="OFF")
        await db.start()
        try:
            await db.write(_setup, items, train[0][0][0])
            settings = (await db.write(get_shop, SHOP)).settings
            started, cpu = time.perf_counter(), time.process_time()
            await _train(db, train)
            train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
            # Frozen first: it does not change the model, so online starts from the same one.
            for mode in sorted(modes, key=lambda m: m != "frozen"):
                scorer = Scorer()
                started, cpu = time.perf_counter(), time.process_time()
                await (_test_frozen if mode == "frozen" else _test_online)(db, test, settings, scorer)
                results.append(Result(dataset, mode, scorer.cases, scorer.hits / max(1, scorer.cases),
                                      scorer.rr / max(1, scorer.cases), train_seconds,
                                      time.perf_counter() - started, train_cpu, time.process_time() - cpu,
                                      len(train), len(test)))
        finally:
            await db.close()
    return results


# -- command line ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cartback evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder of the click logs (default %(default)s)")
    parser.add_argument("--dataset", choices=("yoochoose", "diginetica", "all"), default="all")
    parser.add_argument("--mode", choices=("frozen", "online", "both"), default="both",
                        help="frozen: no learning during the test day (comparable with the baselines); "
                             "online: learning goes on, as on a live server")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `cartback evaluate -- --dataset …` passes the separator on
        argv = argv[1:]
    args = parser.parse_args(argv)
    datasets = ("yoochoose", "diginetica") if args.dataset == "all" else (args.dataset,)
    modes = ("frozen", "online") if args.mode == "both" else (args.mode,)
    status = 0
    for dataset in datasets:
        missing = missing_files(args.data, dataset)
        if missing:
            print(f"{dataset}: skipped, missing {', '.join(missing)}", file=sys.stderr)
            status = 2
            continue
        results = asyncio.run(replay(dataset, args.data, modes))
        first = results[0]
        print(f"\n{dataset}: {first.train_sessions} train sessions replayed in {first.train_seconds:.1f} s "
              f"(CPU {first.train_cpu:.1f} s); {first.cases} test cases")
        print(f"  {'recommender':<60} {'HR@8':>6} {'MRR@8':>6}")
        if dataset == "yoochoose":
            for name, hr, mrr in reference_baselines(args.data):
                print(f"  {name:<60} {hr:6.3f} {mrr:6.3f}")
        else:
            for name, hr, mrr in simple_baselines(*load(dataset, args.data)):
                label = f"{name} (computed here)"
                print(f"  {label:<60} {hr:6.3f} {mrr:6.3f}")
        for r in results:
            label = f"Cartback block, {r.mode} ({r.test_seconds:.1f} s, CPU {r.test_cpu:.1f} s)"
            print(f"  {label:<60} {r.hr:6.3f} {r.mrr:6.3f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
