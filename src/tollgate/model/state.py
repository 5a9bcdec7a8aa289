"""The rendered desired state of a repository at one commit."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.model.changes import SkippedObject
from tollgate.model.config import AppSpec
from tollgate.model.manifests import Manifest


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Every object the repo's apps render to at one commit, and what could not be identified.

    ``commit`` is the full commit id ("" when the state did not come from Git).
    """

    manifests: tuple[Manifest, ...] = ()
    skipped: tuple[SkippedObject, ...] = ()
    apps: tuple[AppSpec, ...] = ()
    commit: str = ""
