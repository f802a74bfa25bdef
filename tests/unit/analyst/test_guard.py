"""Analyst SQL guard: check_ast on the real `EXPLAIN AST` text of a real engine (chdb), and the policy.

The engine only prints trees here, on a client that is not read-only (so a
`SETTINGS` clause reaches the tree instead of failing the EXPLAIN); nothing
runs. chdb allows one data path per process, so every chdb client of the unit
tests opens the one directory `engine_dir` names (test_analyst_session.py
uses the same one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.analyst.guard import FunctionInfo, Policy, Refusal, Refused, build_policy, check_ast
from streams.sinks.clickhouse.connection import connect
from streams.sinks.clickhouse.migrations.runner import migrate

DB = "borderwatch"


@pytest.fixture(scope="module")
def engine(engine_dir: Path) -> Iterator[Client]:
    client = connect(f"chdb://{engine_dir}")
    migrate(client, DB)
    yield client
    client.close()


@pytest.fixture(scope="module")
def policy(engine: Client) -> Policy:
    """The policy AnalystSession builds, from this engine's own function list."""
    rows = engine.query(
        "SELECT name, categories, is_aggregate, case_insensitive, alias_to FROM system.functions"
    ).result_rows
    functions = [FunctionInfo(n, c, bool(a), bool(i), t) for n, c, a, i, t in rows]
    tables = [row[0] for row in engine.query(f"SHOW TABLES FROM {DB}").result_rows]
    databases = [row[0] for row in engine.query("SHOW DATABASES").result_rows]
    return build_policy(functions, DB, tables, databases)


def explain(engine: Client, query: str) -> str:
    """The engine's printed tree, as AnalystSession fetches it. One statement only: never pass a `;`."""
    assert ";" not in query
    return "\n".join(str(row[0]) for row in engine.query(f"EXPLAIN AST {query}").result_rows)


def refusal(engine: Client, policy: Policy, query: str) -> Refused | None:
    return check_ast(explain(engine, query), policy)


REFUSED: list[tuple[str, Refusal]] = [
    ("SELECT * FROM file('/etc/passwd', 'RawBLOB')", Refusal.FUNCTION),
    ("SELECT file('/etc/passwd')", Refusal.FUNCTION),
    ("SELECT FILE('/etc/passwd')", Refusal.FUNCTION),
    ("SELECT `file`('/etc/passwd')", Refusal.FUNCTION),
    ("SELECT * FROM `file`('/etc/passwd', 'RawBLOB')", Refusal.FUNCTION),
    ("INSERT INTO FUNCTION file('/tmp/out.csv') SELECT 1", Refusal.NOT_A_SELECT),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", Refusal.FUNCTION),
    ("SELECT * FROM s3('http://127.0.0.1:1/bucket/key', 'CSV')", Refusal.FUNCTION),
    ("SELECT * FROM remote('127.0.0.1', system.one)", Refusal.FUNCTION),
    ("SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')", Refusal.FUNCTION),
    ("SELECT * FROM postgresql('127.0.0.1:1', 'd', 't', 'u', 'p')", Refusal.FUNCTION),
    ("SELECT * FROM executable('id', 'TSV', 'x String')", Refusal.FUNCTION),
    ("SELECT * FROM input('x String')", Refusal.FUNCTION),
    ("SELECT * FROM merge('system', '.*')", Refusal.FUNCTION),
    ("SELECT * FROM numbers(1e12)", Refusal.FUNCTION),
    ("SELECT * FROM view(SELECT * FROM system.one)", Refusal.FUNCTION),
    ("SELECT * FROM cluster('default', system.one)", Refusal.FUNCTION),
    ("SELECT * FROM generateRandom('a UInt8') LIMIT 1", Refusal.FUNCTION),
    ("SELECT * FROM loop(events) LIMIT 1", Refusal.FUNCTION),
    ("SELECT * FROM values('x UInt8', 1)", Refusal.FUNCTION),
    ("SELECT * FROM dictionary('d')", Refusal.FUNCTION),
    ("SELECT * FROM events AS e JOIN file('/etc/passwd', 'LineAsString') AS f ON 1", Refusal.FUNCTION),
    ("SELECT 1 IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))", Refusal.FUNCTION),
    ("WITH (SELECT file('/etc/passwd')) AS x SELECT x", Refusal.FUNCTION),
    ("WITH t AS (SELECT file('/etc/passwd')) SELECT * FROM t", Refusal.FUNCTION),
    ("SELECT * FROM (EXPLAIN SYNTAX SELECT file('/etc/passwd'))", Refusal.FUNCTION),
    ("DESCRIBE file('/etc/passwd', 'CSVWithNames')", Refusal.FUNCTION),
    ("DESCRIBE url('http://127.0.0.1:1/x', 'CSV')", Refusal.FUNCTION),
    ("SET max_execution_time = 1", Refusal.NOT_A_SELECT),
    ("SELECT 1 SETTINGS readonly = 0", Refusal.SETTINGS),
    ("SELECT * FROM events SETTINGS max_threads = 4", Refusal.SETTINGS),
    ("SELECT * FROM (SELECT 1 SETTINGS readonly = 0)", Refusal.SETTINGS),
    ("SELECT 1 IN (SELECT 1 SETTINGS max_execution_time = 0)", Refusal.SETTINGS),
    ("SELECT 1 INTO OUTFILE '/tmp/out.tsv'", Refusal.OUTPUT_CLAUSE),
    ("SELECT 1 FORMAT JSON", Refusal.OUTPUT_CLAUSE),
    ("SELECT * FROM system.one", Refusal.TABLE),
    ("SELECT * FROM system . one", Refusal.TABLE),
    ("SELECT * FROM `system`.`one`", Refusal.TABLE),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", Refusal.TABLE),
    ("SELECT * FROM information_schema.tables", Refusal.TABLE),
    ("SELECT * FROM default.anything", Refusal.TABLE),
    ("SELECT 1 UNION ALL SELECT * FROM system.one", Refusal.TABLE),
    ("DESCRIBE TABLE system.users", Refusal.TABLE),
    ("SELECT 1 IN system.one", Refusal.DATABASE),
    ("SELECT count() FROM events WHERE route IN system.tables", Refusal.DATABASE),
    ("SELECT * FROM borderwatch.schema_migrations", Refusal.TABLE),
    ("SELECT * FROM schema_migrations", Refusal.TABLE),
    ("SELECT * FROM crossing_counts_mv", Refusal.TABLE),
    ("DESCRIBE schema_migrations", Refusal.TABLE),
    ("SELECT dictGet('d', 'a', toUInt64(1))", Refusal.FUNCTION),
    ("SELECT dictGetOrDefault('d', 'a', toUInt64(1), 0)", Refusal.FUNCTION),
    ("SELECT dictHas('d', toUInt64(1))", Refusal.FUNCTION),
    ("SELECT joinGet('j', 'v', 1)", Refusal.FUNCTION),
    ("SELECT sleepEachRow(1)", Refusal.FUNCTION),
    ("SELECT sleep(1)", Refusal.FUNCTION),
    ("SELECT aiGenerateContent('say hi')", Refusal.FUNCTION),
    ("SELECT getSetting('readonly')", Refusal.FUNCTION),
    ("SELECT getSettingOrDefault('readonly', 0)", Refusal.FUNCTION),
    ("SELECT hostName()", Refusal.FUNCTION),
    ("SELECT version()", Refusal.FUNCTION),
    ("SELECT uptime()", Refusal.FUNCTION),
    ("SELECT currentDatabase()", Refusal.FUNCTION),
    ("SELECT currentUser()", Refusal.FUNCTION),
    ("SELECT hasColumnInTable('system', 'one', 'dummy')", Refusal.FUNCTION),
    ("SELECT getSubcolumn(tuple(1), '1')", Refusal.FUNCTION),
    ("SELECT filesystemAvailable()", Refusal.FUNCTION),
    ("SELECT * FROM TABLE(file('/etc/passwd'))", Refusal.FUNCTION),
    ("SELECT * FROM (EXPLAIN AST SELECT 1)", Refusal.FUNCTION),
    ("DROP TABLE events", Refusal.NOT_A_SELECT),
    ("ALTER TABLE events DELETE WHERE 1", Refusal.NOT_A_SELECT),
    ("OPTIMIZE TABLE events FINAL", Refusal.NOT_A_SELECT),
    ("SHOW TABLES", Refusal.NOT_A_SELECT),
    ("SHOW CREATE TABLE events", Refusal.NOT_A_SELECT),
    ("EXPLAIN SELECT 1", Refusal.NOT_A_SELECT),
    ("EXPLAIN AST SELECT file('/etc/passwd')", Refusal.NOT_A_SELECT),
    ("KILL QUERY WHERE 1", Refusal.NOT_A_SELECT),
    ("INSERT INTO events (report_id) VALUES ('x')", Refusal.NOT_A_SELECT),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", Refusal.NOT_A_SELECT),
    ("TRUNCATE TABLE events", Refusal.NOT_A_SELECT),
    ("USE system", Refusal.NOT_A_SELECT),
]


@pytest.mark.parametrize(("query", "code"), REFUSED, ids=[q for q, _ in REFUSED])
def test_every_escape_is_refused_with_its_code(
    engine: Client, policy: Policy, query: str, code: Refusal
) -> None:
    refused = refusal(engine, policy, query)
    assert refused is not None, f"{query!r} was allowed"
    assert refused.code is code, refused


# README "For analysts", then what analysts write anyway.
ALLOWED = [
    """SELECT crossing_id, route, sum(reports) AS reports, sum(persons) AS persons
FROM borderwatch.crossing_counts
WHERE minute >= now() - INTERVAL 1 DAY
GROUP BY crossing_id, route ORDER BY persons DESC""",
    """SELECT toStartOfHour(minute) AS hour, route, sum(persons) AS persons
FROM borderwatch.crossing_counts GROUP BY hour, route ORDER BY hour, route""",
    """SELECT nat, sum(n) AS persons
FROM borderwatch.events FINAL
ARRAY JOIN mapKeys(nationalities) AS nat, mapValues(nationalities) AS n
WHERE route = 'Western African' GROUP BY nat ORDER BY persons DESC""",
    "SELECT reason, field, count() FROM borderwatch.rejects FINAL GROUP BY reason, field",
    """SELECT id, kind, impact, zone_id, window_start, headline
FROM borderwatch.alerts FINAL WHERE status != 'resolved'
ORDER BY indexOf(['low', 'medium', 'high', 'very_high'], impact) DESC, window_end DESC""",
    "SELECT count() FROM events",
    "SELECT SUM(persons), COUNT(*), Count(DISTINCT route) FROM events",
    "SELECT CAST(persons AS Float64), persons::String, DATE_TRUNC('day', observed_at) FROM events",
    "SELECT sumIf(persons, route = 'x'), uniqExactIf(route, persons > 0), countIf(persons > 1) FROM events",
    "SELECT avgIf(persons, 1), sumMap(nationalities), uniqIf(route, 1), maxOrNull(persons) FROM events",
    """SELECT route, row_number() OVER (PARTITION BY route ORDER BY observed_at) AS rn, sum(persons) OVER w,
lagInFrame(persons) OVER w FROM events
WINDOW w AS (PARTITION BY route ORDER BY observed_at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)""",
    "SELECT arrayMap(x -> x * 2, [1, 2, 3]), arrayFilter((x, y) -> x > y, [1, 2], [2, 1])",
    "SELECT route, x FROM events ARRAY JOIN [1, 2] AS x",
    "WITH 1 AS x SELECT x + 1",
    "SELECT quantile(0.9)(persons), quantiles(0.5, 0.9)(persons), topK(3)(route) FROM events",
    "SELECT toStartOfInterval(observed_at, INTERVAL 15 minute), JSONExtractString(report, 'x') FROM events",
    "SELECT CASE WHEN persons > 10 THEN 'big' ELSE 'small' END, multiIf(persons > 1, 'a', 'b') FROM events",
    """SELECT route FROM events WHERE route LIKE 'W%' AND route ILIKE 'w%' AND route IN ('a', 'b')
AND persons BETWEEN 1 AND 3 AND lat_deg IS NULL AND route NOT IN (SELECT route FROM alerts)""",
    "SELECT e.route, a.id FROM events AS e LEFT JOIN alerts AS a ON e.route = a.route",
    "SELECT route FROM events AS e INNER JOIN alerts AS a USING (route)",
    "SELECT toDate(observed_at), formatDateTime(observed_at, '%F'), EXTRACT(HOUR FROM observed_at)"
    " FROM events",
    "SELECT route, count() FROM events GROUP BY ROLLUP(route) WITH TOTALS",
    "SELECT * EXCEPT (report) FROM events LIMIT 5",
    "SELECT COLUMNS('_deg$') FROM events",
    "SELECT DISTINCT ON (route) route FROM events",
    "SELECT toStartOfDay(observed_at) AS d, count() FROM events GROUP BY d ORDER BY d WITH FILL",
    "SELECT route, persons FROM events ORDER BY persons DESC LIMIT 1 BY route",
    "SELECT route, sum(persons) AS p, p / sum(p) OVER () AS share FROM events GROUP BY route",
    "SELECT (SELECT count() FROM alerts) AS a, (SELECT max(observed_at) FROM events) AS b",
    "SELECT route FROM events UNION DISTINCT SELECT route FROM alerts",
    "SELECT 1 EXCEPT SELECT 2",
    "SELECT sum(persons) FILTER (WHERE route = 'x') FROM events",
    "SELECT NOW(), ABS(-1), LOWER('A'), CONCAT('a', 'b'), COALESCE(NULL, 1), IFNULL(NULL, 1), TRIM(' a ')",
    "SELECT greatCircleDistance(lon_deg, lat_deg, 0., 0.) FROM events WHERE lat_deg IS NOT NULL",
    "SELECT * FROM events PREWHERE persons > 0 WHERE 1 QUALIFY 1 LIMIT 1",
    "SELECT /* file('/etc/passwd') */ 1 -- SELECT file('/etc/passwd')",
    "DESCRIBE TABLE events",
    "DESC borderwatch.alerts",
    "(SELECT 1)",
]


@pytest.mark.parametrize("query", ALLOWED)
def test_analyst_queries_are_allowed(engine: Client, policy: Policy, query: str) -> None:
    assert refusal(engine, policy, query) is None


def test_an_alias_with_a_newline_can_only_add_lines_that_refuse(engine: Client, policy: Policy) -> None:
    # EXPLAIN AST prints aliases verbatim: the alias below adds a line that reads like a node.
    text = explain(engine, "SELECT 1 AS `x\n Function file`")
    assert "\n Function file" in text
    refused = check_ast(text, policy)
    assert refused is not None and refused.code is Refusal.FUNCTION
    imitated = explain(engine, "SELECT 1 AS `x\n   TableIdentifier system.one`")
    refused = check_ast(imitated, policy)
    assert refused is not None and refused.code is Refusal.TABLE
    harmless = explain(engine, "SELECT 1 AS `x\n  Literal 1`")
    assert check_ast(harmless, policy) is None


# EXPLAIN AST text as the engine printed it, kept here so the tree walk is tested without an engine too.
CAPTURED_FILE = """SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function file (children 1)
       ExpressionList (children 2)
        Literal '/etc/passwd'
        Literal 'RawBLOB'"""
CAPTURED_COUNT = """SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Function count (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier borderwatch.events (alias e)
 Identifier Native"""


def test_captured_trees(policy: Policy) -> None:
    refused = check_ast(CAPTURED_FILE, policy)
    assert refused == Refused(Refusal.FUNCTION, "function 'file' is not allowed in an analyst query")
    assert check_ast(CAPTURED_COUNT, policy) is None
    format_json = CAPTURED_COUNT.replace(" Identifier Native", " Identifier JSON")
    assert check_ast(format_json, policy) == Refused(
        Refusal.OUTPUT_CLAUSE, "FORMAT JSON is not allowed; results come back as JSON"
    )
    other_db = CAPTURED_COUNT.replace("borderwatch.events", "system.events")
    refused = check_ast(other_db, policy)
    assert refused is not None and refused.code is Refusal.TABLE


@pytest.mark.parametrize("text", ["", "\n\n", "   "])
def test_an_empty_tree_is_refused(policy: Policy, text: str) -> None:
    refused = check_ast(text, policy)
    assert refused is not None and refused.code is Refusal.NOT_A_SELECT


def test_an_unknown_node_type_is_refused(policy: Policy) -> None:
    text = CAPTURED_COUNT.replace("    Function count (children 1)", "    QueryParameter x:String")
    refused = check_ast(text, policy)
    assert refused is not None and refused.code is Refusal.NODE


@pytest.mark.parametrize(
    "name", ["sum", "SUM", "Sum", "count", "COUNT", "sumIf", "uniqExactIf", "countIf", "sumIfOrNull",
             "avgForEach", "groupArrayDistinct", "uniqState", "sumMerge", "quantileIf", "CAST", "cast",
             "DATE_TRUNC", "date_trunc", "lambda", "arrayMap", "toStartOfHour", "lagInFrame", "row_number"],
)  # fmt: skip
def test_allowed_functions(policy: Policy, name: str) -> None:
    assert policy.allows_function(name)


@pytest.mark.parametrize(
    "name", ["file", "FILE", "File", "fileIf", "url", "URL", "s3", "remote", "mysql", "postgresql", "input",
             "executable", "merge", "numbers", "sleep", "sleepEachRow", "getSetting", "hostName", "dictGet",
             "dictGetString", "dictGetOrDefault", "dictHas", "joinGet", "joinGetOrNull", "currentDatabase",
             "aiGenerateContent", "version", "toUpperIf", "concatIf", "viewExplain"],
)  # fmt: skip
def test_refused_functions(policy: Policy, name: str) -> None:
    assert not policy.allows_function(name)


def test_no_table_function_of_the_engine_passes_as_a_function_but_format(
    engine: Client, policy: Policy
) -> None:
    # `format` is also a String function; the read-only session refuses it as a table function (see
    # test_analyst_session.py), which is the only thing keeping `FROM format(...)` out.
    names = [row[0] for row in engine.query("SELECT name FROM system.table_functions").result_rows]
    passing = {v for n in names for v in (n, n.lower(), n.upper()) if policy.allows_function(v)}
    assert passing == {"format"}


def test_build_policy_follows_aliases_and_categories() -> None:
    functions = [
        FunctionInfo("sum", "Aggregate Functions", True, True, ""),
        FunctionInfo("file", "Other", False, False, ""),
        FunctionInfo("readAll", "String", False, False, "file"),  # an alias of a denied function
        FunctionInfo("mixed", "String, Other", False, False, ""),
        FunctionInfo("uncategorised", "", False, False, ""),
        FunctionInfo("bar", "Other", False, False, ""),  # on the extras list
        FunctionInfo("lower", "String", False, True, ""),
        FunctionInfo("aiThing", "String", False, False, ""),
        FunctionInfo("dictGetAnything", "Dictionary", False, False, ""),
    ]
    policy = build_policy(functions, DB, ["events"], [DB, "system"])
    assert policy.functions == {"sum", "bar", "lower", "lambda", "exists"}
    assert policy.allows_function("SUM") and policy.allows_function("LOWER")
    assert policy.allows_function("sumIf") and not policy.allows_function("lowerIf")
    assert not policy.allows_function("readAll")
    assert policy.other_databases == {"system"}
