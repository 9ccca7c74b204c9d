"""A PostgreSQL database of a benchmark's own, created on entry and dropped on exit (its
connections with it), beside the admin database the benchmark was given."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import psycopg


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "cartback_bench") -> Iterator[str]:
    """Yields the new database's URL. A PostgreSQL that does not answer ends the benchmark with a
    message naming it."""
    name = f"{prefix}_{os.getpid()}_{os.urandom(3).hex()}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL at {admin_url}: {str(exc).strip()}") from exc
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
