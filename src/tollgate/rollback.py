"""Rollback of a failed canary as a Git proposal (revert of the change that started the rollout)."""
