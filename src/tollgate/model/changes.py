"""Workload-level differences between two rendered desired states."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tollgate.model.config import AppSpec
from tollgate.model.manifests import Manifest, ResourceKey


class ChangeKind(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One object that differs between base and head.

    ``fields`` are dotted paths of what changed (``spec.replicas``,
    ``spec.template.spec.containers[name=web].image``), sorted.
    """

    key: ResourceKey
    change: ChangeKind
    before: Manifest | None
    after: Manifest | None
    fields: tuple[str, ...] = ()

    @property
    def current(self) -> Manifest:
        """The head object, or the base object for a removal."""
        m = self.after or self.before
        assert m is not None
        return m

    @property
    def file(self) -> str:
        return self.current.source.file

    @property
    def line(self) -> int | None:
        return self.current.source.line

    @property
    def app(self) -> str:
        return self.current.app


@dataclass(frozen=True, slots=True)
class SkippedObject:
    """An object the pipeline saw but does not analyse (an unknown kind, say), and why."""

    kind: str
    name: str
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Everything that differs between two refs, with the full states for context."""

    repo: str
    base_ref: str
    head_ref: str
    base_commit: str
    head_commit: str
    base_tree: str
    head_tree: str
    changes: tuple[ResourceChange, ...]
    base_state: tuple[Manifest, ...] = field(repr=False, default=())
    head_state: tuple[Manifest, ...] = field(repr=False, default=())
    apps: tuple[AppSpec, ...] = ()
    skipped: tuple[SkippedObject, ...] = ()
    changed_files: tuple[str, ...] = ()
