"""Alembic migrations of the ledger schema; :func:`tollgate.ledger.store.migrate` runs them to head.

Revisions are written by hand under ``versions/`` (ids ``NNNN_<slug>``). The ledger tests check
that the migrated database matches :mod:`tollgate.ledger.schema` (Alembic ``compare_metadata``
with ``compare_type``), so change both together.
"""
