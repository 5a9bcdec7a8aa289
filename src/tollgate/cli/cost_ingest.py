"""``tollgate cost ingest FILE… [--store PATH] [--format table|json]``: FOCUS exports into the billing store.

JSON output is exactly ``{"rows", "providers", "billing_periods", "charge_period": {"start", "end"},
"warnings"}`` over the rows this run added. A file lacking a required cost column exits 2 naming the file
and the column (``InputError``); a store another process holds open exits 3.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tollgate.cli.output import emit, err_console
from tollgate.errors import TollgateError
from tollgate.model.focus import IngestSummary
from tollgate.settings import Settings
from tollgate.sources.billing_store import BillingStore

__all__ = ["IngestFormat", "cost_ingest_command", "render_ingest_table"]


class IngestFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def render_ingest_table(summary: IngestSummary, store: Path) -> str:
    """The human-readable summary: one line per file, totals, warnings."""
    console = Console(record=True, width=120, force_terminal=False)
    table = Table(title=f"FOCUS ingest into {store}", show_lines=False)
    for name, justify in (("file", "left"), ("format", "left"), ("read", "right"), ("added", "right"),
                          ("duplicates", "right"), ("seconds", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for f in summary.files:
        table.add_row(f.path, f.file_format, f"{f.rows_read:,}", "already ingested" if f.already_ingested
                      else f"{f.rows_inserted:,}", f"{f.duplicate_rows:,}", f"{f.seconds:.2f}")
    console.print(table)
    doc = summary.to_dict()
    console.print(f"rows added: {summary.rows:,}  providers: {', '.join(summary.providers) or '-'}")
    console.print(f"billing periods: {', '.join(summary.billing_periods) or '-'}  charge period: "
                  f"{doc['charge_period']['start'] or '-'} .. {doc['charge_period']['end'] or '-'}")
    for w in summary.warnings:
        console.print(Text(f"warning: {w}"))
    return console.export_text()


def cost_ingest_command(
    files: Annotated[list[Path], typer.Argument(help="FOCUS 1.0-1.3 exports: .csv, .csv.gz or .parquet.")],
    store: Annotated[Path | None, typer.Option("--store", help="DuckDB billing store (default: in the data dir).")]
    = None,
    fmt: Annotated[IngestFormat, typer.Option("--format", "-f", help="table or json")] = IngestFormat.TABLE,
) -> None:
    """Ingest FOCUS billing exports into the DuckDB billing store (idempotent)."""
    settings = Settings()
    path = store or settings.resolved_billing_store()
    try:
        with BillingStore(path, memory_limit=settings.billing.memory_limit, threads=settings.billing.threads) as db:
            summary = db.ingest(files)
    except TollgateError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)))
        raise typer.Exit(exc.exit_code) from exc
    if fmt is IngestFormat.JSON:
        emit(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        emit(render_ingest_table(summary, path))
