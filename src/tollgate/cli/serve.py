"""``tollgate serve``: run the HTTP service for rollout controllers under uvicorn.

The app is named to uvicorn as a factory string rather than imported: ``cli`` and ``api`` are sibling
layers, and a string also lets uvicorn start several worker processes.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Annotated, cast

import typer
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

APP_FACTORY = "tollgate.api.app:app_from_env"
HTTP_PROTOCOL = "tollgate.cli.serve:NoDelayHttpToolsProtocol"
EVENT_LOOP = "uvloop"
"""uvloop and httptools (an event loop and an HTTP parser written in C) instead of asyncio + h11 (pure
Python): what uvicorn's own "standard" install uses in production; less CPU per request for the parsing
and scheduling that every judge request pays."""


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on the connection's TCP socket.

    asyncio turns TCP_NODELAY on only for sockets it created itself; with ``--workers N`` uvicorn
    binds the listening socket (protocol number 0), so accepted connections kept Nagle on and every
    keep-alive answer written in two pieces waited for the client's delayed ACK: about 40 ms per request
    on loopback, measured. Setting it on every accepted connection covers every loop and worker mode.
    """
    sock = cast("socket.socket | None", transport.get_extra_info("socket"))
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - a socket that is already closing
            pass


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Nagle's algorithm off on every connection (what we serve with)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _no_delay(transport)
        super().connection_made(cast(asyncio.Transport, transport))


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's pure-Python h11 protocol with Nagle's algorithm off (for platforms without httptools)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _no_delay(transport)
        super().connection_made(cast(asyncio.Transport, transport))


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 inside a container).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes; the judge is CPU-bound, so about one per core.",
                                         min=1, max=64)] = 1,
) -> None:
    """Serve the judge, Flagger gates and approvals over HTTP (settings from TOLLGATE_* variables)."""
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, proxy_headers=False,
                server_header=False, log_level="info", http=HTTP_PROTOCOL, loop=EVENT_LOOP)
