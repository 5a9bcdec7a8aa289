"""Rule fixtures: example files whose names say what a rule must report on them.

A fixture lives in a folder named after its rule (``<root>/<RULE_ID>/<name>``). Its name ends with
the expected outcome: ``-pass`` (no finding of the rule), ``-fail`` (at least one unsuppressed
finding) or ``-suppressed`` (findings, all suppressed), before ``.yaml``, ``.yml`` or ``.tf``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tollgate.model.manifests import Manifest

Outcome = Literal["pass", "fail", "suppressed"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "suppressed")
FIXTURE_SUFFIXES = (".yaml", ".yml", ".tf")


def expected_outcome(name: str) -> Outcome | None:
    """The outcome a fixture file name announces (``x-fail.tf`` -> ``fail``), or ``None``."""
    for suffix in FIXTURE_SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            for outcome in OUTCOMES:
                if stem.endswith(f"-{outcome}") or stem == outcome:
                    return outcome
    return None


@dataclass(frozen=True, slots=True)
class RuleFixture:
    """One fixture file, read and parsed: ``file`` is ``<RULE_ID>/<name>``; ``text`` is kept for comments."""

    rule_id: str
    file: str
    text: str
    manifests: tuple[Manifest, ...]

    @property
    def expected(self) -> Outcome | None:
        return expected_outcome(self.file.rsplit("/", 1)[-1])
