"""``tollgate serve``: run the HTTP service for rollout controllers under uvicorn.

The app is named to uvicorn as a factory string rather than imported: ``cli`` and ``api`` are sibling
layers, and a string also lets uvicorn start several worker processes.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

APP_FACTORY = "tollgate.api.app:app_from_env"


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 inside a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes; the judge is CPU-bound, so about one per core.",
                                         min=1, max=64)] = 1,
) -> None:
    """Serve the judge, Flagger gates and approvals over HTTP (settings from TOLLGATE_* variables)."""
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, proxy_headers=False,
                server_header=False, log_level="info")
