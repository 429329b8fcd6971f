"""The decision log against someone who can write its table directly.

A superuser bypasses the append-only trigger (``session_replication_role = replica``)
and either deletes the last entries or changes an entry and recomputes every later
hash with the published algorithm. The chain alone cannot see either; the log key
(signatures) and the witness outside the database (and the head in the minutes) do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from pgwarden import pg
from pgwarden.cli.ccb_cmd import app as ccb_app
from pgwarden.cli.runtime import Runtime
from pgwarden.config import load_settings
from pgwarden.ops.ccb import decisions as decision_log
from pgwarden.repository import migrate
from tests.cli_helpers import pgwarden

#: a test key; real keys come from a secret manager through the environment
KEY = "test-log-key-0123456789abcdef"
SIGNED = "signed"
UNSIGNED = "unsigned"


def _runtime(dsn: str, witness_dir: Path, key: str | None) -> Runtime:
    ccb: dict[str, Any] = {"binding_voters": ["ana", "ben"], "min_approvals": 2}
    ccb["witness_dir"] = str(witness_dir)
    if key is not None:
        ccb["log_key"] = key
    return Runtime(load_settings(overrides={"dsn": dsn, "ccb": ccb}), None, False)


def ccb(rt: Runtime, *args: str) -> Result:
    return CliRunner().invoke(ccb_app, list(args), obj=rt)


def ok(rt: Runtime, *args: str) -> Result:
    result = ccb(rt, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(params=[SIGNED, UNSIGNED])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _written_log(dsn: str, witness_dir: Path, key: str | None) -> Runtime:
    """A repository whose decision log holds a few entries written by the CLI."""
    with pg.connect(dsn) as conn:
        migrate(conn)
    rt = _runtime(dsn, witness_dir, key)
    result = ok(rt, "request", "new", "--title", "add notes", "--format", "json")
    req = str(json.loads(result.stdout)["id"])
    ok(rt, "request", "update", req, "--status", "submitted")
    ok(rt, "vote", req, "approve", "--voter", "ana")
    ok(rt, "vote", req, "approve", "--voter", "ben")
    ok(rt, "action", "add", "check the notes", "--owner", "cy", "--due", "2026-12-10")
    return rt


@pytest.fixture
def rt(empty_dsn: str, tmp_path: Path, mode: str) -> Runtime:
    key = KEY if mode == SIGNED else None
    return _written_log(empty_dsn, tmp_path / "witness", key)


@pytest.fixture
def signed_rt(empty_dsn: str, tmp_path: Path) -> Runtime:
    return _written_log(empty_dsn, tmp_path / "witness", KEY)


@pytest.fixture
def unsigned_rt(empty_dsn: str, tmp_path: Path) -> Runtime:
    return _written_log(empty_dsn, tmp_path / "witness", None)


def _entries(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT seq, ts, request_id, kind, actor, detail, prev_hash, hash "
            "FROM pgwarden.ccb_decision_log ORDER BY seq"
        )
        names = [c.name for c in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _as_superuser(dsn: str, *statements: tuple[str, list[Any]]) -> None:
    """Bypass the append-only trigger, as only a superuser can."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        for statement, params in statements:
            conn.execute(statement, params)  # type: ignore[arg-type]


def _delete_last(dsn: str) -> int:
    last = _entries(dsn)[-1]["seq"]
    _as_superuser(dsn, ("DELETE FROM pgwarden.ccb_decision_log WHERE seq = %s", [last]))
    return int(last)


def _rewrite(dsn: str, seq: int, keep_signatures: bool = False) -> None:
    """Change entry ``seq`` and recompute every later hash, without the key."""
    entries = _entries(dsn)
    prev = entries[seq - 2]["hash"] if seq > 1 else decision_log.GENESIS
    updates = []
    for entry in entries[seq - 1 :]:
        if entry["seq"] == seq:
            entry["actor"] = "mallory"
        chain = decision_log.entry_hash(prev, entry)
        _, old_signature = decision_log.split(entry["hash"])
        stored = f"{chain}:{old_signature}" if keep_signatures else chain
        updates.append(
            (
                "UPDATE pgwarden.ccb_decision_log "
                "SET actor = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [entry["actor"], prev, stored, entry["seq"]],
            )
        )
        prev = stored
    # the hash column is unique: clear the rewritten range first
    clear = [
        (
            "UPDATE pgwarden.ccb_decision_log SET hash = 'x' || seq WHERE seq >= %s",
            [seq],
        )
    ]
    _as_superuser(dsn, *clear, *updates)
    assert _entries(dsn)[seq - 1]["actor"] == "mallory"


def test_untouched_log_is_intact(rt: Runtime, empty_dsn: str, mode: str) -> None:
    entries = _entries(empty_dsn)
    result = ok(rt, "log", "--verify")
    assert f"decision log intact: {len(entries)} entries verified" in result.output
    head = decision_log.split(entries[-1]["hash"])[0]
    assert f"head: {len(entries)}:{head}" in result.output
    if mode == SIGNED:
        assert "signatures checked" in result.output
        assert all(decision_log.is_signed(e["hash"]) for e in entries)
    else:
        assert "not signed" in result.output
    (witness,) = Path(rt.settings.ccb.witness_dir or "").iterdir()
    assert witness.stat().st_mode & 0o077 == 0
    assert json.loads(witness.read_text())["seq"] == len(entries)
    assert ok(rt, "log", "--verify").exit_code == 0


def test_deleting_the_last_entry_is_detected(rt: Runtime, empty_dsn: str) -> None:
    last = _delete_last(empty_dsn)

    result = ccb(rt, "log", "--verify")

    assert result.exit_code == 1
    assert f"the log ends at entry {last - 1}, but entry {last} was seen" in (
        result.output
    )
    assert "entries were removed from its end" in result.output
    again = ccb(rt, "log", "--verify")
    assert again.exit_code == 1, "a failed check leaves the witness as it was"


def test_a_write_after_truncation_keeps_the_witness_and_warns(
    rt: Runtime, empty_dsn: str
) -> None:
    last = _delete_last(empty_dsn)
    ok(rt, "action", "add", "refill", "--owner", "cy", "--due", "2026-12-11")
    assert len(_entries(empty_dsn)) == last, "a new entry takes the deleted place"

    result = ccb(rt, "log", "--verify")

    assert result.exit_code == 1
    assert f"entry {last} is not the one seen before" in result.output


@pytest.mark.parametrize("keep_signatures", [False, True])
def test_a_changed_and_recomputed_signed_entry_is_detected_by_the_key(
    signed_rt: Runtime, empty_dsn: str, tmp_path: Path, keep_signatures: bool
) -> None:
    _rewrite(empty_dsn, 3, keep_signatures)
    reason = (
        "entry 3 has a signature that does not match the log key"
        if keep_signatures
        else "entry 3 is not signed although entry 1 before it is"
    )

    result = ccb(signed_rt, "log", "--verify")

    assert result.exit_code == 1
    assert f"decision log BROKEN: {reason}" in result.output
    elsewhere = _runtime(empty_dsn, tmp_path / "fresh", KEY)
    fresh = ccb(elsewhere, "log", "--verify")
    assert fresh.exit_code == 1 and reason in fresh.output, "the key alone suffices"


def test_a_changed_and_recomputed_unsigned_entry_is_detected_by_the_witness(
    unsigned_rt: Runtime, empty_dsn: str
) -> None:
    _rewrite(empty_dsn, 3)
    assert decision_log.verify(_entries(empty_dsn)) is None, "the chain is fooled"

    result = ccb(unsigned_rt, "log", "--verify")

    assert result.exit_code == 1
    last = len(_entries(empty_dsn))
    assert f"decision log BROKEN: entry {last} is not the one seen before" in (
        result.output
    )
    assert "the log was rewritten" in result.output


def test_the_head_in_the_minutes_detects_truncation_elsewhere(
    rt: Runtime, empty_dsn: str, tmp_path: Path, mode: str
) -> None:
    minutes = ok(rt, "minutes").stdout
    assert "## Decision log" in minutes and "intact" in minutes
    found = re.search(r"--verify --head (\d+:[0-9a-f]{64})", minutes)
    assert found is not None
    _delete_last(empty_dsn)
    _delete_last(empty_dsn)
    key = KEY if mode == SIGNED else None
    elsewhere = _runtime(empty_dsn, tmp_path / "fresh", key)
    assert ccb(elsewhere, "log", "--verify").exit_code == 0, "no witness there"

    result = ccb(elsewhere, "log", "--verify", "--head", found.group(1))

    assert result.exit_code == 1
    assert "entries were removed from its end" in result.output
    agenda = ok(rt, "agenda").stdout
    assert "Decision log:" in agenda and "**BROKEN**" in agenda


def test_a_witness_copy_kept_elsewhere_detects_truncation(
    rt: Runtime, empty_dsn: str, tmp_path: Path, mode: str
) -> None:
    ok(rt, "log", "--verify")
    (witness,) = Path(rt.settings.ccb.witness_dir or "").iterdir()
    copy = tmp_path / "copy.json"
    copy.write_text(witness.read_text())
    _delete_last(empty_dsn)
    key = KEY if mode == SIGNED else None
    elsewhere = _runtime(empty_dsn, tmp_path / "fresh", key)

    result = ccb(elsewhere, "log", "--verify", "--witness", str(copy))

    assert result.exit_code == 1
    assert f"witness {copy}" in result.output
    assert copy.read_text() == witness.read_text(), "a copy is only read"


def test_without_the_key_a_signed_log_is_neither_verified_nor_extended(
    signed_rt: Runtime, empty_dsn: str, tmp_path: Path
) -> None:
    env = {
        "PGWARDEN_DSN": empty_dsn,
        "PGWARDEN_CCB__WITNESS_DIR": str(tmp_path / "witness"),
    }
    verify = pgwarden("ccb", "log", "--verify", **env)
    assert verify.returncode == 2
    assert "are signed" in verify.stderr and "PGWARDEN_CCB__LOG_KEY" in verify.stderr
    write = pgwarden(
        "ccb", "action", "add", "x", "--owner", "o", "--due", "2026-12-12", **env
    )
    assert write.returncode == 2
    assert "the decision log is signed" in write.stderr
    wrong = pgwarden(
        "ccb", "action", "add", "x", "--owner", "o", "--due", "2026-12-12",
        PGWARDEN_CCB__LOG_KEY="another key of 32 characters.....", **env,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "not signed with this ccb.log_key" in wrong.stderr
    with_key = pgwarden("ccb", "log", "--verify", PGWARDEN_CCB__LOG_KEY=KEY, **env)
    assert with_key.returncode == 0, with_key.stderr
    for output in (verify, write, wrong, with_key):
        assert KEY not in output.stdout + output.stderr
    stored = json.dumps(_entries(empty_dsn), default=str)
    witness_files = (tmp_path / "witness").iterdir()
    assert KEY not in stored + "".join(p.read_text() for p in witness_files)
