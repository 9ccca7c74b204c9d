"""Figures from raw rows (server/cartback/report/raw.py): every query the report runs over a shop's
rows goes through an index. The figures themselves: test_report.py."""

from __future__ import annotations

from cartback.report.raw import (
    _BLOCKS_SQL,
    _CLICKS_SQL,
    _COHORT_SQL,
    _IMPRESSIONS_SQL,
    _PURCHASES_SQL,
    _SEEN_BEFORE_SQL,
)

from tests.conftest import POSTGRES


def test_report_queries_use_indexes(conn):
    # `conn`: a migrated database (tests/conftest.py), the schema the server runs on.
    plans = {
        "blocks": (_BLOCKS_SQL, ("s", 0, 1)),
        "impressions": (_IMPRESSIONS_SQL, ("s", 0, 1)),
        "seen before": (_SEEN_BEFORE_SQL.format(marks="?,?"), ("s", 0, "b1", "b2")),
        "clicks": (_CLICKS_SQL, (0, "s", 0, 1)),
        "purchases": (_PURCHASES_SQL, ("s", 0, 1)),
        "cohort": (_COHORT_SQL, {"shop": "s", "lo": 0, "hi": 1}),
    }
    for name, (sql, params) in plans.items():
        tables = _postgresql_scans(conn, sql, params) if POSTGRES else _sqlite_scans(conn, sql, params)
        # Every read of a stored table goes through an index (SCAN is only allowed over the
        # intermediate `firsts` of the cohort query).
        assert tables and all(step.startswith("SEARCH") or step == "SCAN f" for step in tables), (name, tables)


def _sqlite_scans(conn, sql: str, params) -> list[str]:
    plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    return [step for step in plan if step.startswith(("SCAN", "SEARCH"))]


def _postgresql_scans(conn, sql: str, params) -> list[str]:
    """The plan's reads of tables in SQLite's words: SEARCH through an index, else SCAN. With
    sequential scans priced out, PostgreSQL plans one only where no index serves (the test's tables
    are empty: it would prefer one anyway)."""
    conn.execute("SET enable_seqscan = off")
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0][0]["Plan"]
    conn.execute("RESET enable_seqscan")
    steps, nodes = [], [plan]
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if "Relation Name" in node:
            kind = "SCAN" if node["Node Type"] == "Seq Scan" else "SEARCH"
            steps.append(f"{kind} {node['Relation Name']}")
    return steps
