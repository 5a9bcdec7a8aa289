"""Create the append-only decisions table, its indexes and the triggers that refuse changes.

Revision ID: 0001_decisions
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_decisions"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER tollgate_decisions_no_{op_name.lower()}
    BEFORE {op_name} ON tollgate_decisions
    BEGIN
        SELECT RAISE(ABORT, 'tollgate ledger is append-only: {op_name} of a decision record is refused');
    END
    """
    for op_name in ("UPDATE", "DELETE")
]

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION tollgate_decisions_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tollgate ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

_POSTGRES_TRIGGERS = [
    """
    CREATE TRIGGER tollgate_decisions_no_update_delete
    BEFORE UPDATE OR DELETE ON tollgate_decisions
    FOR EACH ROW EXECUTE FUNCTION tollgate_decisions_refuse_change()
    """,
    """
    CREATE TRIGGER tollgate_decisions_no_truncate
    BEFORE TRUNCATE ON tollgate_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_decisions_refuse_change()
    """,
]


def upgrade() -> None:
    op.create_table(
        "tollgate_decisions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("app", sa.String(253), nullable=True),
        sa.Column("environment", sa.String(253), nullable=False),
        sa.Column("verdict", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("tool_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(253), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tollgate_decisions"),
        sa.CheckConstraint("seq >= 1", name="ck_tollgate_decisions_seq_positive"),
        sa.UniqueConstraint("seq", name="uq_tollgate_decisions_seq"),
        sa.UniqueConstraint("prev_hash", name="uq_tollgate_decisions_prev_hash"),
        sa.UniqueConstraint("hash", name="uq_tollgate_decisions_hash"),
    )
    op.create_index("ix_tollgate_decisions_app_kind_seq", "tollgate_decisions", ["app", "kind", "seq"])
    op.create_index("ix_tollgate_decisions_kind_seq", "tollgate_decisions", ["kind", "seq"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for statement in _POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        raise NotImplementedError(f"tollgate ledger triggers are written for SQLite and PostgreSQL, not {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("tollgate_decisions")  # drops its triggers too
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tollgate_decisions_refuse_change()")
