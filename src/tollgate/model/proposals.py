"""Proposals tollgate writes into a GitOps repo: rightsizing commits and rollback reverts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tollgate.errors import InputError


class ProposeMode(StrEnum):
    """Where a proposal goes: nowhere, a branch of its own, or a commit on the checked-out branch."""

    OFF = "off"
    BRANCH = "branch"
    COMMIT = "commit"

    @classmethod
    def parse(cls, value: str, *, field_name: str = "mode") -> ProposeMode:
        try:
            return cls(value.strip().lower())
        except ValueError as exc:
            raise InputError(f"{field_name}: {value!r} is not one of off, branch, commit") from exc


@dataclass(frozen=True, slots=True)
class Proposal:
    """A change written to Git.

    ``branch`` is the ref that holds it (the proposal branch, or the current branch in commit mode);
    ``commit`` its commit id; ``created`` is ``False`` when the same content was already there (the
    rerun of an existing proposal: nothing new was written). ``files`` are repo-relative paths.
    """

    branch: str
    commit: str
    created: bool
    files: tuple[str, ...] = ()
    message: str = ""
    base_commit: str = ""

    @property
    def status(self) -> str:
        return "created" if self.created else "exists"


@dataclass(frozen=True, slots=True)
class RollbackProposal(Proposal):
    """A revert of ``reverted`` (the commit that started a failed rollout), named after ``decision_id``."""

    decision_id: str = ""
    reverted: str = ""


@dataclass(frozen=True, slots=True)
class FileChange:
    """New full content of one repo file (``path`` repo-relative)."""

    path: str
    content: bytes = field(repr=False)
