"""The ledger contract on every backend: in-memory fake, SQLite file, real PostgreSQL server."""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tollgate.errors import InputError, LedgerIntegrityError, NotFoundError
from tollgate.ledger import DecisionLedger, InMemoryLedger, Ledger, open_ledger
from tollgate.ledger.chain import LedgerRow
from tollgate.ledger.schema import VERSION_TABLE, metadata
from tollgate.ledger.store import MIGRATIONS_DIR, normalise_url
from tollgate.model.ledger import GENESIS_HASH, DecisionDraft, DecisionRecord, digest_inputs

pytestmark = pytest.mark.integration


def draft(
    i: int, *, kind: str = "review", app: str | None = "shop", extra: dict[str, object] | None = None
) -> DecisionDraft:
    return DecisionDraft(
        kind=kind,
        environment="prod",
        verdict="pass" if i % 2 == 0 else "warn",
        subject={"repo": "gitops", "base": "main", "head": f"change-{i}"},
        inputs_digest=digest_inputs({"repo": "gitops", "head_commit": f"{i:040x}"}),
        payload={"i": i, **(extra or {})},
        app=app,
        actor="ci",
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('ledger')}/not/yet/there/ledger.db"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('ledger')}/ledger.db"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def ledger(url: str) -> Iterator[DecisionLedger]:
    opened = open_ledger(url)
    yield opened
    opened.close()


def raw_sql(url: str, *statements: str) -> None:
    """Run SQL directly on the database, bypassing tollgate (as an attacker or a DBA would)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()
    else:
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in statements:
                pg.execute(statement)


def append_many(ledger: DecisionLedger, n: int) -> list[DecisionRecord]:
    return [ledger.append(draft(i)) for i in range(n)]


# -- the contract, on all three backends -------------------------------------------------------


def test_append_assigns_a_linked_chain_and_get_returns_the_same_record(ledger: DecisionLedger) -> None:
    records = append_many(ledger, 3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in records[1:]] == [r.hash for r in records[:-1]]
    assert len({r.id for r in records}) == 3
    assert records[0].created_at <= records[1].created_at <= records[2].created_at
    fetched = ledger.get(records[1].id)
    assert fetched == records[1]
    assert fetched.payload == {"i": 1}
    assert fetched.subject["head"] == "change-1"
    assert fetched.actor == "ci"


def test_payload_json_round_trips_exactly(ledger: DecisionLedger) -> None:
    payload: dict[str, object] = {
        "findings": [{"rule_id": "K8S-RES-001", "line": 12, "message": "naïve → «quotes» \"x\"\n"}],
        "cost": {"monthly_delta": 0.1 + 0.2, "big": 2**70, "neg_zero": -0.0, "tiny": 5e-324},
        "empty": {},
        "flags": [True, False, None],
    }
    record = ledger.append(draft(0, extra=payload))
    stored = ledger.get(record.id).payload
    assert stored == {"i": 0, **payload}
    assert math.copysign(1.0, stored["cost"]["neg_zero"]) == -1.0
    assert ledger.verify().count == 1


def test_get_accepts_a_unique_prefix_and_refuses_an_ambiguous_one(ledger: DecisionLedger) -> None:
    records = append_many(ledger, 3)
    target = records[2]
    assert ledger.get(target.id[:28].upper()) == target
    # Ids are time-ordered, so records made moments apart share their first 8+ characters.
    pairs = [(a.id, b.id) for a in records for b in records if a.id < b.id]
    shared = max((os.path.commonprefix(pair) for pair in pairs), key=len)
    assert len(shared) >= 8
    with pytest.raises(InputError, match="ambiguous"):
        ledger.get(shared)
    with pytest.raises(NotFoundError):
        ledger.get("ffffffff-ffff-7fff-bfff-ffffffffffff")
    with pytest.raises(NotFoundError):
        ledger.get("ffffffff")
    with pytest.raises(InputError, match="at least 8"):
        ledger.get(target.id[:7])


def test_list_is_newest_first_and_filters(ledger: DecisionLedger) -> None:
    reviews = [ledger.append(draft(i, app="shop" if i % 2 else "cart")) for i in range(6)]
    judge = ledger.append(draft(6, kind="judge", app="shop"))
    assert [r.seq for r in ledger.list()] == [7, 6, 5, 4, 3, 2, 1]
    assert [r.seq for r in ledger.list(limit=2)] == [7, 6]
    assert [r.seq for r in ledger.list(kind="judge")] == [judge.seq]
    assert [r.app for r in ledger.list(app="cart")] == ["cart"] * 3
    assert [r.seq for r in ledger.list(since=reviews[4].created_at)] == [7, 6, 5]
    assert ledger.list(since=judge.created_at + timedelta(seconds=1)) == []
    assert [r.seq for r in ledger.recent("shop")] == [6, 4, 2]
    assert [r.seq for r in ledger.recent("shop", kind="judge", limit=1)] == [7]
    with pytest.raises(InputError, match="limit"):
        ledger.list(limit=0)


def test_approval_is_a_new_record_referencing_the_decision(ledger: DecisionLedger) -> None:
    decision = ledger.append(draft(1))
    approval = ledger.approve(decision.id[:30], "alice@example.com", "cost increase agreed with finance")
    assert approval.kind == "approval"
    assert approval.seq == decision.seq + 1
    assert approval.payload == {
        "decision_id": decision.id,
        "approver": "alice@example.com",
        "note": "cost increase agreed with finance",
    }
    assert approval.actor == "alice@example.com"
    assert (approval.app, approval.environment) == (decision.app, decision.environment)
    assert ledger.get(decision.id) == decision  # the decision itself is untouched
    with pytest.raises(InputError, match="approval itself"):
        ledger.approve(approval.id, "bob", "")
    with pytest.raises(NotFoundError):
        ledger.approve("00000000-0000-7000-8000-000000000000", "bob", "")
    with pytest.raises(InputError, match="approver"):
        ledger.approve(decision.id, " ", "")
    assert ledger.verify().count == 2


def test_verify_reports_count_and_head(ledger: DecisionLedger) -> None:
    empty = ledger.verify()
    assert (empty.count, empty.head_hash) == (0, GENESIS_HASH)
    records = append_many(ledger, 5)
    report = ledger.verify()
    assert (report.count, report.head_hash) == (5, records[-1].hash)


# -- database protection and persistence, on SQLite and PostgreSQL -----------------------------


def test_sqlite_parent_directory_is_created(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("ledger") / "a" / "b" / "ledger.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        ledger.append(draft(0))
    assert path.is_file()


def test_tampered_payload_is_named_by_verify(db_url: str) -> None:
    with Ledger(db_url) as ledger:
        records = append_many(ledger, 4)
    drop = (
        "DROP TRIGGER tollgate_decisions_no_update"
        if db_url.startswith("sqlite")
        else "DROP TRIGGER tollgate_decisions_no_update_delete ON tollgate_decisions"
    )
    raw_sql(
        db_url,
        drop,
        f"UPDATE tollgate_decisions SET payload = '{{\"i\":42}}' WHERE id = '{records[2].id}'",
    )
    with Ledger(db_url) as ledger:
        assert ledger.get(records[2].id).payload == {"i": 42}
        with pytest.raises(LedgerIntegrityError) as caught:
            ledger.verify()
    assert (caught.value.seq, caught.value.record_id) == (3, records[2].id)
    assert "hash mismatch" in str(caught.value)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tollgate_decisions SET verdict = 'block'",
        "DELETE FROM tollgate_decisions WHERE seq = 2",
        "DELETE FROM tollgate_decisions",
    ],
)
def test_sql_updates_and_deletes_are_refused_by_the_database(db_url: str, statement: str) -> None:
    with Ledger(db_url) as ledger:
        records = append_many(ledger, 3)
    refused: tuple[type[Exception], ...] = (sqlite3.DatabaseError, psycopg.Error)
    with pytest.raises(refused, match="append-only"):
        raw_sql(db_url, statement)
    with Ledger(db_url) as ledger:
        assert ledger.verify().head_hash == records[-1].hash
        assert [r.verdict for r in ledger.list()] == [r.verdict for r in reversed(records)]


def test_postgres_truncate_is_refused(fresh_postgres_url: str) -> None:
    with Ledger(fresh_postgres_url) as ledger:
        append_many(ledger, 2)
    with pytest.raises(psycopg.Error, match="append-only"):
        raw_sql(fresh_postgres_url, "TRUNCATE tollgate_decisions")
    with Ledger(fresh_postgres_url) as ledger:
        assert ledger.verify().count == 2


def test_a_forked_row_is_refused_by_the_unique_prev_hash(db_url: str) -> None:
    with Ledger(db_url) as ledger:
        first = ledger.append(draft(0))
        ledger.append(draft(1))
    fork = (
        "INSERT INTO tollgate_decisions (id, seq, kind, app, environment, verdict, subject, inputs_digest,"
        " payload, tool_version, created_at, actor, prev_hash, hash) VALUES ("
        f"'00000000-0000-7000-8000-000000000000', 3, 'review', NULL, 'prod', 'pass', '{{}}', '{'a' * 64}',"
        f" '{{}}', '0', '2025-01-01T00:00:00.000000+00:00', NULL, '{first.hash}', '{'b' * 64}')"
    )
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        raw_sql(db_url, fork)


def test_reopening_keeps_the_chain(db_url: str) -> None:
    with Ledger(db_url) as ledger:
        before = append_many(ledger, 3)
    with Ledger(db_url) as ledger:
        after = ledger.append(draft(3))
        assert after.seq == 4
        assert after.prev_hash == before[-1].hash
        assert ledger.verify().count == 4
        assert ledger.get(before[0].id) == before[0]


def test_migrated_schema_matches_the_table_definition(db_url: str) -> None:
    Ledger(db_url).close()
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, metadata) == []
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            head = ScriptDirectory.from_config(config).get_current_head()
            assert context.get_current_revision() == head
            assert connection.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
    finally:
        engine.dispose()


def test_memory_and_sql_backends_hash_identically(db_url: str) -> None:
    """The fake and the store seal with one scheme: a store's rows verify in the fake."""
    with Ledger(db_url) as ledger:
        records = append_many(ledger, 3)
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as connection:
            rows = [
                LedgerRow(**r._mapping)
                for r in connection.execute(text("SELECT * FROM tollgate_decisions ORDER BY seq"))
            ]
    finally:
        engine.dispose()
    copy = InMemoryLedger(rows)
    assert copy.verify().head_hash == records[-1].hash
    assert hashlib.sha256(rows[0].hash_input().encode()).hexdigest() == records[0].hash
