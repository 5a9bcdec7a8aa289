"""Run-time parameters of the built-in rules, referenced from rule packs as ``$name``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tollgate.settings import PolicySettings


@dataclass(frozen=True, slots=True)
class PolicyParams:
    """Values rule packs may reference (``labels: $required_labels``).

    ``annotation_prefix`` is the domain of suppression annotations:
    ``<prefix>/ignore-<RULE_ID>: "<reason>"``.
    """

    required_labels: tuple[str, ...] = ("cost-center",)
    allowed_instance_types: tuple[str, ...] = ()
    annotation_prefix: str = "tollgate.dev"

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> PolicyParams:
        return cls(
            required_labels=tuple(settings.required_labels),
            allowed_instance_types=tuple(settings.allowed_instance_types),
            annotation_prefix=settings.annotation_prefix,
        )

    def lookup(self, name: str) -> Any:
        """The value of ``$name``; ``KeyError`` when there is no such parameter."""
        if name not in PARAM_NAMES:
            raise KeyError(name)
        return getattr(self, name)


#: Names a rule pack may reference with ``$name``.
PARAM_NAMES = frozenset(f.name for f in fields(PolicyParams))
