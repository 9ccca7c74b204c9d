"""The catalog import (server/cartback/catalog/): formats, validation, upserts, full feeds, limits.

The field rules one by one are in test_catalog_fields.py, the command line in test_catalog_cli.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest
from cartback.catalog import MAX_LISTED_REJECTIONS, CatalogError, ImportResult, import_stream, normalize_format
from cartback.catalog.fields import known_currencies
from cartback.catalog.source import ByteReader, detect_format
from cartback.connection import connect_sync, transaction
from cartback.shops import create_shop

from tests.conftest import POSTGRES, new_database

DATA = Path(__file__).resolve().parent / "data" / "catalog"
REPO = Path(__file__).resolve().parent.parent


def make_db(tmp_path: Path) -> str:
    """A migrated database with two shops, `demo` (TRY) and `other` (EUR)."""
    path = new_database(tmp_path, "catalog.db")
    conn = connect_sync(path)
    transaction(conn, create_shop, "demo", ["https://balparmak.test"])
    transaction(conn, create_shop, "other", ["https://other.test"], None, "en", "EUR")
    conn.close()
    return path


@pytest.fixture
def db_path(tmp_path):
    return make_db(tmp_path)


@pytest.fixture
def conn(db_path):
    c = connect_sync(str(db_path))
    yield c
    c.close()


def run(conn, data: bytes | str, shop: str = "demo", **kw) -> ImportResult:
    if isinstance(data, str):
        data = data.encode()
    kw.setdefault("default_currency", "TRY")
    return import_stream(conn, shop, io.BytesIO(data), **kw)


def run_file(conn, name: str, **kw) -> ImportResult:
    return run(conn, (DATA / name).read_bytes(), **kw)


def product(conn, pid: str, shop: str = "demo") -> dict | None:
    cur = conn.execute("SELECT * FROM products WHERE shop = ? AND id = ?", (shop, pid))
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None


def count(conn, shop: str = "demo") -> int:
    return conn.execute("SELECT count(*) FROM products WHERE shop = ?", (shop,)).fetchone()[0]


def reasons(result: ImportResult) -> list[tuple[int | None, str]]:
    return [(r["line"], r["reason"]) for r in result.rejections]


# -- the three formats -------------------------------------------------------------------------


def test_csv_with_google_column_names(conn):
    result = run_file(conn, "products.csv")
    assert result.format == "csv"
    assert (result.created, result.updated, result.rejected, result.unavailable) == (4, 0, 0, 0), result.rejections
    assert result.complete and result.rows == 4
    p = product(conn, "bal-850")
    assert p["name"] == "Çiçek Balı 850 g"
    assert p["price"] == 249.90 and p["currency"] == "TRY"
    assert p["url"] == "https://balparmak.test/p/bal-850"
    assert p["image"] == "https://cdn.balparmak.test/bal-850.jpg"
    assert p["category"] == "Bal > Çiçek Balı"
    assert p["in_stock"] == 1 and p["group_id"] == "bal"
    assert p["source"] == "catalog" and abs(p["updated_at"] - time.time()) < 60
    assert product(conn, "bal-450")["in_stock"] == 0
    assert product(conn, "bal-450")["name"] == "Çiçek Balı 450 g, cam"
    kestane = product(conn, "kestane-460")
    assert kestane["price"] == 329.50 and kestane["in_stock"] == 1  # preorder can be ordered
    assert kestane["image"] is None
    petek = product(conn, "petek-1")
    assert petek["price"] == 1249.90 and petek["currency"] == "TRY" and petek["in_stock"] == 1  # backorder


def test_csv_semicolons_bom_crlf_turkish_booleans_and_shop_currency(conn):
    result = run_file(conn, "products_semicolon.csv")
    assert (result.created, result.rejected) == (2, 0), result.rejections
    propolis = product(conn, "propolis-20")  # the BOM did not end up in the 'id' column name
    assert propolis["price"] == 189.0 and propolis["currency"] == "TRY"  # no currency column: shop's
    assert propolis["in_stock"] == 1 and propolis["category"] == "Arı Ürünleri"
    assert product(conn, "polen-100")["in_stock"] == 0


def test_tab_separated_google_feed(conn):
    tsv = "id\ttitle\tprice\tavailability\tlink\nA1\tBal\t10.00 TRY\tin stock\thttps://s.test/a1\n"
    result = run(conn, tsv)
    assert result.created == 1, result.rejections
    assert product(conn, "A1")["name"] == "Bal" and product(conn, "A1")["url"] == "https://s.test/a1"


def test_csv_multiline_quoted_field_keeps_line_numbers(conn):
    data = 'id,name,price\n1,"two\nlines",5\n2,x,abc\n'
    result = run(conn, data)
    assert result.created == 1
    assert product(conn, "1")["name"] == "two lines"
    assert reasons(result) == [(4, "price: 'abc' is not a price such as '249.90 TRY'")]


def test_jsonl(conn):
    result = run_file(conn, "products.jsonl")
    assert result.format == "jsonl"
    assert (result.created, result.rejected) == (3, 0), result.rejections
    p = product(conn, "bal-850")
    assert (p["price"], p["currency"], p["group_id"], p["in_stock"]) == (249.9, "TRY", "bal", 1)
    q = product(conn, "bal-450")  # aliases: title, link, availability; "149.90 TRY"
    assert (q["name"], q["price"], q["url"], q["in_stock"]) == ("Çiçek Balı 450 g", 149.9,
                                                                 "https://balparmak.test/p/bal-450", 0)
    n = product(conn, "12345")  # a numeric id is taken as its digits
    assert (n["currency"], n["in_stock"]) == ("USD", 0)


def test_google_rss_feed(conn):
    result = run_file(conn, "google_rss.xml")
    assert result.format == "xml"
    assert (result.created, result.rejected) == (2, 1)
    p = product(conn, "bal-850")
    assert p["name"] == "Çiçek Balı 850 g & Kaşık"  # g:title wins over the plain RSS title
    assert p["price"] == 249.90 and p["currency"] == "TRY"  # the sale price is what it sells for
    assert p["url"] == "https://balparmak.test/p/bal-850"
    assert p["image"] == "https://cdn.balparmak.test/bal-850.jpg"
    assert p["category"] == "Bal > Çiçek Balı"  # product_type before google_product_category
    assert p["group_id"] == "bal" and p["in_stock"] == 1
    q = product(conn, "bal-450")  # plain RSS <title>/<link>, "out of stock" with a space
    assert (q["name"], q["url"], q["in_stock"], q["category"]) == (
        "Çiçek Balı 450 g", "https://balparmak.test/p/bal-450", 0, "Food Items > Honey")
    # A Google feed states the currency in the price; a bare price is rejected even with a shop default.
    [rej] = result.rejections
    assert rej["line"] == 34 and rej["id"] == "kestane-460" and "currency" in rej["reason"]
    assert product(conn, "kestane-460") is None


def test_google_atom_feed(conn):
    result = run_file(conn, "google_atom.xml")
    assert (result.created, result.rejected) == (2, 0), result.rejections
    p = product(conn, "bal-850")  # the Atom <id> is not the product id; g:id is
    assert (p["name"], p["url"], p["in_stock"]) == ("Çiçek Balı 850 g", "https://balparmak.test/p/bal-850", 1)
    assert product(conn, "polen-100")["url"] == "https://balparmak.test/p/polen-100"
    assert product(conn, "polen-100")["in_stock"] == 0
    assert product(conn, "tag:balparmak.test,2026:bal-850") is None


def test_utf16_xml_is_read(conn):
    xml = (DATA / "google_atom.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    result = run(conn, xml.encode("utf-16"))
    assert result.created == 2


@pytest.mark.parametrize("data, fmt", [
    ("\n\n  <rss/>", "xml"),
    ("\ufeff<?xml version='1.0'?><rss/>", "xml"),
    ('  {"id": 1}', "jsonl"),
    ("id,name", "csv"),
    ("\ufeffid;name", "csv"),
])
def test_format_detection(data, fmt):
    assert detect_format(ByteReader(io.BytesIO(data.encode()))) == fmt


def test_format_override(conn):
    # A JSON line read as CSV: a header without an id column, refused whole.
    with pytest.raises(CatalogError) as err:
        run(conn, '{"id": "1"}\n', fmt="csv")
    assert err.value.field == "id"
    with pytest.raises(CatalogError) as err:
        run(conn, "id,name\n1,a\n", fmt="xml")
    assert "not a readable XML feed" in err.value.message
    assert run(conn, "id,name\n1,a\n", fmt="CSV").created == 1
    assert run(conn, '{"id": "2"}\n', fmt="ndjson").created == 1
    with pytest.raises(CatalogError) as err:
        normalize_format("xlsx")
    assert err.value.field == "format"


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n\n", "no content"),
    (b"\x1f\x8b\x08\x00rest", "gzip"),
    (b"PK\x03\x04rest", "ZIP"),
    ('id,name\n1,a\n'.encode("utf-16"), "UTF-16"),
    (b'[{"id": "1"}]', "JSON array"),
    (b'{\n  "id": "1"\n}\n', "one product object per line"),
    (b"<products><product><id>1</id></product></products>", "no <item>"),
    (b"<rss><channel><item><g:id>1</g:id></item>", "not a readable XML feed"),  # unbound prefix
])
def test_files_refused_whole(conn, data, words):
    with pytest.raises(CatalogError) as err:
        run(conn, data)
    assert words in err.value.message
    assert count(conn) == 0


# -- validation --------------------------------------------------------------------------------


def test_missing_id_column_names_the_column(conn):
    with pytest.raises(CatalogError) as err:
        run(conn, "sku,name,price\n1,a,2\n")
    assert err.value.field == "id"
    assert "'id' column" in err.value.message and "sku" in err.value.message
    assert count(conn) == 0


def test_first_json_object_without_id_refuses_the_file(conn):
    with pytest.raises(CatalogError) as err:
        run(conn, '{"sku": "1", "name": "a"}\n{"id": "2"}\n')
    assert err.value.field == "id"


def test_feed_in_the_wrong_namespace_refuses_the_file(conn):
    xml = ('<rss xmlns:g="http://example.com/not-google" version="2.0"><channel>'
           "<item><g:id>1</g:id><title>a</title></item></channel></rss>")
    with pytest.raises(CatalogError) as err:
        run(conn, xml)
    assert err.value.field == "id" and "base.google.com/ns/1.0" in err.value.message


def test_rows_are_rejected_with_line_and_reason_and_the_rest_imported(conn):
    rows = [
        "id,name,price,currency,url,image,in_stock,group_id,unknown_column",
        "ok-1,Fine,10,TRY,https://s.test/1,http://cdn.test/1.jpg,yes,g,whatever",  # 2
        ",No id,10,TRY,,,,,",  # 3
        f"{'x' * 65},Long id,10,TRY,,,,,",  # 4
        f"long-name,{'n' * 301},10,TRY,,,,,",  # 5
        "neg,Negative,-1,TRY,,,,,",  # 6
        "huge,Huge,1000000000,TRY,,,,,",  # 7
        "nan,NaN,NaN,TRY,,,,,",  # 8
        "cur,Bad currency,10,XYZ,,,,,",  # 9
        "cur2,Bad currency,10,TRYY,,,,,",  # 10
        "js,Script,10,TRY,javascript:alert(1),,,,",  # 11
        "rel,Relative,10,TRY,/p/rel,,,,",  # 12
        "ftp,Ftp image,10,TRY,,ftp://cdn.test/x.jpg,,,",  # 13
        "stock,Maybe,10,TRY,,,maybe,,",  # 14
        "nocur,No currency,10,,,,,,",  # 15: the file has a currency column, this row leaves it empty
        "ok-2,Also fine,,,,,no,,",  # 16: no price at all is fine
        "mismatch,Mismatch,10 USD,TRY,,,,,",  # 17
        f"longurl,Long URL,10,TRY,https://s.test/{'a' * 2048},,,,",  # 18
    ]
    result = run(conn, "\n".join(rows) + "\n")
    assert (result.created, result.rejected) == (2, 15), result.rejections
    by_line = {r["line"]: r for r in result.rejections}
    assert sorted(by_line) == [*range(3, 16), 17, 18]
    assert by_line[3]["reason"] == "id is required" and by_line[3]["id"] is None
    assert "at most 64" in by_line[4]["reason"]
    assert by_line[5]["id"] == "long-name" and "at most 300" in by_line[5]["reason"]
    assert by_line[6]["reason"] == "price must not be negative"
    assert "below" in by_line[7]["reason"]
    assert "not a price" in by_line[8]["reason"]
    assert "ISO 4217" in by_line[9]["reason"] and by_line[9]["field"] == "currency"
    assert "ISO 4217" in by_line[10]["reason"]
    assert "absolute http(s) URL" in by_line[11]["reason"] and by_line[11]["field"] == "url"
    assert "absolute http(s) URL" in by_line[12]["reason"]
    assert by_line[13]["field"] == "image"
    assert "in_stock: unknown value 'maybe'" in by_line[14]["reason"]
    assert by_line[15]["reason"] == "price has no currency"
    assert "USD" in by_line[17]["reason"] and "TRY" in by_line[17]["reason"]
    assert "longer than 2048" in by_line[18]["reason"] or "at most 2048" in by_line[18]["reason"]
    assert product(conn, "ok-2")["price"] is None and product(conn, "ok-2")["in_stock"] == 0
    assert count(conn) == 2


def test_price_without_currency_rules(conn):
    # No currency column at all: the shop's currency.
    assert run(conn, "id,price\na,10\n").created == 1
    assert product(conn, "a")["currency"] == "TRY"
    # No currency column and no shop default: rejected.
    result = run(conn, "id,price\nb,10\n", default_currency=None)
    assert reasons(result) == [(2, "price has no currency")]
    # JSON lines: a missing key takes the shop's currency, an empty one is an error.
    result = run(conn, '{"id": "c", "price": 5}\n{"id": "d", "price": 5, "currency": ""}\n'
                       '{"id": "e", "price": 5, "currency": null}\n')
    assert result.created == 1 and product(conn, "c")["currency"] == "TRY"
    assert [line for line, _ in reasons(result)] == [2, 3]
    # A Google feed must say it in the price.
    xml = ('<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>f</g:id><g:price>249.90</g:price>'
           '</item></channel></rss>')
    assert "currency" in run(conn, xml).rejections[0]["reason"]


def test_sale_price(conn):
    result = run(conn, "id,price,sale_price,currency\na,100,80,TRY\nb,100,80 USD,TRY\nc,,50,EUR\n")
    assert result.created == 2
    assert product(conn, "a")["price"] == 80
    assert product(conn, "c")["price"] == 50 and product(conn, "c")["currency"] == "EUR"
    assert result.rejections[0]["line"] == 3 and result.rejections[0]["field"] == "sale_price"


def test_json_values_of_the_wrong_kind_are_rejected(conn):
    lines = [
        '{"id": "ok", "price": 1}',
        '{"id": ["x"]}',
        '{"id": "n", "name": {"tr": "Bal"}}',
        '{"id": "p", "price": true}',
        '{"id": "q", "price": NaN}',
        '{"id": "r", "price": 1e400}',
        '{"id": "s", "in_stock": "perhaps"}',
        '"just a string"',
        '{"id": 1.5}',
        '{"id": "t", "url": 42}',
    ]
    result = run(conn, "\n".join(lines) + "\n")
    assert result.created == 1
    assert [line for line, _ in reasons(result)] == list(range(2, 11))
    assert "not valid JSON" in result.rejections[3]["reason"]  # NaN is not JSON


def test_control_characters(conn):
    result = run(conn, '{"id": "a\\tb"}\n{"id": "ok", "name": "Bal\\n\\tPetek  850 g"}\n')
    assert result.created == 1 and result.rejections[0]["line"] == 1
    assert product(conn, "ok")["name"] == "Bal Petek 850 g"


def test_url_with_spaces_is_escaped_and_any_https_host_is_allowed(conn):
    result = run(conn, "id,url,image\na,https://elsewhere.example/p/a b,https://cdn.example:8443/x/ç.jpg\n")
    assert result.created == 1, result.rejections
    assert product(conn, "a")["url"] == "https://elsewhere.example/p/a%20b"
    assert product(conn, "a")["image"] == "https://cdn.example:8443/x/ç.jpg"


def test_duplicate_ids_first_row_wins(conn):
    result = run(conn, "id,name\na,first\nb,other\na,second\n")
    assert (result.created, result.rejected) == (2, 1)
    assert result.rejections == [{"line": 4, "id": "a", "field": "id", "reason": "duplicate id: already on line 2"}]
    assert product(conn, "a")["name"] == "first"


def test_rejections_are_counted_all_and_listed_up_to_the_cap(conn):
    data = "id,price\n" + "".join(f"r{i},bad\n" for i in range(1500)) + "fine,1\n"
    result = run(conn, data)
    assert result.rejected == 1500 and len(result.rejections) == MAX_LISTED_REJECTIONS
    assert result.created == 1
    assert result.rejections[0]["line"] == 2


# -- broken input ------------------------------------------------------------------------------


def test_bad_encoding_rejects_the_line(conn):
    data = b"id,name\n1,Bal\n" + "2,Çiçek\n".encode("cp1254") + b"3,Petek\n"
    result = run(conn, data)
    assert result.created == 2
    [rej] = result.rejections
    assert rej["line"] == 3 and "not valid UTF-8" in rej["reason"]


def test_bad_encoding_at_the_start_refuses_the_file(conn):
    with pytest.raises(CatalogError) as err:
        run(conn, "id,ürün adı\n1,Bal\n".encode("cp1254"))
    assert "not UTF-8" in err.value.message
    with pytest.raises(CatalogError):
        run(conn, '{"id": "1", "name": "Çiçek"}\n'.encode("cp1254"))


def test_bad_bytes_in_xml_stop_the_feed_keeping_what_was_read(conn):
    items = "".join(f"<item><g:id>{i}</g:id><g:price>1 TRY</g:price></item>\n" for i in range(3))
    head = '<rss xmlns:g="http://base.google.com/ns/1.0"><channel>\n'
    data = (head + items).encode() + b"<item><g:id>\xff</g:id></item>\n" + items.encode() + b"</channel></rss>"
    result = run(conn, data)
    assert result.created == 3 and not result.complete
    assert result.rejections[-1]["line"] == 5 and "not imported" in result.rejections[-1]["reason"]


def _peak(fn):
    known_currencies()  # loaded once per process (Babel's currency list): not the import's memory
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_5mb_line_in_csv_is_rejected_without_blowing_memory(conn, tmp_path):
    path = tmp_path / "long.csv"
    with open(path, "wb") as f:
        f.write(b"id,name,price\n1,a,1\n2,")
        f.write(b"x" * (5 * 1024 * 1024))
        f.write(b",1\n3,c,1\n")
    with open(path, "rb") as f:
        result, peak = _peak(lambda: import_stream(conn, "demo", f, default_currency="TRY"))
    assert result.created == 2
    assert reasons(result) == [(3, "line is 5,242,884 bytes long; at most 1,048,576 bytes (1 MiB) per line")]
    assert peak < 4 * 1024 * 1024, peak


def test_5mb_line_in_jsonl_is_rejected_without_blowing_memory(conn, tmp_path):
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(b'{"id": "1"}\n{"id": "2", "name": "')
        f.write(b"x" * (5 * 1024 * 1024))
        f.write(b'"}\n{"id": "3"}\n')
    with open(path, "rb") as f:
        result, peak = _peak(lambda: import_stream(conn, "demo", f))
    assert result.created == 2 and [line for line, _ in reasons(result)] == [2]
    assert peak < 4 * 1024 * 1024, peak


def test_5mb_text_in_an_xml_item_is_rejected_without_blowing_memory(conn, tmp_path):
    path = tmp_path / "long.xml"
    with open(path, "wb") as f:
        f.write(b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel>\n'
                b"<item><g:id>1</g:id><g:price>1 TRY</g:price></item>\n"
                b"<item><g:id>2</g:id><g:title>")
        f.write(b"x" * (5 * 1024 * 1024))
        f.write(b"</g:title></item>\n<item><g:id>3</g:id><g:description>")
        f.write(b"y" * (5 * 1024 * 1024))  # a long text the import does not keep is simply skipped
        f.write(b"</g:description></item>\n</channel></rss>\n")
    with open(path, "rb") as f:
        result, peak = _peak(lambda: import_stream(conn, "demo", f))
    assert result.created == 2 and reasons(result) == [(3, "item is longer than 1,048,576 characters (1 MiB)")]
    assert peak < 4 * 1024 * 1024, peak


def test_a_huge_xml_tag_stops_the_feed(conn):
    data = (b'<rss xmlns:g="http://base.google.com/ns/1.0"><channel>\n<item><g:id>1</g:id></item>\n<item a="'
            + b"z" * (3 * 1024 * 1024) + b'"><g:id>2</g:id></item></channel></rss>')
    result = run(conn, data)
    assert result.created == 1 and not result.complete
    assert "longer than 1 MiB" in result.rejections[-1]["reason"]


def test_unclosed_quote_in_csv_is_one_rejection_and_reading_goes_on(conn):
    data = 'id,name\n1,a\n2,"unclosed\n' + "".join(f"{i},row\n" for i in range(3, 30)) + "99,b\n"
    result = run(conn, data)
    assert result.created >= 1 and product(conn, "1") is not None
    # The quote swallows the rows up to the end of the file: reported at its line, never a crash.
    assert (result.created, result.rejected) == (1, 1)
    assert result.rejections[0]["line"] == 3 and "never closed" in result.rejections[0]["reason"]


def test_stray_quote_after_a_quoted_field_rejects_the_row(conn):
    result = run(conn, 'id,name\n1,"Bal "Özel" 850 g"\n2,"ok"\n')
    assert result.created == 1 and product(conn, "2")["name"] == "ok"
    assert result.rejections[0]["line"] == 2 and "CSV" in result.rejections[0]["reason"]


def test_a_quote_spanning_more_than_a_mib_is_rejected(conn, tmp_path):
    path = tmp_path / "quote.csv"
    with open(path, "wb") as f:
        f.write(b'id,name\n1,a\n2,"unclosed\n')
        for _ in range(40_000):
            f.write(b"a line of about forty bytes in the quote\n")
        f.write(b'end"\n3,c\n')
    with open(path, "rb") as f:
        result, peak = _peak(lambda: import_stream(conn, "demo", f))
    # Where the row ends cannot be known: the reading stops there rather than import the quote's
    # lines as products.
    assert count(conn) == 1 and product(conn, "1") is not None
    assert not result.complete and result.rejected == 1
    assert result.rejections[0]["line"] == 3 and "1 MiB" in result.rejections[0]["reason"]
    assert peak < 8 * 1024 * 1024, peak


@pytest.mark.parametrize("name", ["xml_bomb.xml", "xml_external_entity.xml"])
def test_xml_bomb_and_external_entity_are_refused(conn, name):
    started = time.monotonic()
    with pytest.raises(CatalogError) as err:
        run_file(conn, name)
    assert "DOCTYPE" in err.value.message and err.value.field == "body"
    assert time.monotonic() - started < 2  # refused, not expanded
    assert count(conn) == 0


@pytest.mark.parametrize("doc", [
    b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd"><rss/>',
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><rss/>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"A" * 100_000 + b'">]><rss><item>&a;&a;&a;</item></rss>',
])
def test_other_dtd_tricks_are_refused(conn, doc):
    with pytest.raises(CatalogError) as err:
        run(conn, doc)
    assert "DOCTYPE" in err.value.message


def test_deep_nesting_is_refused(conn):
    with pytest.raises(CatalogError) as err:
        run(conn, "<rss>" + "<a>" * 100_000)
    assert "nested deeper" in err.value.message


@pytest.mark.parametrize("encoding, ok", [("windows-1254", True), ("no-such-encoding", False), ("shift_jis", False)])
def test_declared_xml_encodings(conn, encoding, ok):
    doc = (f'<?xml version="1.0" encoding="{encoding}"?><rss xmlns:g="http://base.google.com/ns/1.0"><channel>'
           "<item><g:id>1</g:id><g:title>Çiçek Balı</g:title></item></channel></rss>")
    data = doc.encode("cp1254" if ok else "ascii", "replace")
    if ok:
        assert run(conn, data).created == 1 and product(conn, "1")["name"] == "Çiçek Balı"
    else:
        with pytest.raises(CatalogError) as err:
            run(conn, data)
        assert "not a readable XML feed" in err.value.message


def test_undefined_entity_is_an_xml_error_not_a_crash(conn):
    with pytest.raises(CatalogError) as err:
        run(conn, '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>&xxe;</g:id></item></channel></rss>')
    assert "undefined entity" in err.value.message


def test_truncated_xml_keeps_what_was_read_and_skips_full(conn):
    run(conn, "id,name\nold,Old\n")
    head = '<rss xmlns:g="http://base.google.com/ns/1.0"><channel>\n'
    items = "".join(f"<item><g:id>n{i}</g:id></item>\n" for i in range(5))
    result = run(conn, head + items + "<item><g:id>cut", full=True)
    assert result.created == 5 and not result.complete and result.unavailable == 0
    assert "full was not applied" in result.rejections[-1]["reason"]
    assert product(conn, "old")["in_stock"] == 1


# -- upserts and full feeds ---------------------------------------------------------------------


def _browser_row(conn, pid: str, **fields):
    cols = {"name": "From the page", "price": 99.0, "currency": "TRY", "url": "https://balparmak.test/b",
            "image": "https://balparmak.test/b.jpg", "category": "Seen", "in_stock": 1, **fields}
    conn.execute(
        "INSERT INTO products (shop, id, name, price, currency, url, image, category, in_stock, source, updated_at) "
        "VALUES ('demo', ?, ?, ?, ?, ?, ?, ?, ?, 'browser', 1)",
        (pid, cols["name"], cols["price"], cols["currency"], cols["url"], cols["image"], cols["category"],
         cols["in_stock"]))


def test_created_then_updated(conn):
    first = run(conn, "id,name,price\na,A,1\nb,B,2\n")
    assert (first.created, first.updated) == (2, 0)
    second = run(conn, "id,name,price\na,A2,1\nc,C,3\n")
    assert (second.created, second.updated) == (1, 1)
    assert product(conn, "a")["name"] == "A2"
    assert product(conn, "b")["in_stock"] == 1  # not a full feed: untouched


def test_catalog_overrides_browser_rows(conn):
    _browser_row(conn, "x")
    _browser_row(conn, "y")
    result = run(conn, "id,name,price,currency,in_stock\nx,Catalog name,10,EUR,no\n")
    assert (result.created, result.updated) == (0, 1)
    x = product(conn, "x")
    assert (x["source"], x["name"], x["price"], x["currency"], x["in_stock"]) == (
        "catalog", "Catalog name", 10, "EUR", 0)
    assert x["updated_at"] > 1000
    assert x["image"] == "https://balparmak.test/b.jpg"  # a column the file does not have keeps its value
    assert product(conn, "y")["source"] == "browser"


def test_absent_columns_keep_values_and_empty_cells_clear_them(conn):
    run(conn, "id,name,price,image,category,group_id\na,A,5,https://c.test/a.jpg,Bal,g1\n")
    run(conn, "id,name\na,Renamed\n")
    a = product(conn, "a")
    assert (a["name"], a["price"], a["image"], a["category"], a["group_id"]) == (
        "Renamed", 5, "https://c.test/a.jpg", "Bal", "g1")
    run(conn, "id,image,category,price\na,,,\n")
    a = product(conn, "a")
    assert (a["image"], a["category"], a["price"], a["name"]) == (None, None, None, "Renamed")


def test_shops_are_separate(conn):
    run(conn, "id,price\na,1\n", shop="other", default_currency="EUR")
    assert product(conn, "a", "other")["currency"] == "EUR"
    assert product(conn, "a") is None


def test_full_marks_missing_catalog_products_unavailable(conn):
    run(conn, "id,name\na,A\nb,B\nc,C\nd,D\n")
    _browser_row(conn, "seen-on-page")
    result = run(conn, "id,name,price\na,A,1\nb,B,oops\n", full=True)
    # b was rejected but is in the feed: left alone. c and d are gone from the feed.
    assert (result.updated, result.rejected, result.unavailable) == (1, 1, 2)
    assert product(conn, "a")["in_stock"] == 1 and product(conn, "b")["in_stock"] == 1
    assert product(conn, "c")["in_stock"] == 0 and product(conn, "d")["in_stock"] == 0
    assert product(conn, "seen-on-page")["in_stock"] == 1  # browser rows are not the catalog's
    assert count(conn) == 5  # never deleted
    # Back in a later feed: available again.
    result = run(conn, "id\nc\n")
    assert product(conn, "c")["in_stock"] == 1 and result.unavailable == 0


def test_full_without_products_is_refused(conn):
    run(conn, "id,name\na,A\n")
    with pytest.raises(CatalogError) as err:
        run(conn, "id,name\n", full=True)
    assert "no products" in err.value.message
    assert product(conn, "a")["in_stock"] == 1
    assert run(conn, "id,name\n").rows == 0  # without full an empty file is harmless


def test_full_leaves_other_shops_alone(conn):
    run(conn, "id\nx\n", shop="other")
    run(conn, "id\ny\n", full=True)
    assert product(conn, "x", "other")["in_stock"] == 1


def test_temp_table_is_dropped(conn):
    run(conn, "id\na\n", full=True)
    with pytest.raises(CatalogError):
        run(conn, "sku\n1\n")
    temp = ("SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()" if POSTGRES
            else "SELECT name FROM sqlite_temp_master WHERE type = 'table'")
    assert conn.execute(temp).fetchall() == []


def test_writes_in_chunks_through_a_writer(db_path):
    conn = connect_sync(str(db_path))
    calls = []

    def writer(fn, *args):
        calls.append(fn.__name__)
        return transaction(conn, fn, *args)

    data = "id\n" + "".join(f"p{i}\n" for i in range(1200))
    result = import_stream(writer, "demo", io.BytesIO(data.encode()))
    assert result.created == 1200
    assert calls.count("write_chunk") == 3  # 500 + 500 + 200 rows
    assert calls[0] == "create_seen" and calls[-1] == "drop_seen"


def test_progress_is_reported(conn):
    seen = []
    data = ("id\n" + "".join(f"p{i}\n" for i in range(1000))).encode()
    import_stream(conn, "demo", io.BytesIO(data), progress=lambda done, rows: seen.append((done, rows)))
    assert seen[-1] == (len(data), 1000)
    assert seen == sorted(seen)


# -- 100,000 products ---------------------------------------------------------------------------


def write_csv_feed(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,name,price,currency,url,image,category,in_stock,group_id,description\n")
        for i in range(n):
            f.write(f'P{i:06d},"Çiçek Balı {i} – 850 g",{100 + i % 900}.90,TRY,https://shop.test/p/{i},'
                    f'https://cdn.shop.test/img/{i}.jpg,Bal > Çiçek,{"yes" if i % 7 else "no"},G{i // 4},'
                    f'"Doğal süzme bal, katkısız. Ürün no {i}."\n')


def write_xml_feed(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">\n'
                "<channel>\n<title>Shop</title><link>https://shop.test</link><description>feed</description>\n")
        for i in range(n):
            f.write(f"<item>\n  <g:id>P{i:06d}</g:id>\n  <g:title>Çiçek Balı {i} &amp; Petek</g:title>\n"
                    f"  <g:description>Doğal süzme bal, katkısız. Ürün no {i}.</g:description>\n"
                    f"  <g:link>https://shop.test/p/{i}</g:link>\n"
                    f"  <g:image_link>https://cdn.shop.test/img/{i}.jpg</g:image_link>\n"
                    f"  <g:availability>{'in_stock' if i % 7 else 'out_of_stock'}</g:availability>\n"
                    f"  <g:price>{100 + i % 900}.90 TRY</g:price>\n  <g:product_type>Bal &gt; Çiçek</g:product_type>\n"
                    f"  <g:item_group_id>G{i // 4}</g:item_group_id>\n"
                    "  <g:shipping><g:country>TR</g:country><g:price>0 TRY</g:price></g:shipping>\n</item>\n")
        f.write("</channel>\n</rss>\n")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_100k_csv_with_bounded_memory(conn, tmp_path):
    path = tmp_path / "big.csv"
    write_csv_feed(path, 100_000)
    size = path.stat().st_size
    started = time.perf_counter()
    with open(path, "rb") as f:
        result, peak = _peak(lambda: import_stream(conn, "demo", f, default_currency="TRY"))
    took = time.perf_counter() - started
    print(f"\n100k CSV ({size / 1e6:.1f} MB) under tracemalloc: {took:.1f} s, peak {peak / 1e6:.2f} MB")
    assert (result.created, result.rejected, result.rows) == (100_000, 0, 100_000)
    assert count(conn) == 100_000
    assert peak < size / 8 and peak < 4 * 1024 * 1024, peak
    assert product(conn, "P099999")["name"] == "Çiçek Balı 99999 – 850 g"
    assert product(conn, "P000007")["in_stock"] == 0


_XML_CHILD = textwrap.dedent("""
    import io, json, re, resource, sys, time
    sys.path.insert(0, sys.argv[1])
    from cartback.connection import connect_sync
    from cartback.catalog import import_stream

    def status(key):
        return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024

    conn = connect_sync(sys.argv[2])
    # Warm up: the imports and one tiny feed, so the baseline holds everything but the big file.
    import_stream(conn, "demo", io.BytesIO(b'<rss xmlns:g="http://base.google.com/ns/1.0"><item><g:id>w</g:id></item></rss>'))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident size (VmHWM) to the current one
        before, peak = status("VmRSS"), lambda: status("VmHWM")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started, cpu = time.perf_counter(), time.process_time()
    with open(sys.argv[3], "rb") as f:
        result = import_stream(conn, "demo", f, full=True)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"took": took, "cpu": cpu, "before": before, "growth": peak() - before,
                      "result": result.to_dict()}))
""")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_100k_google_feed_with_bounded_memory(db_path, tmp_path):
    # XML under tracemalloc is very slow (every expat callback allocates): the peak resident size
    # of a child process shows the same thing at full speed.
    path = tmp_path / "big.xml"
    write_xml_feed(path, 100_000)
    size = path.stat().st_size
    out = subprocess.run([sys.executable, "-c", _XML_CHILD, str(REPO / "server"), str(db_path), str(path)],
                         capture_output=True, text=True, timeout=800)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n100k Google feed ({size / 1e6:.1f} MB): {report['took']:.1f} s ({report['cpu']:.1f} s CPU), "
          f"resident {report['before'] / 1e6:.1f} MB before, peak growth during the import "
          f"{report['growth'] / 1e6:.1f} MB")
    r = report["result"]
    assert (r["created"], r["rejected"], r["unavailable"]) == (100_000, 0, 1)  # the warm-up item
    assert report["growth"] < size / 4, report["growth"]
