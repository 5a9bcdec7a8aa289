"""What a FOCUS ingest did: per file and in total (the ``tollgate cost ingest`` summary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["FileIngest", "IngestSummary"]


@dataclass(frozen=True, slots=True)
class FileIngest:
    """One file of an ingest run.

    ``rows_read`` rows were in the file, ``rows_inserted`` were new; ``duplicate_rows`` were already in the
    store from another file (same row identity). ``already_ingested`` is true when the file's digest was
    seen before, in which case nothing was read.
    """

    path: str
    digest: str
    file_format: str
    rows_read: int
    rows_inserted: int
    duplicate_rows: int = 0
    already_ingested: bool = False
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """Totals over the rows of an ingest run (or of a whole store), plus validation warnings.

    ``billing_periods`` are the distinct ``BillingPeriodStart`` dates (ISO); the charge period is the
    earliest ``ChargePeriodStart`` and latest ``ChargePeriodEnd`` (UTC, naive), ``None`` without rows.
    """

    rows: int
    providers: tuple[str, ...]
    billing_periods: tuple[str, ...]
    charge_start: datetime | None
    charge_end: datetime | None
    warnings: tuple[str, ...] = ()
    files: tuple[FileIngest, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fixed JSON shape: ``rows, providers, billing_periods, charge_period{start,end}, warnings``."""
        return {
            "rows": self.rows,
            "providers": list(self.providers),
            "billing_periods": list(self.billing_periods),
            "charge_period": {
                "start": _iso(self.charge_start),
                "end": _iso(self.charge_end),
            },
            "warnings": list(self.warnings),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
