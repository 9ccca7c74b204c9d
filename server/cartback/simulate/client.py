"""The simulation's HTTP side: one keep-alive client that sends a visitor's events and asks for their
block the way the snippet would, with the shop's API key (so the server trusts past timestamps),
retrying what a busy server refuses for a moment."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .planner import Rates, Return, Visitor, order_prefix

USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0 Safari/537.36 CartbackSimulation/1.0")
MAX_EVENTS = 100  # the server's per-request limit


class SimulationError(RuntimeError):
    pass



class Client:
    """One httpx client (keep-alive, `concurrency` connections) shared by the worker threads.

    Threads and the synchronous client rather than asyncio: per request, httpx's async stack costs
    the simulation about half again as much CPU, and the server under test shares the machine.
    """

    def __init__(self, widget_url: str, shop: str, api_key: str, concurrency: int, rates: Rates,
                 prices: dict[str, float], seed: int, now: float) -> None:
        self.shop = shop
        self.rates = rates
        self.prices = prices
        self.seed = seed
        self.now = now
        self.orders = order_prefix(seed, now)
        self.http = httpx.Client(
            base_url=widget_url.rstrip("/"), timeout=30, trust_env=False,
            headers={"authorization": f"Bearer {api_key}", "user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def post(self, v: Visitor, events: list[dict[str, Any]]) -> None:
        for i in range(0, max(len(events), 1), MAX_EVENTS):
            body = {"shop": self.shop, "vid": v.token, "events": events[i:i + MAX_EVENTS]}
            r = self._send(v, "POST", "/v1/events", json=body)
            v.token = r.json()["vid"]

    def block(self, v: Visitor, ret: Return) -> httpx.Response:
        params = {"shop": self.shop, "vid": v.token or "", "locale": ret.locale, "ts": f"{ret.ts:.3f}"}
        return self._send(v, "GET", "/v1/empty-cart", params=params)

    def _send(self, v: Visitor, method: str, url: str, **kw: Any) -> httpx.Response:
        for attempt in range(5):
            try:
                r = self.http.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt == 4:
                    raise SimulationError(f"the widget server did not answer: {exc!r}") from None
                time.sleep(0.2 * (attempt + 1))
                continue
            v.requests += 1
            if r.status_code == 429 or r.status_code >= 500:
                if attempt == 4:
                    break
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status_code in (401, 403):
                raise SimulationError(f"the server refused the API key for shop {self.shop!r} ({r.status_code})")
            if r.status_code >= 400:
                raise SimulationError(f"{method} {url} → {r.status_code}: {r.text[:300]}")
            return r
        raise SimulationError(f"{method} {url} kept failing ({r.status_code}: {r.text[:200]})")

    def close(self) -> None:
        self.http.close()


