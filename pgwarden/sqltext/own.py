"""pgwarden's own statements, told apart from the application's workload.

``application_name`` is not part of ``pg_stat_statements``, so a statement is
recognised by its text:

- it carries pgwarden's marker (:data:`pgwarden.sqltext.marker.MARKER`), which
  every statement pgwarden sends has, on every server version;
- it names the job queue's objects (``procrastinate_*`` tables and functions, in
  the ``jobs.schema_name`` schema): the worker's queue traffic.

Statements recorded before the marker existed are recognised by what they read:

- they name the repository schema (``pgwarden.x`` or ``"pgwarden".x``): the
  collector's writes, the dashboard's and the CLI's reads;
- they are one of pgwarden's named queries (``pgwarden/sql/*.sql``): the collector's
  catalog reads, the live reads, the doctor's probes;
- they read nothing but the system catalogs and statistics views (``pg_*``), as the
  collector's partition and capability checks do.

Texts are compared after the normalisation ``pg_stat_statements`` applies
(constants and parameters become ``?``, lists of them one ``?`` as PostgreSQL 18
shortens them), without comments, case or spacing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources

from pgwarden.sqltext.marker import is_marked

SCHEMA_RE = re.compile(r'(?<![\w$"])(?:"pgwarden"|pgwarden)\s*\.', re.IGNORECASE)
QUEUE_RE = re.compile(r'(?<![\w$])"?procrastinate_\w+', re.IGNORECASE)
_NAME_RE = re.compile(r"^-- name: (\S+)\s*$", re.MULTILINE)
# comments and strings in one left-to-right pass: an apostrophe in a comment opens
# no string, and "--" in a string opens no comment
_COMMENT_OR_STRING_RE = re.compile(
    r"(?P<comment>--[^\n]*|/\*.*?\*/)|(?:[eE])?'(?:[^']|'')*'", re.DOTALL
)
_PARAM_RE = re.compile(
    r"%\(\w+\)s|%s|\$\d+|(?<![\w.])\d+(?:\.\d+)?(?![\w.])|\b(?:true|false|null)\b",
    re.IGNORECASE,
)
_LIST_RE = re.compile(r"(?<=[(\[])\?(?:,\?)+(?=[)\]])")
_TEMPLATE_RE = re.compile(r"\{\w+\}")
_RELATION_RE = re.compile(
    r'\b(?:from|join)\s+(?!lateral\b)((?:"?\w+"?\s*\.\s*)?"?[\w$]+"?)', re.IGNORECASE
)
_CATALOG_RE = re.compile(r'^(?:"?(?:pg_catalog|\w+)"?\s*\.\s*)?"?pg_\w+"?$', re.I)


def _without_comments(text: str, string: str | None = None) -> str:
    """Comments as a space; strings as ``string`` (kept when None)."""

    def replace(match: re.Match[str]) -> str:
        if match.group("comment") is not None:
            return " "
        return match.group(0) if string is None else string

    return _COMMENT_OR_STRING_RE.sub(replace, text)


def normalise(text: str) -> str:
    """Lower case, single spaces, no comments; constants and parameters as ``?``.

    A list of constants is one ``?``: PostgreSQL 18 keeps ``IN ($1 /*, ... */)``.
    """
    text = _without_comments(text, "?").replace("%%", "%")
    text = _PARAM_RE.sub("?", text)
    text = re.sub(r"\s*([(),;=<>+*/:\[\]])\s*", r"\1", text)
    text = _LIST_RE.sub("?", text)
    return " ".join(text.lower().split()).rstrip(";").strip()


@functools.cache
def known_queries() -> tuple[frozenset[str], tuple[re.Pattern[str], ...]]:
    """pgwarden's named queries, normalised: exact texts and templated ones."""
    exact: set[str] = set()
    templated: list[re.Pattern[str]] = []
    folder = resources.files("pgwarden.sql")
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        bodies = _NAME_RE.split(entry.read_text())[2::2]
        for body in (normalise(b) for b in bodies if b.strip()):
            if _TEMPLATE_RE.search(body):
                parts = _TEMPLATE_RE.split(body)
                pattern = r'(?:"?[\w$]+"?)'.join(map(re.escape, parts))
                templated.append(re.compile(pattern))
            else:
                exact.add(body)
    return frozenset(exact), tuple(templated)


def _catalog_only(text: str) -> bool:
    relations = _RELATION_RE.findall(_without_comments(text))
    return bool(relations) and all(_CATALOG_RE.match(r.strip()) for r in relations)


@functools.lru_cache(maxsize=16384)
def is_own(text: str) -> bool:
    """True for a statement pgwarden itself sends (see the module's rules)."""
    if is_marked(text) or QUEUE_RE.search(text):
        return True
    return recorded_before_the_marker(text)


def recorded_before_the_marker(text: str) -> bool:
    """True for an unmarked text pgwarden sent before it marked its statements."""
    if SCHEMA_RE.search(text):
        return True
    key = normalise(text)
    exact, templated = known_queries()
    if key in exact or any(p.fullmatch(key) for p in templated):
        return True
    return _catalog_only(text)


def own_queryids(
    texts: Mapping[int, str] | Iterable[tuple[int, str]],
) -> frozenset[int]:
    """The statement ids among ``texts`` (queryid -> text) that are pgwarden's own.

    Given pairs, an id with several texts is pgwarden's only when each of them is:
    the application's statement that pgwarden explained keeps its id.
    """
    items = texts.items() if isinstance(texts, Mapping) else texts
    verdicts: dict[int, bool] = {}
    for queryid, text in items:
        verdicts[queryid] = verdicts.get(queryid, True) and is_own(text)
    return frozenset(queryid for queryid, own in verdicts.items() if own)
