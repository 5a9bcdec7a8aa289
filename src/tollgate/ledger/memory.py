"""``InMemoryLedger``: the ledger's first-class test double (same API, same hash scheme)."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType

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
from tollgate.model.ledger import GENESIS_HASH, DecisionDraft, DecisionRecord, VerifyReport


class InMemoryLedger:
    """A ledger held in a Python list, for tests, demos and ``memory://`` URLs.

    ``rows`` seeds it with stored rows (e.g. :meth:`rows` of another instance, possibly altered
    to test verification); they are taken as they are, unchecked, like a database file.
    Thread-safe; nothing survives the process.
    """

    def __init__(self, rows: Iterable[LedgerRow] = ()) -> None:
        self._rows: builtins.list[LedgerRow] = builtins.list(rows)
        self._lock = threading.Lock()

    def rows(self) -> tuple[LedgerRow, ...]:
        """A snapshot of the stored rows in ``seq`` order."""
        with self._lock:
            return tuple(self._rows)

    def append(self, draft: DecisionDraft) -> DecisionRecord:
        with self._lock:
            head = self._rows[-1] if self._rows else None
            row = seal(
                draft,
                seq=head.seq + 1 if head else 1,
                prev_hash=head.hash if head else GENESIS_HASH,
            )
            self._rows.append(row)
        return row.to_record()

    def get(self, record_id: str) -> DecisionRecord:
        value = normalise_lookup(record_id)
        with self._lock:
            if is_full_id(value):
                matches = [row for row in self._rows if row.id == value]
            else:
                matches = [row for row in self._rows if row.id.startswith(value)]
        chosen = pick_unique(value, [row.id for row in matches[:6]])
        return next(row for row in matches if row.id == chosen).to_record()

    def list(
        self,
        kind: str | None = None,
        app: str | None = None,
        limit: int = 50,
        since: datetime | None = None,
    ) -> builtins.list[DecisionRecord]:
        since_text = check_list_args(limit, since)
        found: builtins.list[DecisionRecord] = []
        for row in reversed(self.rows()):
            if kind is not None and row.kind != kind:
                continue
            if app is not None and row.app != app:
                continue
            if since_text is not None and row.created_at < since_text:
                continue
            found.append(row.to_record())
            if len(found) == limit:
                break
        return found

    def recent(self, app: str, kind: str = "review", limit: int = 20) -> builtins.list[DecisionRecord]:
        return self.list(kind=kind, app=app, limit=limit)

    def approve(self, decision_id: str, approver: str, note: str = "") -> DecisionRecord:
        return self.append(approval_draft(self.get(decision_id), approver, note))

    def verify(self) -> VerifyReport:
        return verify_rows(self.rows())

    def close(self) -> None:
        """Nothing to release; kept for API parity."""

    def __enter__(self) -> InMemoryLedger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
