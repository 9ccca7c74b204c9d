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
- `--workers N`: uvicorn's supervisor spawns N worker processes on one listening socket, each with
  the same config (protocol, caps, deadlines, proxies, log filter: all picklable, hence the
  module-level classes) and an app built from the parent's Settings (app.app_from_env). uvicorn
  0.55 checks its workers every half second and starts a new one for one that died (`kill -9`
  included); a worker that fails before serving stops the whole server (exit 3).
"""

from __future__ import annotations

import asyncio
import copy
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import re
import resource
import signal
from typing import Any

import uvicorn
import uvicorn.config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from .config import WORKER_SETTINGS_ENV, Settings

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


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools missing: the pure-Python parser
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


class HardenedConfig(uvicorn.Config):
    """uvicorn's Config with the header deadline the protocol reads. A class of this module, so the
    config pickles for `--workers` (uvicorn sends it to every worker it spawns) and every worker
    gets the same protocol with the same limits."""

    def __init__(self, app: Any, header_timeout: float = HEADER_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class HardenedProtocol(_Base):
    """uvicorn's HTTP protocol with a header deadline (`HardenedConfig.header_timeout`) and a
    connection cap (`limit_concurrency`, which run() sets to the cap)."""

    _deadline: asyncio.TimerHandle | None = None
    _waiting_from: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > (self.config.limit_concurrency or DEFAULT_MAX_CONNECTIONS):
            # Closed at once: the descriptor comes back now, not when the client gives up.
            transport.abort()
            return
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        # Headers are complete when the protocol starts a new request cycle.
        self._waiting_from = self.cycle
        timeout = getattr(self.config, "header_timeout", HEADER_TIMEOUT)
        self._deadline = self.loop.call_later(timeout, self._too_slow)

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


_SECRET_PARAM = re.compile(r"([?&](?:vid|key|token)=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Access-log lines without visitor tokens: `GET /v1/empty-cart?shop=s&vid=…` names a visitor,
    and whoever reads the log could replay it to read that visitor's history."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "=" in args[2]:
            record.args = (*args[:2], _SECRET_PARAM.sub(r"\1…", args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with tokens redacted from the access log: as a dictConfig, which uvicorn
    applies in the server's process and again in every worker it spawns."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": f"{__name__}.RedactTokens"}
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_tokens"]
    return config


def follow_parent() -> None:
    """In a `--workers` worker: end when the parent `cartback serve` ends, even by `kill -9`. The
    parent holds the file's serve lock for its workers; a worker left behind would serve it unlocked."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    try:  # Linux: the kernel sends SIGTERM (uvicorn's graceful shut-down) when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the parent's own shut-down only
        return
    if os.getppid() != parent.pid:  # it died before the call above
        os.kill(os.getpid(), signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def run(settings: Settings, log_level: str, trusted_proxies: list[str] | None = None,
        max_connections: int | None = None, header_timeout: float = HEADER_TIMEOUT, workers: int = 1,
        factory: str | None = None) -> int:
    """Serve until stopped; the exit status (3 when a worker could not start).

    `factory`: the import string of a function that builds each process's app from the Settings in
    the environment, in place of app.app_from_env (bench/workers.py adds a reference route with it)."""
    cap = connection_cap(max_connections)
    options: dict[str, Any] = dict(
        host=settings.host, port=settings.port, log_level=log_level, log_config=log_config(),
        access_log=log_level == "debug", timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE,
        http=HardenedProtocol, header_timeout=header_timeout,
        # Requests past the cap (a burst on open connections) get 503 rather than a queue.
        limit_concurrency=cap,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        proxy_headers=bool(trusted_proxies), forwarded_allow_ips=",".join(trusted_proxies or []) or "",
    )
    if workers <= 1 and factory is None:
        from .app import create_app

        uvicorn.Server(HardenedConfig(create_app(settings), workers=1, **options)).run()
        return 0
    # Each worker is a fresh interpreter (uvicorn spawns them) that builds its app from these
    # settings (app.app_from_env, or `factory`), in shared mode; uvicorn replaces a worker that dies.
    # One process with a factory builds it in place, from the settings as they are.
    if workers > 1:
        settings = dataclasses.replace(settings, shared=True)
    os.environ[WORKER_SETTINGS_ENV] = settings.to_json()
    config = HardenedConfig(factory or f"{__package__}.app:app_from_env", factory=True, workers=workers, **options)
    if workers <= 1:
        uvicorn.Server(config).run()
        return 0
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    return STARTUP_FAILURE if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes) else 0
