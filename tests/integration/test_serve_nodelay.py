"""``tollgate serve`` turns Nagle's algorithm off on every accepted connection (real uvicorn, real sockets)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from tollgate.cli.serve import EVENT_LOOP, HTTP_PROTOCOL, NoDelayH11Protocol, NoDelayHttpToolsProtocol

pytestmark = pytest.mark.integration


async def _app(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


@pytest.mark.parametrize("protocol", [NoDelayHttpToolsProtocol, NoDelayH11Protocol])
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_accepted_connections_have_tcp_nodelay_even_on_a_socket_bound_outside_asyncio(
        protocol: type[NoDelayH11Protocol] | type[NoDelayHttpToolsProtocol], loop: str) -> None:
    seen: list[int] = []

    class Probe(protocol):  # type: ignore[valid-type,misc]
        def connection_made(self, transport):  # type: ignore[no-untyped-def]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # A listening socket made like uvicorn's multi-worker mode makes it: protocol number 0, so asyncio
    # would not set TCP_NODELAY by itself.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, http=Probe, loop=loop, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert b"200 OK" in client.recv(4096)
        assert seen == [1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def test_serve_names_the_protocol_by_import_path_and_uses_uvloop() -> None:
    module, _, name = HTTP_PROTOCOL.partition(":")
    assert module == NoDelayHttpToolsProtocol.__module__ and name == NoDelayHttpToolsProtocol.__name__
    assert EVENT_LOOP == "uvloop"
