"""The SQL table of the ledger (SQLAlchemy Core), the target of the Alembic migrations.

Column meanings and the hash scheme: :mod:`tollgate.ledger.chain`. ``subject``, ``payload`` and
``created_at`` are stored as the exact text that was hashed, so verification never depends on how
a database round-trips JSON or timestamps.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, MetaData, String, Table, Text

from tollgate.model.ledger import MAX_NAME, MAX_SHORT

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)

TABLE_NAME = "tollgate_decisions"
VERSION_TABLE = "tollgate_alembic_version"

decisions = Table(
    TABLE_NAME,
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("kind", String(MAX_SHORT), nullable=False),
    Column("app", String(MAX_NAME), nullable=True),
    Column("environment", String(MAX_NAME), nullable=False),
    Column("verdict", String(MAX_SHORT), nullable=False),
    Column("subject", Text, nullable=False),
    Column("inputs_digest", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("tool_version", String(MAX_SHORT), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("actor", String(MAX_NAME), nullable=True),
    # UNIQUE(prev_hash) makes a fork impossible even if the write lock were bypassed.
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("hash", String(64), nullable=False, unique=True),
    CheckConstraint("seq >= 1", name="seq_positive"),
    Index(None, "app", "kind", "seq"),
    Index(None, "kind", "seq"),
)
