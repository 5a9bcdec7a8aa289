"""Append-only, hash-chained decision ledger (SQLAlchemy: SQLite by default, PostgreSQL).

Start with :func:`open_ledger` or :class:`Ledger`; :class:`InMemoryLedger` is the test double.
The hash scheme an auditor needs is documented in :mod:`tollgate.ledger.chain`.
"""

from tollgate.ledger.backends import BACKENDS, open_ledger
from tollgate.ledger.base import DecisionLedger
from tollgate.ledger.chain import LedgerRow, verify_rows
from tollgate.ledger.memory import InMemoryLedger
from tollgate.ledger.store import Ledger

__all__ = ["BACKENDS", "DecisionLedger", "InMemoryLedger", "Ledger", "LedgerRow", "open_ledger", "verify_rows"]
