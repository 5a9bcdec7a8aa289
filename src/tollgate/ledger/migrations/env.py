"""Alembic environment: migrates the connection handed over by :func:`tollgate.ledger.store.migrate`.

Only online migrations on an open connection are supported; the caller owns the transaction
(and, on PostgreSQL, holds an advisory lock so concurrent first opens do not race).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from tollgate.ledger.schema import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("tollgate ledger migrations run only through tollgate.ledger.store.migrate()")
_run(_connection)
