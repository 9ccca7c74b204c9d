"""The snippet's built files (snippet/dist/, made by esbuild from snippet/src/): read, gzipped and
hashed once at start-up, served from memory.

From disk through StaticFiles it ran at 0.07 of a bare endpoint and gzipping per request at 0.30;
bytes prepared at start-up run close to bare (DESIGN-NOTES.md). The files are already minified by
the build (snippet/build.mjs), so the server needs no JavaScript tooling.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import Response

CORE = "cartback"


@dataclass(frozen=True)
class Snippet:
    plain: bytes
    gzipped: bytes
    etag: str

    @property
    def version(self) -> str:
        """The content hash that versions an adapter's URL (?v=), so it can be cached for good."""
        return self.etag.strip('"')[:12]

    @classmethod
    def load(cls, path: Path) -> Snippet:
        return cls.of(path.read_bytes())

    @classmethod
    def of(cls, plain: bytes) -> Snippet:
        gzipped = gzip.compress(plain, compresslevel=9, mtime=0)
        etag = '"' + hashlib.sha256(plain).hexdigest()[:20] + '"'
        return cls(plain, gzipped, etag)


def load_adapters(dist: Path) -> dict[str, Snippet]:
    """Every built platform adapter beside the core: dist/<platform>.js by platform name."""
    return {path.stem: Snippet.load(path) for path in sorted(dist.glob("*.js")) if path.stem != CORE}


# The core's URL is pasted into shops' pages and never changes: short enough that a new version
# reaches shops within minutes; the ETag makes rechecks cheap.
SHORT_CACHE = "public, max-age=300, stale-while-revalidate=86400"
# An adapter's URL carries its content hash (/v1/config names it), so a new build is a new URL.
IMMUTABLE = "public, max-age=31536000, immutable"


def snippet_responses(snippet: Snippet, cache_control: str = SHORT_CACHE) -> dict[str, Response]:
    """The three answers a built file can get, made once at start-up: a Response holds no
    per-request state, so one instance answers every request."""
    common = {
        "etag": snippet.etag,
        "cache-control": cache_control,
        "vary": "Accept-Encoding",
        "access-control-allow-origin": "*",
    }
    js = "application/javascript; charset=utf-8"
    return {
        "gzip": Response(snippet.gzipped, headers={**common, "content-encoding": "gzip"}, media_type=js),
        "plain": Response(snippet.plain, headers=common, media_type=js),
        "not_modified": Response(status_code=304, headers=common),
    }


AdapterResponses = tuple[Snippet, dict[str, Response], dict[str, Response]]


def adapter_responses(adapters: dict[str, Snippet]) -> dict[str, AdapterResponses]:
    return {name: (snippet, snippet_responses(snippet, IMMUTABLE), snippet_responses(snippet))
            for name, snippet in adapters.items()}
