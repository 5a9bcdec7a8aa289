"""Which ledger class serves a URL: an explicit registry keyed by URL scheme."""

from __future__ import annotations

from collections.abc import Callable

from tollgate.errors import ConfigError
from tollgate.ledger.base import DecisionLedger
from tollgate.ledger.memory import InMemoryLedger
from tollgate.ledger.store import Ledger


def _memory(_url: str) -> DecisionLedger:
    return InMemoryLedger()


BACKENDS: dict[str, Callable[[str], DecisionLedger]] = {
    "memory": _memory,
    "sqlite": Ledger,
    "postgresql": Ledger,
    "postgres": Ledger,
}
"""URL scheme (the part before ``:`` and any ``+driver``) -> ledger factory."""


def open_ledger(url: str) -> DecisionLedger:
    """Open the ledger at ``url`` (``sqlite:///...``, ``postgresql://...`` or ``memory://``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""
    factory = BACKENDS.get(scheme)
    if factory is None:
        raise ConfigError(
            f"ledger URL {url.split('@')[-1]!r}: unknown scheme {scheme!r}; "
            f"expected one of {', '.join(sorted(BACKENDS))}"
        )
    return factory(url)
