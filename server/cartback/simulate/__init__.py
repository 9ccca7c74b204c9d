"""Simulated shoppers for the demo shop, sent through the real HTTP API.

`cartback demo --simulate` (or `python -m cartback.simulate`) fills a shop with a quarter of
traffic so the dashboard has something realistic to show. Nothing is written to the database
directly: every visitor talks to a running widget server the way the snippet would, and the
shop's API key (`Authorization: Bearer …`) makes the server trust each event's past `ts`.

The story of one simulated visitor:

1. A first visit on some day of the period: views a few related products, adds one or two to the
   cart, sometimes marks a favourite; some check out at once (shop orders without the block).
2. The shop clears the cart after 24 hours (`cart: []`).
3. One or more returns, days later: the empty cart asks `GET /v1/empty-cart`. When a block comes
   back (treatment visitors with something to show; the holdout group gets 204), most blocks are
   seen (`impression`), a few visitors click a product (~2.5 % of those reached) and about a
   quarter of those buy it afterwards. Every returning visitor also buys at a small base rate
   without the block, so the holdout comparison has two honest groups.

Deterministic for a seed: every visitor's choices come from their own random stream, drawn
before the server answers, and days are sent in order (a visitor's sessions never overlap). What
the server decides stays its own: visitor ids, and so who falls in the holdout group.
Block timestamps: each GET carries `ts` (the simulated moment) with the merchant key, and the
server records the render at that moment, so daily charts and the holdout cohort are right.

Speed: about 3.7 requests per visitor (events batched per visit), `concurrency` keep-alive
connections from worker threads. `--simulate 30000` gives the case's scale (35,000+ block views,
20,000+ visitors reached); the default 3,000 keeps the demo quick.
Modules: `planner` (pure, seeded: who does what, when), `client` (HTTP to the widget server), `visits`
(one visitor's sessions), `runner` (`run`, `start_in_background`); `python -m cartback.simulate`
is `__main__`.
"""

from .client import SimulationError
from .planner import Counts, Rates, Return, Visitor, load_products, order_prefix, plan
from .runner import Summary, run, start_in_background
from .visits import parse_block, restore_lines

__all__ = ["Counts", "Rates", "Return", "SimulationError", "Summary", "Visitor", "load_products", "order_prefix",
           "parse_block", "plan", "restore_lines", "run", "start_in_background"]
