"""Running the app under uvicorn, hardened against slow and stalled clients (issue 12).

- A request's headers must arrive within HEADER_TIMEOUT seconds of the connection opening (or of
  the previous answer on a kept-alive connection), however slowly they trickle: uvicorn's own
  keep-alive timer is reset by every byte, so a slowloris client would otherwise hold its socket
  for ever. Bodies have their own limit (http.read_body, BODY_TIMEOUT there).
- At most `max_connections` sockets at once, kept below the process's descriptor limit: past it a
  new connection is closed as soon as it is accepted, so its descriptor comes straight back and
  the server, its database and its log files keep working for everyone already connected.
- `--trusted-proxy ADDR`: only the proxies named there may set the client's address and scheme
  (X-Forwarded-For / X-Forwarded-Proto, hence the rate limits' address and `Secure` cookies);
  without it nobody may, not even 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
from typing import Any

log = logging.getLogger("cartback")

HEADER_TIMEOUT = 10.0
KEEP_ALIVE = 5
# Descriptors the process keeps for itself: the database and its WAL, readers, logs, the listener.
RESERVED_FDS = 64
DEFAULT_MAX_CONNECTIONS = 1000
MAX_HEADER_BYTES = 16 * 1024


def descriptor_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(asked: int | None = None) -> int:
    """`asked` (or the default), never closer than RESERVED_FDS to the descriptor limit."""
    return max(1, min(asked or DEFAULT_MAX_CONNECTIONS, descriptor_limit() - RESERVED_FDS))


def protocol_class(max_connections: int, header_timeout: float = HEADER_TIMEOUT) -> type:
    """uvicorn's HTTP protocol with a header deadline and a connection cap."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - httptools missing: the pure-Python parser
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class Protocol(Base):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_from: Any = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                # Closed at once: the descriptor comes back now, not when the client gives up.
                transport.abort()
                return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            # Headers are complete when the protocol starts a new request cycle.
            self._waiting_from = self.cycle
            self._deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.cycle is self._waiting_from and not self.transport.is_closing():
                self.transport.abort()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._deadline is not None and self.cycle is not self._waiting_from:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection has the same time for its headers

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Protocol


_SECRET_PARAM = re.compile(r"([?&](?:vid|key|token)=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Access-log lines without visitor tokens: `GET /v1/empty-cart?shop=s&vid=…` names a visitor,
    and whoever reads the log could replay it to read that visitor's history."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "=" in args[2]:
            record.args = (*args[:2], _SECRET_PARAM.sub(r"\1…", args[2]), *args[3:])
        return True


def run(app: Any, host: str, port: int, log_level: str, trusted_proxies: list[str] | None = None,
        max_connections: int | None = None, header_timeout: float = HEADER_TIMEOUT) -> None:
    import uvicorn

    cap = connection_cap(max_connections)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
        timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE,
        http=protocol_class(cap, header_timeout),
        # Requests past the cap (a burst on open connections) get 503 rather than a queue.
        limit_concurrency=cap,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        proxy_headers=bool(trusted_proxies), forwarded_allow_ips=",".join(trusted_proxies or []) or "",
    )
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())  # after Config set up uvicorn's logging
    uvicorn.Server(config).run()
