"""Google Merchant Center feeds (RSS 2.0 and Atom) read with expat behind defusedxml's guards: only
the product fields of each <item>/<entry> are kept, no tree is built."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# defusedxml ships no type information (and its stubs are not a dependency here).
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import DefusedXMLParser, ParseError  # type: ignore[import-untyped]

from .result import BadLine, CatalogError, Record, Stop
from .source import MAX_LINE, READ_BLOCK, ByteReader

MAX_XML_DEPTH = 64
G_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
# Google feed elements (in the g: namespace) → (canonical field, priority); higher priority wins.
_G_FIELDS = {
    "id": ("id", 2),
    "title": ("name", 2),
    "link": ("url", 2),
    "image_link": ("image", 2),
    "price": ("price", 2),
    "sale_price": ("sale_price", 2),
    "availability": ("in_stock", 2),
    "product_type": ("category", 3),
    "google_product_category": ("category", 2),
    "item_group_id": ("group_id", 2),
}
# RSS / Atom core elements inside an item (no namespace or the Atom one); g: elements win over them.
_CORE_FIELDS = {"title": ("name", 1), "link": ("url", 1)}
def _item_fields() -> dict[str, tuple[str, int]]:
    # expat reports names as "namespace-uri}local" (or "local" with no namespace).
    fields = {f"{G_NS}}}{local}": spec for local, spec in _G_FIELDS.items()}
    for local, spec in _CORE_FIELDS.items():
        fields[local] = spec
        fields[f"{ATOM_NS}}}{local}"] = spec
    return fields


_ITEM_TAGS = frozenset({"item", "entry", f"{ATOM_NS}}}entry"})
_ITEM_FIELDS = _item_fields()


class _FeedHandlers:
    """expat handlers that keep only the product fields of each <item>/<entry>; no tree is built."""

    def __init__(self, expat: Any) -> None:
        self.expat = expat
        self.depth = 0
        self.root: str | None = None
        self.item_depth = -1
        self.in_item = False
        self.values: dict[str, tuple[int, str]] = {}
        self.item_line = 0
        self.item_size = 0
        self.item_too_big = False
        self.field: tuple[str, int] | None = None
        self.text: list[str] = []
        self.out: list[Record | BadLine] = []
        self.items = 0
        self.callbacks = 0
        expat.StartElementHandler = self.start
        expat.EndElementHandler = self.end
        expat.CharacterDataHandler = self.data

    def start(self, tag: str, attrs: list[str]) -> None:
        self.callbacks += 1
        self.depth += 1
        if self.depth > MAX_XML_DEPTH:  # feeds nest 4 levels; a nesting bomb would grow expat's stack
            raise Stop(self.expat.CurrentLineNumber, f"XML nested deeper than {MAX_XML_DEPTH} levels")
        if not self.in_item:
            if self.root is None:
                self.root = tag
            if tag in _ITEM_TAGS:
                self.in_item = True
                self.values = {}
                self.item_depth = self.depth
                self.item_line = self.expat.CurrentLineNumber
                self.item_size = 0
                self.item_too_big = False
            return
        if self.depth != self.item_depth + 1:
            return
        spec = _ITEM_FIELDS.get(tag)
        if spec is None:
            return
        self.field = spec
        self.text = []
        if spec[0] == "url" and attrs:  # Atom: <link rel="alternate" href="…"/>
            named = dict(zip(attrs[::2], attrs[1::2], strict=False))  # expat: name, value, …
            if "href" in named and named.get("rel", "alternate") == "alternate":
                self.text = [named["href"]]

    def data(self, text: str) -> None:
        self.callbacks += 1
        if self.field is None or self.item_too_big:
            return
        self.item_size += len(text)
        if self.item_size > MAX_LINE:
            self.item_too_big = True
            self.text = []
            return
        self.text.append(text)

    def end(self, tag: str) -> None:
        self.callbacks += 1
        if self.in_item:
            if self.field is not None and self.depth == self.item_depth + 1:
                canon, priority = self.field
                held = self.values.get(canon)
                if held is None or priority > held[0]:
                    self.values[canon] = (priority, "".join(self.text))
                self.field = None
                self.text = []
            elif self.depth == self.item_depth:
                self.items += 1
                self.in_item = False
                if self.item_too_big:
                    self.out.append(BadLine(self.item_line, f"item is longer than {MAX_LINE:,} characters (1 MiB)"))
                else:
                    self.out.append(Record(self.item_line, {k: v for k, (_, v) in self.values.items()}))
        self.depth -= 1

    def drain(self) -> list[Record | BadLine]:
        out, self.out = self.out, []
        return out


class _NoTree:
    """DefusedXMLParser's target: no start/end/data, so the parser installs no handlers of its own."""

    def close(self) -> None:
        return None


def xml_records(src: ByteReader) -> Iterator[Record | BadLine]:
    # defusedxml installs the guards (DOCTYPE, entity declarations, external references all raise);
    # the element handlers are ours, set straight on expat: no tree, one Python call per event.
    parser = DefusedXMLParser(target=_NoTree(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    target = _FeedHandlers(parser.parser)
    quiet_bytes = 0
    try:
        while True:
            chunk = src.read(READ_BLOCK)
            if not chunk:
                break
            before = target.callbacks
            parser.feed(chunk)
            quiet_bytes = quiet_bytes + len(chunk) if target.callbacks == before else 0
            if quiet_bytes > 2 * MAX_LINE:
                raise Stop(target.expat.CurrentLineNumber, "an XML tag, comment or token is longer than 1 MiB")
            yield from target.drain()
        parser.close()
    except ParseError as exc:
        yield from target.drain()
        line = exc.position[0] if getattr(exc, "position", None) else None
        message = str(exc).split(": line", 1)[0]
        if target.items == 0:
            where = f"line {line}: " if line else ""
            raise CatalogError(f"body: not a readable XML feed: {where}{message}") from None
        raise Stop(line, f"the XML is broken here ({message})") from None
    except DefusedXmlException as exc:
        raise CatalogError(
            "body: XML with a DOCTYPE, entity declarations or external references is refused "
            f"({type(exc).__name__}); product feeds do not need them") from None
    except (LookupError, ValueError) as exc:  # an encoding expat cannot read ("unknown encoding: …")
        yield from target.drain()
        if target.items == 0:
            raise CatalogError(f"body: not a readable XML feed: {str(exc)[:200]}; save it as UTF-8") from None
        raise Stop(target.expat.CurrentLineNumber, f"the XML cannot be read here ({str(exc)[:200]})") from None
    except Stop as stop:
        yield from target.drain()
        if target.items == 0:
            raise CatalogError(f"body: line {stop.line}: {stop.message}") from None
        raise
    yield from target.drain()
    if target.items == 0:
        root = (target.root or "?").rsplit("}", 1)[-1]
        raise CatalogError(f"body: no <item> (RSS) or <entry> (Atom) elements found under <{root}>; "
                           "send a Google Merchant Center RSS 2.0 or Atom feed")
