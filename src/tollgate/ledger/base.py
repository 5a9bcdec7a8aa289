"""The ledger contract every backend keeps (SQL store, in-memory fake)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Protocol

from tollgate.model.ledger import DecisionDraft, DecisionRecord, VerifyReport


class DecisionLedger(Protocol):
    """An append-only, hash-chained store of decisions. There is no update or delete."""

    def append(self, draft: DecisionDraft) -> DecisionRecord:
        """Seal ``draft`` as the next record (assigns id, seq, created_at, prev_hash, hash)."""
        ...

    def get(self, record_id: str) -> DecisionRecord:
        """One record by id or unique id prefix (>= 8 characters).

        Raises NotFoundError when none matches, InputError when the prefix is ambiguous.
        """
        ...

    def list(
        self,
        kind: str | None = None,
        app: str | None = None,
        limit: int = 50,
        since: datetime | None = None,
    ) -> builtins.list[DecisionRecord]:
        """Records newest first, optionally only one kind/app and only created at or after ``since``."""
        ...

    def recent(self, app: str, kind: str = "review", limit: int = 20) -> builtins.list[DecisionRecord]:
        """The app's latest records of one kind, newest first (history for the risk model)."""
        ...

    def approve(self, decision_id: str, approver: str, note: str = "") -> DecisionRecord:
        """Append an ``approval`` record for an existing decision (id or unique prefix)."""
        ...

    def verify(self) -> VerifyReport:
        """Check the whole chain; raises LedgerIntegrityError naming the first bad record."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
