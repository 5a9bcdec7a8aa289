"""The full result of reviewing one change."""

from __future__ import annotations

from dataclasses import dataclass, field

from tollgate.model.changes import ChangeSet
from tollgate.model.config import Environment
from tollgate.model.cost import CostReport
from tollgate.model.decisions import Decision, Risk
from tollgate.model.findings import Finding


@dataclass(frozen=True, slots=True)
class ReviewResult:
    """Everything a review produced; the renderers turn it into a PR comment, JSON, SARIF or a table."""

    decision: Decision
    change_set: ChangeSet
    cost: CostReport
    findings: tuple[Finding, ...]
    risk: Risk
    environment: Environment
    tollgate_version: str
    recorded: bool = False
    timings: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
