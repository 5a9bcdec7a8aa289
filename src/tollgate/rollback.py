"""Rollback of a failed canary as a Git proposal (revert of the change that started the rollout).

Argo Rollouts and Flagger abort a bad rollout in the cluster but leave Git saying the bad version is
desired; the next sync deploys it again. :func:`propose_rollback` closes the loop: it reverts the
commit that started the rollout, on a branch named after the failing decision (``branch`` mode) or on
the checked-out branch (``commit`` mode), with the evidence in the commit message. Repeat calls for
the same decision find the earlier revert by its ``Tollgate-Decision`` trailer and write nothing.
"""

from __future__ import annotations

from pathlib import Path

from tollgate.model.proposals import ProposeMode, RollbackProposal
from tollgate.sources.gitwrite import GitWriter

__all__ = ["BRANCH_PREFIX", "propose_rollback", "rollback_message"]

BRANCH_PREFIX = "tollgate/rollback/"


def rollback_message(subject: str, commit: str, decision_id: str, evidence: str) -> str:
    """Commit message of a rollback: Git's revert wording, the evidence, and the tollgate trailers."""
    body = evidence.strip() or "(no evidence given)"
    return (
        f'Revert "{subject}"\n\n'
        f"This reverts commit {commit}.\n\n"
        f"tollgate decision {decision_id} failed the rollout this commit started.\n\n"
        f"Evidence:\n{body}\n\n"
        f"Tollgate-Decision: {decision_id}\n"
        f"Tollgate-Reverts: {commit}\n"
    )


def propose_rollback(
    repo: Path,
    *,
    commit: str,
    decision_id: str,
    evidence: str,
    mode: str = "branch",
    base: str | None = None,
) -> RollbackProposal | None:
    """Propose reverting ``commit`` because decision ``decision_id`` failed.

    ``mode``: ``off`` -> ``None``; ``branch`` -> branch ``tollgate/rollback/<decision_id>`` holding the
    revert on top of ``base`` (default: the repo's default branch), working tree untouched; ``commit``
    -> the revert committed on the checked-out branch. Idempotent: a second call for the same decision
    returns the existing revert with ``created=False``.

    Raises InputError for a bad mode, RefError for an unknown commit/base or a non-repo path,
    ProposalRefusedError for a dirty/diverged branch (commit mode) or an invalid decision id, and
    RevertConflictError when the revert conflicts with later changes (nothing is written then).
    """
    chosen = ProposeMode.parse(mode, field_name="rollback mode")
    if chosen is ProposeMode.OFF:
        return None
    writer = GitWriter(repo)
    target = writer.resolve(commit)
    message = rollback_message(writer.subject(target), target, decision_id, evidence)
    marker = f"Tollgate-Decision: {decision_id}"
    if chosen is ProposeMode.BRANCH:
        branch = f"{BRANCH_PREFIX}{decision_id}"
        result = writer.revert_branch(branch, base or writer.default_branch(), target, message, marker)
    else:
        result = writer.revert_current(target, message, marker)
    return RollbackProposal(
        branch=result.branch,
        commit=result.commit,
        created=result.created,
        files=result.files,
        message=result.message,
        base_commit=result.base_commit,
        decision_id=decision_id,
        reverted=target,
    )
