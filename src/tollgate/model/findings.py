"""What analyzers report."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in one resource.

    ``resource`` is ``Kind/namespace/name`` (``str(ResourceKey)``); ``source`` names the analyzer
    (``builtin``, ``rego``, ``finops``, ...). ``suppressed`` holds the reason when a user suppressed it.
    """

    rule_id: str
    severity: Severity
    resource: str
    file: str
    line: int | None
    message: str
    remediation: str = ""
    source: str = "builtin"
    suppressed: str | None = None
