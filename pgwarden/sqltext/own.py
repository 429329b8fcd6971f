"""pgwarden's own statements, told apart from the application's workload.

``application_name`` is not part of ``pg_stat_statements``, so a statement is
recognised by its text when the repository lives in the target database:

- it names the repository schema (``pgwarden.x`` or ``"pgwarden".x``): the
  collector's writes, the dashboard's and the CLI's reads;
- it is one of pgwarden's named queries (``pgwarden/sql/*.sql``): the collector's
  catalog reads, the live reads, the doctor's probes;
- it names the job queue's objects (``procrastinate_*`` tables and functions, in
  the ``jobs.schema_name`` schema): the worker's queue traffic;
- it reads nothing but the system catalogs and statistics views (``pg_*``), as the
  collector's partition and capability checks do.

Texts are compared after the normalisation ``pg_stat_statements`` applies
(constants and parameters become ``?``), without comments, case or spacing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from importlib import resources

SCHEMA_RE = re.compile(r'(?<![\w$"])(?:"pgwarden"|pgwarden)\s*\.', re.IGNORECASE)
QUEUE_RE = re.compile(r'(?<![\w$])"?procrastinate_\w+', re.IGNORECASE)
_NAME_RE = re.compile(r"^-- name: (\S+)\s*$", re.MULTILINE)
_STRING_RE = re.compile(r"(?:[eE])?'(?:[^']|'')*'")
_COMMENT_RE = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_PARAM_RE = re.compile(
    r"%\(\w+\)s|%s|\$\d+|(?<![\w.])\d+(?:\.\d+)?(?![\w.])|\b(?:true|false|null)\b",
    re.IGNORECASE,
)
_TEMPLATE_RE = re.compile(r"\{\w+\}")
_RELATION_RE = re.compile(
    r'\b(?:from|join)\s+(?!lateral\b)((?:"?\w+"?\s*\.\s*)?"?[\w$]+"?)', re.IGNORECASE
)
_CATALOG_RE = re.compile(r'^(?:"?(?:pg_catalog|\w+)"?\s*\.\s*)?"?pg_\w+"?$', re.I)


def normalise(text: str) -> str:
    """Lower case, single spaces, no comments; constants and parameters as ``?``."""
    text = _STRING_RE.sub("?", text)
    text = _COMMENT_RE.sub(" ", text).replace("%%", "%")
    text = _PARAM_RE.sub("?", text)
    text = re.sub(r"\s*([(),;=<>+*/:\[\]])\s*", r"\1", text)
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
    relations = _RELATION_RE.findall(_COMMENT_RE.sub(" ", text))
    return bool(relations) and all(_CATALOG_RE.match(r.strip()) for r in relations)


@functools.lru_cache(maxsize=16384)
def is_own(text: str) -> bool:
    """True for a statement pgwarden itself sends (see the module's rules)."""
    if SCHEMA_RE.search(text) or QUEUE_RE.search(text):
        return True
    key = normalise(text)
    exact, templated = known_queries()
    if key in exact or any(p.fullmatch(key) for p in templated):
        return True
    return _catalog_only(text)


def own_queryids(
    texts: Mapping[int, str] | Iterable[tuple[int, str]],
) -> frozenset[int]:
    """The statement ids among ``texts`` (queryid -> text) that are pgwarden's own."""
    items = texts.items() if isinstance(texts, Mapping) else texts
    return frozenset(queryid for queryid, text in items if is_own(text))
