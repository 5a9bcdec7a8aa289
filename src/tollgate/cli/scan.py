"""``tollgate scan PATH [--format table|json|sarif] [--output FILE]``.

Exit codes follow the CLI contract: 0 when no unsuppressed finding is high or critical, 1 when one
is (the scan "blocks"), 2 for bad input (a missing path, broken YAML/HCL, a bad rule pack).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tollgate import __version__
from tollgate.cli.output import emit, err_console
from tollgate.errors import InputError, TollgateError
from tollgate.model.findings import Severity
from tollgate.model.scan import ScanResult
from tollgate.render.json_report import finding_to_dict
from tollgate.render.sarif import findings_to_sarif
from tollgate.scan import scan_tree
from tollgate.settings import Settings

EXIT_OK, EXIT_FAIL = 0, 1

_SEV_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _ordered(result: ScanResult) -> list[Any]:
    return sorted(result.findings, key=lambda f: (f.suppressed is not None, -f.severity.rank, f.rule_id,
                                                  f.file, f.line or 0, f.resource))


def scan_to_dict(result: ScanResult) -> dict[str, Any]:
    """The JSON document of a scan: ``summary`` and ``findings`` (same finding shape as ``review``)."""
    by_severity = {s.value: 0 for s in Severity}
    for f in result.active:
        by_severity[f.severity.value] += 1
    return {
        "tool": {"name": "tollgate", "version": __version__},
        "root": result.root,
        "summary": {
            "files": result.files,
            "resources": result.resources,
            "rules": result.rules,
            "findings": len(result.active),
            "suppressed": len(result.suppressed),
            "by_severity": by_severity,
            "failed": result.fails(),
        },
        "findings": [finding_to_dict(f) for f in _ordered(result)],
        "skipped": [{"kind": s.kind, "name": s.name, "file": s.file, "reason": s.reason} for s in result.skipped],
    }


def scan_to_json(result: ScanResult) -> str:
    return json.dumps(scan_to_dict(result), indent=2) + "\n"


def scan_to_sarif(result: ScanResult) -> str:
    return json.dumps(findings_to_sarif(_ordered(result), __version__), indent=2) + "\n"


def scan_to_table(result: ScanResult) -> str:
    """A plain-text table for terminals, worst findings first, then a one-line summary."""
    console = Console(width=160, record=True, force_terminal=False, color_system=None)
    table = Table(title=f"tollgate scan {result.root}", title_justify="left")
    for col in ("severity", "rule", "resource", "where", "message"):
        table.add_column(col, overflow="fold")
    for f in _ordered(result):
        sev = f.severity.value + (" (suppressed)" if f.suppressed is not None else "")
        table.add_row(Text(sev, style=_SEV_STYLE[f.severity]), f.rule_id, f.resource,
                      f"{f.file}:{f.line}" if f.line else f.file, f.message)
    with console.capture() as capture:
        if result.findings:
            console.print(table)
        console.print(
            f"{result.files} files, {result.resources} resources, {result.rules} rules: "
            f"{len(result.active)} findings, {len(result.suppressed)} suppressed"
        )
    return capture.get()


#: Output formats of ``tollgate scan``.
SCAN_FORMATS: dict[str, Callable[[ScanResult], str]] = {
    "table": scan_to_table,
    "json": scan_to_json,
    "sarif": scan_to_sarif,
}


def scan_command(
    path: Path,
    fmt: str = "table",
    output: Path | None = None,
    *,
    settings: Settings | None = None,
    fail_on: Severity = Severity.HIGH,
) -> int:
    """Scan ``path``, write the result in ``fmt`` to ``output`` (or stdout); return the exit code.

    Errors are printed to stderr and turned into their exit code (2 for bad input), so this can be
    called from the Typer app or directly.
    """
    try:
        if fmt not in SCAN_FORMATS:
            raise InputError(f"--format: unknown format {fmt!r} (use {', '.join(SCAN_FORMATS)})")
        result = scan_tree(path, settings or Settings())
        emit(SCAN_FORMATS[fmt](result), output)
    except TollgateError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)))
        return exc.exit_code
    return EXIT_FAIL if result.fails(fail_on) else EXIT_OK
