"""``Ledger``: the append-only decision store on SQLite (default) or PostgreSQL.

Opening a ledger migrates its database to the newest schema (Alembic scripts shipped in
``tollgate/ledger/migrations``). Appends are serialised so the hash chain never forks: SQLite
takes the database write lock up front (``BEGIN IMMEDIATE``), PostgreSQL takes a
transaction-level advisory lock (``pg_advisory_xact_lock``) before reading the chain head; a
UNIQUE constraint on ``prev_hash`` backs both up. Database triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL), so the table stays append-only even for other SQL clients.

Appends in one process are group-committed (see :meth:`Ledger.append`): under concurrency one
transaction carries many records, and ``append`` returns only after its record's transaction
committed, so an answered decision is on disk. A SQLite file runs in WAL mode with
``synchronous=FULL`` (a commit is durable, readers never block the writer). Writers in several
processes (``tollgate serve --workers N``) take an ``flock`` of ``<file>.lock`` before SQLite's lock,
retrying every 0.1–2 ms, where SQLite's own busy handler sleeps up to 100 ms between tries: a shorter
latency tail when several workers append (``benchmarks/ledger_two_writers.py``).

URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite://`` (memory),
``postgresql://user:pass@host:port/db`` (also ``postgres://``; both use the psycopg 3 driver).
``sqlite://`` keeps one shared in-memory connection: use it from one thread only.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Row, Select, event, insert, select, text
from sqlalchemy.engine import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from tollgate.errors import ConfigError, IntegrityError, LedgerUnavailableError
from tollgate.ledger.chain import (
    LedgerRow,
    approval_draft,
    check_list_args,
    is_full_id,
    normalise_lookup,
    pick_unique,
    seal,
    verify_rows,
)
from tollgate.ledger.schema import decisions
from tollgate.model.ledger import GENESIS_HASH, DecisionDraft, DecisionRecord, VerifyReport

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


APPEND_LOCK_KEY = _lock_key("tollgate.ledger.append")
MIGRATE_LOCK_KEY = _lock_key("tollgate.ledger.migrate")
SQLITE_BUSY_TIMEOUT_S = 30.0
POSTGRES_CONNECT_TIMEOUT_S = 10
_VERIFY_BATCH = 2000


def normalise_url(url: str) -> URL:
    """Parse a ledger URL; ``postgresql://``/``postgres://`` get the psycopg 3 driver.

    Raises :class:`ConfigError` for malformed URLs and databases other than SQLite/PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"ledger URL {url!r} is not a database URL ({exc})") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        else:
            parsed = parsed.set(drivername=parsed.drivername.replace("postgres+", "postgresql+"))
    elif backend == "sqlite":
        if parsed.database and parsed.database != ":memory:" and parsed.database.startswith("~"):
            parsed = parsed.set(database=str(Path(parsed.database).expanduser()))
    else:
        raise ConfigError(
            f"ledger URL {parsed.render_as_string(hide_password=True)!r}: unsupported database {backend!r}",
            hint="use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB",
        )
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook emit BEGIN itself (pysqlite's implicit BEGIN is deferred only).
    dbapi_connection.isolation_level = None


def _sqlite_file_on_connect(dbapi_connection: Any, record: Any) -> None:
    """A file ledger: write-ahead log, so readers never wait for the appender and an append is one
    sequential write; ``synchronous=FULL`` keeps every answered append durable (fsync per commit)."""
    _sqlite_on_connect(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("tollgate_sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        memory = url.database in (None, "", ":memory:")
        if memory:
            engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            assert url.database is not None
            try:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerUnavailableError(
                    f"cannot create the directory of the ledger database {url.database}: {exc}"
                ) from exc
            engine = create_engine(
                url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
            )
        event.listen(engine, "connect", _sqlite_on_connect if memory else _sqlite_file_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    )


def _open_lock_file(url: URL) -> int | None:
    """The descriptor of ``<database>.lock`` for a SQLite file on a POSIX system, else None."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or sys.platform == "win32":
        return None
    assert url.database is not None
    path = f"{url.database}.lock"
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise LedgerUnavailableError(f"cannot open the ledger's lock file {path}: {exc.strerror}") from exc


def migrate(engine: Engine) -> None:
    """Upgrade the ledger schema to the newest Alembic revision, in one locked transaction."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            connection.execution_options(tollgate_sqlite_begin="IMMEDIATE")
        with connection.begin():
            if dialect == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def _row(result: Row[Any]) -> LedgerRow:
    return LedgerRow(**result._mapping)


_COLUMNS = [decisions.c[name] for name in LedgerRow.__dataclass_fields__]


class _Pending:
    """One queued append: its draft, then its record or the error of its transaction."""

    __slots__ = ("draft", "error", "record")

    def __init__(self, draft: DecisionDraft) -> None:
        self.draft = draft
        self.record: DecisionRecord | None = None
        self.error: BaseException | None = None


class Ledger:
    """The SQL ledger. See the module docstring for URLs, locking and append-only protection.

    Every method may raise :class:`LedgerUnavailableError` (naming the URL, password masked) when
    the database cannot be reached. Safe to share between threads.
    """

    def __init__(self, url: str) -> None:
        self._url = normalise_url(url)
        self.display_url = self._url.render_as_string(hide_password=True)
        try:
            self._engine = _create_engine(self._url)
        except NoSuchModuleError as exc:
            raise ConfigError(f"ledger URL {self.display_url!r}: no such database driver ({exc})") from exc
        self._dialect = self._engine.dialect.name
        self._write_lock = threading.Lock()  # in-process only; the database lock covers other processes
        self._group_lock = threading.Lock()  # held by the thread writing a group of appends
        self._queue_lock = threading.Lock()
        self._queue: builtins.list[_Pending] = []
        self._lock_fd = _open_lock_file(self._url)
        try:
            with self._guard("open"):
                migrate(self._engine)
        except BaseException:
            self._engine.dispose()
            self._close_lock_file()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLIntegrityError as exc:
            raise IntegrityError(
                f"ledger {self.display_url}: {action} violated a ledger constraint ({exc.orig})",
                hint="another writer bypassed the ledger lock or the table was altered; run verify",
            ) from exc
        except CommandError as exc:
            raise LedgerUnavailableError(
                f"ledger database {self.display_url} cannot be migrated: {exc}",
                hint="a newer tollgate may have written it; upgrade tollgate",
            ) from exc
        except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
            detail = getattr(exc, "orig", None) or exc
            raise LedgerUnavailableError(
                f"ledger database {self.display_url} is unavailable ({action}): {detail}",
                hint="check that the database is running and reachable, and the URL in TOLLGATE_LEDGER_URL",
            ) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._guard("read"), self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        with self._write_lock, self._process_lock(), self._guard(action), self._engine.connect() as connection:
            if self._dialect == "sqlite":
                connection.execution_options(tollgate_sqlite_begin="IMMEDIATE")
            with connection.begin():
                if self._dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
                yield connection

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """Exclusive ``flock`` of the SQLite file's lock file while writing (nothing for other ledgers)."""
        if self._lock_fd is None:
            yield
            return
        import fcntl

        # Non-blocking tries with short naps (0.1 ms growing to 2 ms): the next writer starts within about
        # a millisecond of the lock's release, and a writer stuck elsewhere still ends in a clear error
        # after the same busy timeout SQLite would have waited.
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        nap = 0.0001
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LedgerUnavailableError(
                        f"ledger database {self.display_url} is unavailable (append): another process has held "
                        f"its write lock for more than {SQLITE_BUSY_TIMEOUT_S:g} s",
                        hint="check for a stuck tollgate process writing to the same ledger file",
                    ) from None
                time.sleep(nap)
                nap = min(nap * 2, 0.002)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _select(self) -> Select[Any]:
        return select(*_COLUMNS)

    # -- API ---------------------------------------------------------------------------------

    def append(self, draft: DecisionDraft) -> DecisionRecord:
        """Seal ``draft`` as the next record of the chain, atomically; returns once it is committed.

        Group commit: appends that arrive while another is writing queue up, and the next writer seals
        and inserts every queued draft in one transaction (one commit, one fsync) before any of them
        returns. So a returned record is always durable, and a failed transaction fails every append
        that was in it (each caller gets the error; none of its records were written).
        """
        ticket = _Pending(draft)
        with self._queue_lock:
            self._queue.append(ticket)
        with self._group_lock:
            if ticket.record is None and ticket.error is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    rows = self._append_batch([t.draft for t in batch])
                except BaseException as exc:
                    for t in batch:
                        t.error = exc
                else:
                    for t, row in zip(batch, rows, strict=True):
                        t.record = row.to_record()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.record is not None
        return ticket.record

    def _append_batch(self, drafts: builtins.list[DecisionDraft]) -> builtins.list[LedgerRow]:
        with self._write("append") as connection:
            head = connection.execute(
                select(decisions.c.seq, decisions.c.hash).order_by(decisions.c.seq.desc()).limit(1)
            ).first()
            seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
            rows = []
            for draft in drafts:
                seq += 1
                row = seal(draft, seq=seq, prev_hash=prev_hash)
                prev_hash = row.hash
                rows.append(row)
            connection.execute(insert(decisions), [row.columns() for row in rows])
        return rows

    def get(self, record_id: str) -> DecisionRecord:
        """One record by full id or unique prefix of at least 8 characters."""
        value = normalise_lookup(record_id)
        if is_full_id(value):
            condition = decisions.c.id == value
        else:
            condition = decisions.c.id.startswith(value, autoescape=True)
        with self._read() as connection:
            found = [
                _row(r)
                for r in connection.execute(
                    self._select().where(condition).order_by(decisions.c.seq).limit(6)
                )
            ]
        chosen = pick_unique(value, [row.id for row in found])
        return next(row for row in found if row.id == chosen).to_record()

    def list(
        self,
        kind: str | None = None,
        app: str | None = None,
        limit: int = 50,
        since: datetime | None = None,
    ) -> builtins.list[DecisionRecord]:
        """Records newest first (by ``seq``), filtered by kind, app and creation time."""
        since_text = check_list_args(limit, since)
        query = self._select().order_by(decisions.c.seq.desc()).limit(limit)
        if kind is not None:
            query = query.where(decisions.c.kind == kind)
        if app is not None:
            query = query.where(decisions.c.app == app)
        if since_text is not None:
            query = query.where(decisions.c.created_at >= since_text)
        with self._read() as connection:
            rows = [_row(r) for r in connection.execute(query)]
        return [row.to_record() for row in rows]

    def recent(self, app: str, kind: str = "review", limit: int = 20) -> builtins.list[DecisionRecord]:
        """The app's latest records of ``kind``, newest first."""
        return self.list(kind=kind, app=app, limit=limit)

    def approve(self, decision_id: str, approver: str, note: str = "") -> DecisionRecord:
        """Append an approval of an existing decision (records are never changed)."""
        return self.append(approval_draft(self.get(decision_id), approver, note))

    def verify(self) -> VerifyReport:
        """Re-check every record's seq, link and hash, streaming in ``seq`` order."""
        with self._read() as connection:
            result = connection.execution_options(yield_per=_VERIFY_BATCH).execute(
                self._select().order_by(decisions.c.seq)
            )
            return verify_rows(_row(r) for r in result)

    def close(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()
        self._close_lock_file()

    def _close_lock_file(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.display_url!r})"
