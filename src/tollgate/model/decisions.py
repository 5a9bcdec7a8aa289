"""Verdicts, risk and the decision a review records."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"


class Strategy(StrEnum):
    ROLLING = "rolling"
    CANARY = "canary"
    BLUE_GREEN = "blue-green"


@dataclass(frozen=True, slots=True)
class Risk:
    """Change risk in [0, 1] with the rollout strategy it calls for and why."""

    score: float
    strategy: Strategy
    reasons: tuple[str, ...] = ()
    features: dict[str, float] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one review, as recorded in the ledger."""

    id: str
    verdict: Verdict
    strategy: Strategy
    risk: float
    reasons: tuple[str, ...]
