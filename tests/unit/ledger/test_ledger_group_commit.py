"""Group commit: concurrent appends in one process share transactions, and every returned record is durable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from tollgate.errors import LedgerUnavailableError
from tollgate.ledger import Ledger
from tollgate.model.ledger import DecisionDraft, digest_inputs


def draft(writer: int, i: int) -> DecisionDraft:
    return DecisionDraft(kind="judge", environment="prod", verdict="pass", subject={"w": str(writer)},
                         inputs_digest=digest_inputs({"w": str(writer), "i": str(i)}), payload={"i": i})


def test_concurrent_appends_group_into_fewer_commits_and_keep_the_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    commits = 0
    writers, each = 8, 25
    returned: list[str] = []
    lock = threading.Lock()
    with Ledger(url) as ledger:
        def count(_conn: object) -> None:
            nonlocal commits
            commits += 1

        event.listen(ledger._engine, "commit", count)
        start = threading.Barrier(writers)

        def work(w: int) -> None:
            start.wait()
            for i in range(each):
                record = ledger.append(draft(w, i))
                with lock:
                    returned.append(record.id)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(returned) == len(set(returned)) == writers * each
        assert commits < writers * each  # some transactions carried several appends
        report = ledger.verify()
        assert report.count == writers * each
    # Every answered record is in the file after the ledger is closed and opened again (WAL committed).
    with Ledger(url) as reopened:
        assert {r.id for r in reopened.list(limit=writers * each)} == set(returned)
        seqs = sorted(r.seq for r in reopened.list(limit=writers * each))
        assert seqs == list(range(1, writers * each + 1))


def test_sqlite_file_ledger_runs_in_wal_mode(tmp_path: Path) -> None:
    with Ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        ledger.append(draft(0, 0))
        with ledger._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_failed_group_fails_its_appends_and_the_next_append_works(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger(f"sqlite:///{path}") as ledger:
        ledger.append(draft(0, 0))
        original = ledger._append_batch

        def broken(drafts: list[DecisionDraft]) -> list[object]:
            raise LedgerUnavailableError("disk full (simulated)")

        ledger._append_batch = broken  # type: ignore[method-assign,assignment]
        with pytest.raises(LedgerUnavailableError, match="disk full"):
            ledger.append(draft(0, 1))
        ledger._append_batch = original  # type: ignore[method-assign]
        record = ledger.append(draft(0, 2))
        assert record.seq == 2
        assert ledger.verify().count == 2
