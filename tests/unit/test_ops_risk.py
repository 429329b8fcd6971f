"""Risk classes suggested from real migration SQL."""

from __future__ import annotations

import pytest

from pgwarden.ops.ccb.risk import assess, tables_in

TIMEOUT = "SET lock_timeout = '2s';\n"
GB = 1 << 30
BIG = {"Answer": 5 * GB, "User": 10 << 20}


def reasons(text: str, sizes: dict[str, int] | None = None) -> str:
    return " | ".join(f.reason for f in assess(text, sizes or BIG).findings)


def test_volatile_default_rewrites_the_table() -> None:
    sql = (
        TIMEOUT
        + 'ALTER TABLE "Answer" ADD COLUMN "ref" uuid DEFAULT gen_random_uuid();'
    )
    risk = assess(sql, BIG)
    assert risk.risk_class == "C4"
    assert "volatile DEFAULT rewrites Answer (Answer: 5 GB)" in reasons(sql)
    assert risk.table_bytes == {"Answer": 5 * GB}


def test_constant_default_is_a_brief_lock() -> None:
    sql = TIMEOUT + 'ALTER TABLE "Answer" ADD COLUMN "score" int DEFAULT 0;'
    assert assess(sql, BIG).risk_class == "C2"


def test_index_without_concurrently() -> None:
    sql = TIMEOUT + 'CREATE INDEX answer_tenant ON "Answer" ("tenantId");'
    assert assess(sql, BIG).risk_class == "C4"
    assert assess(sql, {"Answer": 1 << 20}).risk_class == "C3"
    assert "without CONCURRENTLY" in reasons(sql)
    good = 'CREATE INDEX CONCURRENTLY answer_tenant ON "Answer" ("tenantId");'
    assert assess(good, BIG).risk_class == "C1"


def test_set_not_null_and_alter_type() -> None:
    sql = TIMEOUT + 'ALTER TABLE "User" ALTER COLUMN "email" SET NOT NULL;'
    assert assess(sql, BIG).risk_class == "C3"
    assert "SET NOT NULL on email scans User" in reasons(sql)
    assert reasons(sql).endswith("(User: 10 MB)")
    sql = TIMEOUT + 'ALTER TABLE "Answer" ALTER COLUMN "value" TYPE text;'
    assert assess(sql, BIG).risk_class == "C4"


def test_foreign_key_with_and_without_not_valid() -> None:
    fk = (
        'ALTER TABLE "Answer" ADD CONSTRAINT answer_user FOREIGN KEY ("userId") '
        'REFERENCES "User" (id)'
    )
    assert assess(TIMEOUT + fk + ";", BIG).risk_class == "C4"
    assert "without NOT VALID" in reasons(TIMEOUT + fk + ";")
    assert assess(TIMEOUT + fk + " NOT VALID;", BIG).risk_class == "C2"


@pytest.mark.parametrize("timeout", ["", TIMEOUT, "SET lock_timeout = 0;\n"])
def test_lock_timeout(timeout: str) -> None:
    sql = timeout + 'ALTER TABLE "Answer" DROP COLUMN "legacy";'
    risk = assess(sql, BIG)
    missing = "no SET lock_timeout" in reasons(sql)
    assert missing is (timeout != TIMEOUT)
    assert risk.risk_class == ("C2" if timeout == TIMEOUT else "C3")


def test_new_table_is_c1() -> None:
    assert assess("CREATE TABLE notes (id bigint PRIMARY KEY);").risk_class == "C1"


def test_hostile_input_is_c4_not_a_crash() -> None:
    broken = assess("ALTER TABLE ;; DROP")
    assert broken.risk_class == "C4"
    assert broken.findings[0].reason.startswith("could not parse: ")
    huge = assess("SELECT 1;\n" * 200, max_bytes=1000)
    assert huge.risk_class == "C4"
    assert "not analysed" in huge.findings[0].reason
    assert tables_in("ALTER TABLE ;; DROP") == []


def test_unknown_size_rewrite_is_c4_and_schema_names() -> None:
    sql = TIMEOUT + "ALTER TABLE app.orders ALTER COLUMN total TYPE numeric;"
    assert tables_in(sql) == ["app.orders"]
    risk = assess(sql, {"orders": 1 << 20})
    assert risk.risk_class == "C3"
    assert assess(sql, {}).risk_class == "C4"
