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
