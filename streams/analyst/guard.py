"""Analyst SQL: decide from ClickHouse's own parse tree (`EXPLAIN AST`) whether a query may run.

Nothing here looks at the SQL text: ClickHouse parses it, and the guard walks
the printed tree. A query is allowed when it is one SELECT (or DESCRIBE) whose
every node type, function and table is on an allow-list; anything unknown is
refused. The analyst session is also `readonly=1` (no writes, settings or
table functions), so this is the second wall, and the one that stops scalar
functions that reach outside (`file()`, `dictGet`, the AI functions) and
reads of other databases (`system.*`).

`EXPLAIN AST` prints an alias verbatim, newlines included, so an alias can
add lines that look like nodes. Every check below refuses on the presence of a
line, never on its absence, so an injected line can only make a query refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ROOTS = frozenset({"SelectWithUnionQuery", "DescribeQuery"})
NODE_TYPES = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "DescribeQuery", "ExpressionList",
    "TablesInSelectQuery", "TablesInSelectQueryElement", "TableExpression", "TableIdentifier", "TableJoin",
    "ArrayJoin", "Subquery", "Identifier", "Literal", "Function", "Asterisk", "QualifiedAsterisk",
    "ColumnsRegexpMatcher", "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher",
    "QualifiedColumnsListMatcher", "ColumnsTransformerList", "ColumnsExceptTransformer",
    "ColumnsReplaceTransformer", "ColumnsReplaceTransformer::Replacement", "OrderByElement",
    "WindowDefinition", "WindowListElement", "SampleRatio", "WithElement", "InterpolateElement",
})  # fmt: skip

# Function families from system.functions' categories: computation on the rows, nothing else.
SAFE_CATEGORIES = frozenset({
    "Aggregate Functions", "Arithmetic", "Arrays", "Bit", "Bitmap", "Comparison", "Conditional",
    "Dates and Times", "Distance", "Encoding", "Financial", "Geo", "Geo Polygon", "Hash", "IP Address",
    "JSON", "Logical", "Map", "Mathematical", "Null", "Rounding", "String", "String Replacement",
    "String Search", "String Splitting", "Time Window", "Tuple", "Type Conversion", "URL", "UUID",
})  # fmt: skip
# Useful functions that ClickHouse files under "Other" or no category.
EXTRA_FUNCTIONS = frozenset({
    "bar", "formatReadableSize", "formatReadableDecimalSize", "formatReadableQuantity",
    "formatReadableTimeDelta", "toTypeName", "transform", "runningDifference", "neighbor", "isFinite",
    "isInfinite", "isNaN", "ifNotFinite", "materialize", "ignore", "identity", "throwIf", "countDigits",
    "finalizeAggregation", "initializeAggregation", "runningAccumulate", "rowNumberInAllBlocks",
    "visibleWidth", "byteSize", "errorCodeToName", "exists",
})  # fmt: skip
SYNTAX_FUNCTIONS = frozenset({"lambda", "exists"})  # parsed as functions, not in system.functions
# Never, whatever their category says: files, URLs, other servers, the shell, settings, sleeping.
DENIED_FUNCTIONS = frozenset({
    "file", "url", "s3", "hdfs", "remote", "remoteSecure", "mysql", "postgresql", "executable", "input",
    "sleep", "sleepEachRow", "getSetting", "getSettingOrDefault", "getServerSetting",
    "getMergeTreeSetting", "getMacro", "getClientHTTPHeader", "currentRequestURL", "showCertificate",
    "hasColumnInTable", "joinGet", "joinGetOrNull", "catboostEvaluate", "evalMLMethod",
    "filesystemAvailable", "filesystemCapacity", "filesystemUnreserved",
    # Quadratic in a string's length inside one block, where ClickHouse does not check the time limit.
    "editDistance", "editDistanceUTF8", "levenshteinDistance", "levenshteinDistanceUTF8",
    "damerauLevenshteinDistance", "jaroSimilarity", "jaroWinklerSimilarity", "stringJaccardIndex",
    "stringJaccardIndexUTF8",
})  # fmt: skip
DENIED_PREFIXES = ("dictGet", "dictHas", "dictIs", "ai", "AI", "joinGet")
AGGREGATE_COMBINATORS = (
    "SimpleState", "MergeState", "OrDefault", "Resample", "ForEach", "Distinct", "ArgMin", "ArgMax",
    "OrNull", "State", "Merge", "Array", "Map", "If",
)  # fmt: skip


class Refusal(StrEnum):
    """Stable codes for refused analyst queries."""

    NOT_A_SELECT = "not_a_select"
    SETTINGS = "settings"
    OUTPUT_CLAUSE = "output_clause"
    NODE = "node"
    FUNCTION = "function"
    TABLE_FUNCTION = "table_function"
    TABLE = "table"
    DATABASE = "database"


@dataclass(frozen=True)
class Refused:
    """Why a query may not run: a code and a sentence for the analyst."""

    code: Refusal
    detail: str


@dataclass(frozen=True)
class FunctionInfo:
    """One row of system.functions, as much as the policy needs."""

    name: str
    categories: str
    is_aggregate: bool
    case_insensitive: bool
    alias_to: str


@dataclass(frozen=True)
class Policy:
    """What an analyst query may touch: functions, and tables of the one database."""

    functions: frozenset[str]
    insensitive: frozenset[str]  # lower-cased names ClickHouse accepts in any case
    aggregates: frozenset[str]
    database: str
    tables: frozenset[str]
    hidden: frozenset[str]  # tables of the database that analysts do not read (migrations, views)
    other_databases: frozenset[str]

    def allows_function(self, name: str) -> bool:
        """Exact name, any-case name, or an allowed aggregate with combinators (sumIf, uniqExactIf…)."""
        if self._allowed(name):
            return True
        base = name
        while True:
            suffix = next((s for s in AGGREGATE_COMBINATORS if base.endswith(s) and len(base) > len(s)), None)
            if suffix is None:
                return False
            base = base[: -len(suffix)]
            if self._allowed(base) and (base in self.aggregates or base.lower() in self.aggregates):
                return True

    def _allowed(self, name: str) -> bool:
        return name in self.functions or name.lower() in self.insensitive


def build_policy(
    functions: Iterable[FunctionInfo], database: str, tables: Iterable[str], databases: Iterable[str]
) -> Policy:
    """The allow-list from this engine's own lists: functions of safe categories and extras, minus
    denials; the database's tables but its migrations and materialized views."""
    hidden = {t for t in tables if t == "schema_migrations" or t.endswith("_mv")}
    rows = {f.name: f for f in functions}

    def safe(info: FunctionInfo) -> bool:
        if info.name in DENIED_FUNCTIONS or info.name.startswith(DENIED_PREFIXES):
            return False
        target = rows.get(info.alias_to) if info.alias_to else None
        if target is not None and target.name != info.name:
            return safe(target)
        categories = {c.strip() for c in info.categories.split(",") if c.strip()}
        return info.name in EXTRA_FUNCTIONS or (bool(categories) and categories <= SAFE_CATEGORIES)

    allowed = {name for name, info in rows.items() if safe(info)} | SYNTAX_FUNCTIONS
    return Policy(
        functions=frozenset(allowed),
        insensitive=frozenset(n.lower() for n in allowed if n in rows and rows[n].case_insensitive),
        aggregates=frozenset(
            name.lower() if rows[name].case_insensitive else name
            for name in allowed
            if name in rows and rows[name].is_aggregate
        ),
        database=database,
        tables=frozenset(tables) - hidden,
        hidden=frozenset(hidden),
        other_databases=frozenset(d for d in databases if d != database),
    )


def check_ast(explained: str, policy: Policy) -> Refused | None:
    """None when the printed tree of `EXPLAIN AST <query>` may run; else why not."""
    lines = [line for line in explained.splitlines() if line.strip()]
    if not lines:
        return Refused(Refusal.NOT_A_SELECT, "the query is empty")
    root = lines[0].split()[0]
    if root not in ROOTS:
        return Refused(Refusal.NOT_A_SELECT, f"only SELECT and DESCRIBE queries run here, not {root!r}")
    for previous, line in itertools.pairwise(lines):
        refused = _check_line(line, policy)
        if refused is None and line.split()[0] == "Function" and previous.split()[0] == "TableExpression":
            name = line.split()[1] if len(line.split()) > 1 else ""
            refused = Refused(Refusal.TABLE_FUNCTION, f"table function {name!r} is not allowed; use a table")
        if refused is not None:
            return refused
    return None


def _check_line(line: str, policy: Policy) -> Refused | None:
    depth = len(line) - len(line.lstrip(" "))
    words = line.split()
    node, name = words[0], (words[1] if len(words) > 1 and not words[1].startswith("(") else "")
    if node == "Set":
        return Refused(Refusal.SETTINGS, "SETTINGS and SET are not allowed; the limits are the worker's")
    if node not in NODE_TYPES:
        return Refused(Refusal.NODE, f"{node!r} is not allowed in an analyst query")
    if depth == 1 and node == "Literal":
        return Refused(Refusal.OUTPUT_CLAUSE, "INTO OUTFILE is not allowed")
    if depth == 1 and node == "Identifier" and name != "Native":
        return Refused(Refusal.OUTPUT_CLAUSE, f"FORMAT {name} is not allowed; results come back as JSON")
    if node == "Function" and not policy.allows_function(name):
        return Refused(Refusal.FUNCTION, f"function {name!r} is not allowed in an analyst query")
    if node == "TableIdentifier" and not _allowed_table(name, policy):
        tables = ", ".join(sorted(policy.tables))
        return Refused(Refusal.TABLE, f"table {name!r} is not allowed; the tables are {tables}")
    if node == "Identifier" and "." in name and name.split(".")[0] in policy.other_databases:
        return Refused(Refusal.DATABASE, f"{name!r} is in another database than {policy.database!r}")
    if node == "Identifier" and name.removeprefix(f"{policy.database}.") in policy.hidden:
        return Refused(Refusal.TABLE, f"table {name!r} is not allowed")  # `x IN table` reads it
    return None


def _allowed_table(name: str, policy: Policy) -> bool:
    database, _, table = name.rpartition(".")
    if database in ("", policy.database) and table in policy.tables:
        return True
    # EXPLAIN AST does not print a CTE's name, so `WITH t AS (…) SELECT … FROM t` shows `t`:
    # an unqualified name that is no table of the database can only be such a CTE.
    return database == "" and table not in policy.hidden and table not in policy.tables
