"""Concurrent appenders (threads with their own connections, and separate processes) never fork the chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from tollgate.ledger import Ledger
from tollgate.model.ledger import DecisionDraft, digest_inputs

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent(
    """
    import sys
    from tollgate.ledger import Ledger
    from tollgate.model.ledger import DecisionDraft, digest_inputs

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()  # start together
    with Ledger(url) as ledger:
        for i in range(count):
            ledger.append(DecisionDraft(
                kind="review", environment="prod", verdict="pass", subject={"writer": name},
                inputs_digest=digest_inputs({"writer": name, "i": str(i)}), payload={"i": i}, app=name,
            ))
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('ledger')}/ledger.db"
    return str(request.getfixturevalue("fresh_postgres_url"))


def assert_one_unforked_chain(url: str, expected: int, writers: list[str], per_writer: int) -> None:
    with Ledger(url) as ledger:
        report = ledger.verify()
        records = ledger.list(limit=expected + 1)
    assert report.count == expected
    assert sorted(r.seq for r in records) == list(range(1, expected + 1))
    assert len({r.prev_hash for r in records}) == expected  # no two records share a parent
    for name in writers:
        assert sorted(r.payload["i"] for r in records if r.app == name) == list(range(per_writer))


def test_threads_with_separate_connections(db_url: str) -> None:
    Ledger(db_url).close()  # migrate once, so the threads race only on appends
    names = [f"thread{k}" for k in range(4)]
    per_writer = 25
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(names))

    def work(name: str) -> None:
        try:
            with Ledger(db_url) as ledger:
                barrier.wait()
                for i in range(per_writer):
                    ledger.append(
                        DecisionDraft(
                            kind="review",
                            environment="prod",
                            verdict="pass",
                            subject={"writer": name},
                            inputs_digest=digest_inputs({"writer": name, "i": str(i)}),
                            payload={"i": i},
                            app=name,
                        )
                    )
        except BaseException as exc:  # reported below, in the test thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert_one_unforked_chain(db_url, len(names) * per_writer, names, per_writer)


def test_processes_racing_on_a_new_database(db_url: str) -> None:
    """Several processes open (and so migrate) a new ledger at once, then append together."""
    names = [f"proc{k}" for k in range(3)]
    per_writer = 20
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, name, str(per_writer)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    errors = [proc.stderr.read() if proc.stderr else "" for proc in procs]
    codes = [proc.wait(timeout=120) for proc in procs]
    assert codes == [0] * len(procs), errors
    assert_one_unforked_chain(db_url, len(names) * per_writer, names, per_writer)


def test_a_sqlite_writer_waits_for_the_lock_file_held_by_another_process(tmp_path: object) -> None:
    import fcntl
    import os
    import time
    from pathlib import Path

    db = Path(str(tmp_path)) / "ledger.db"
    url = f"sqlite:///{db}"
    with Ledger(url) as ledger:
        lock_path = Path(f"{db}.lock")
        assert lock_path.exists()
        holder = os.open(lock_path, os.O_RDWR)  # another open file description: behaves as another process
        fcntl.flock(holder, fcntl.LOCK_EX)
        done = threading.Event()

        def append() -> None:
            ledger.append(DecisionDraft(kind="review", environment="prod", verdict="pass", subject={},
                                        inputs_digest=digest_inputs({"k": "v"}), payload={}))
            done.set()

        writer = threading.Thread(target=append)
        writer.start()
        try:
            time.sleep(0.3)
            assert not done.is_set()  # queued on the lock, not appended behind its back
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
            os.close(holder)
        writer.join(timeout=10)
        assert done.is_set()
        assert ledger.verify().count == 1


def test_a_writer_stuck_holding_the_lock_file_gives_a_clear_error(tmp_path: object,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import os
    from pathlib import Path

    from tollgate.errors import LedgerUnavailableError
    from tollgate.ledger import store

    db = Path(str(tmp_path)) / "ledger.db"
    with Ledger(f"sqlite:///{db}") as ledger:
        monkeypatch.setattr(store, "SQLITE_BUSY_TIMEOUT_S", 0.2)
        holder = os.open(f"{db}.lock", os.O_RDWR)
        fcntl.flock(holder, fcntl.LOCK_EX)
        try:
            with pytest.raises(LedgerUnavailableError, match="held its write lock"):
                ledger.append(DecisionDraft(kind="review", environment="prod", verdict="pass", subject={},
                                            inputs_digest=digest_inputs({"k": "v"}), payload={}))
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
            os.close(holder)
        assert ledger.verify().count == 0  # nothing half-written
