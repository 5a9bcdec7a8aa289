"""Where the CLI writes: results to stdout (or --output), messages to stderr."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

err_console = Console(stderr=True, highlight=False)


def emit(text: str, output: Path | None = None) -> None:
    """Write a rendered result to ``output`` or stdout."""
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
        return
    sys.stdout.write(text)
    sys.stdout.flush()
