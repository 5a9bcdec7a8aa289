"""InMemoryLedger: what is special to the fake (seeding, thread safety, memory:// URLs).

The behaviour it shares with the SQL store is tested for all backends in
tests/integration/test_ledger_store.py.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace

import pytest

from tollgate.errors import ConfigError, LedgerIntegrityError
from tollgate.ledger import InMemoryLedger, open_ledger
from tollgate.model.ledger import DecisionDraft


def draft(i: int, app: str = "shop") -> DecisionDraft:
    return DecisionDraft(
        kind="review",
        environment="prod",
        verdict="pass",
        subject={"repo": "shop", "head": f"c{i}"},
        inputs_digest=hashlib.sha256(str(i).encode()).hexdigest(),
        payload={"i": i},
        app=app,
    )


def test_rows_seed_a_new_instance_that_continues_the_chain() -> None:
    first = InMemoryLedger()
    for i in range(3):
        first.append(draft(i))
    second = InMemoryLedger(first.rows())
    record = second.append(draft(3))
    assert record.seq == 4
    assert record.prev_hash == first.rows()[-1].hash
    assert second.verify().count == 4


def test_a_seeded_tampered_row_is_reported() -> None:
    ledger = InMemoryLedger()
    for i in range(4):
        ledger.append(draft(i))
    rows = list(ledger.rows())
    rows[1] = replace(rows[1], verdict="block")
    with pytest.raises(LedgerIntegrityError) as caught:
        InMemoryLedger(rows).verify()
    assert caught.value.seq == 2
    assert caught.value.record_id == rows[1].id


def test_concurrent_appends_make_one_chain() -> None:
    ledger = InMemoryLedger()

    def work(offset: int) -> None:
        for i in range(50):
            ledger.append(draft(offset + i))

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = ledger.verify()
    assert report.count == 200
    assert [row.seq for row in ledger.rows()] == list(range(1, 201))


def test_memory_url_opens_a_fake_and_unknown_schemes_are_refused() -> None:
    ledger = open_ledger("memory://")
    assert isinstance(ledger, InMemoryLedger)
    with pytest.raises(ConfigError, match="mysql") as caught:
        open_ledger("mysql://user:secret@db/x")
    assert "secret" not in str(caught.value)
