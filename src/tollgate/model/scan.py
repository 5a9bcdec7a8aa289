"""The result of scanning a tree of IaC files (``tollgate scan``)."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.model.changes import SkippedObject
from tollgate.model.findings import Finding, Severity


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Findings of the rule packs over every object found below ``root``.

    ``files`` counts the files read, ``resources`` the objects evaluated (Kubernetes objects and
    Terraform resources), ``rules`` the enabled rules that ran.
    """

    root: str
    findings: tuple[Finding, ...]
    resources: int
    files: int
    rules: int
    skipped: tuple[SkippedObject, ...] = ()

    @property
    def active(self) -> tuple[Finding, ...]:
        """Findings nobody suppressed."""
        return tuple(f for f in self.findings if f.suppressed is None)

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is not None)

    def fails(self, threshold: Severity = Severity.HIGH) -> bool:
        """Whether an unsuppressed finding is at ``threshold`` or worse."""
        return any(f.severity.rank >= threshold.rank for f in self.active)
