"""The lockout against guessed dashboard keys, kept in the database (`sign_in_failures`), so that
every server process and every machine on one database counts the same failures: N processes do
not give a guesser N times the attempts.

Every failure waits (auth.FAIL_DELAY), and too many for one shop, from one address or from
anywhere, lock that shop's sign-in for a while. A browser that signed in to the shop before
carries a device cookie and is judged by its own failures only, so someone who fails on purpose
cannot lock the merchant out (OWASP's device cookies). Failures for ids that are no shop are not
kept: a key for no shop opens nothing, and random ids cannot fill the table.

A shop's rows stay few: once its limit is reached nothing more is written until the window
slides, and each failure deletes the shop's expired ones. Addresses are kept as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from dataclasses import dataclass

FAIL_WINDOW = 15 * 60
MAX_FAILS_PER_ADDRESS = 5
MAX_FAILS_PER_SHOP = 20
MAX_FAILS_PER_DEVICE = 5


@dataclass(frozen=True)
class Attempt:
    """One sign-in: the shop it names, who sent it, and the browser's device id (None: none)."""

    shop: str
    address: str
    device: str | None

    @classmethod
    def of(cls, secret: str, shop: str, address: str, device: str | None) -> Attempt:
        # A keyed hash: the table never holds a client's address, and one cannot be guessed from it.
        key = hmac.new(secret.encode(), f"sign-in:{address}".encode(), hashlib.sha256).hexdigest()[:24]
        return cls(shop, key, device)


def _limits(attempt: Attempt) -> list[tuple[str, tuple[str, ...], int]]:
    """(condition, its parameters, limit) for each count that may lock `attempt` out."""
    if attempt.device is not None:
        return [("device = ?", (attempt.device,), MAX_FAILS_PER_DEVICE)]
    return [("device IS NULL AND address = ?", (attempt.address,), MAX_FAILS_PER_ADDRESS),
            ("device IS NULL", (), MAX_FAILS_PER_SHOP)]


def locked_for(conn: sqlite3.Connection, attempt: Attempt, now: float) -> float:
    """Seconds until `attempt` may be tried again (0: now): until the oldest of the failures that
    reached a limit leaves the window."""
    waits = []
    for where, params, limit in _limits(attempt):
        row = conn.execute(f"SELECT at FROM sign_in_failures WHERE shop = ? AND {where} AND at > ? "
                           "ORDER BY at DESC LIMIT 1 OFFSET ?",
                           (attempt.shop, *params, now - FAIL_WINDOW, limit - 1)).fetchone()
        if row is not None:
            waits.append(float(row[0]) + FAIL_WINDOW - now)
    return max(waits, default=0.0)


def fail(conn: sqlite3.Connection, attempt: Attempt, now: float) -> None:
    conn.execute("DELETE FROM sign_in_failures WHERE shop = ? AND at <= ?", (attempt.shop, now - FAIL_WINDOW))
    conn.execute("INSERT INTO sign_in_failures (shop, address, device, at) VALUES (?, ?, ?, ?)",
                 (attempt.shop, attempt.address, attempt.device, now))


def succeed(conn: sqlite3.Connection, attempt: Attempt) -> None:
    """A sign-in clears its device's count, or its address's; never the shop-wide one: signing in
    from one address must not unlock the shop for everyone else. So an address's failures stay, as
    nobody's."""
    if attempt.device is not None:
        conn.execute("DELETE FROM sign_in_failures WHERE shop = ? AND device = ?", (attempt.shop, attempt.device))
    else:
        conn.execute("UPDATE sign_in_failures SET address = '' WHERE shop = ? AND device IS NULL AND address = ?",
                     (attempt.shop, attempt.address))
