"""Rightsizing orchestration: usage from Prometheus -> strategy -> source file -> Git proposal -> ledger."""
