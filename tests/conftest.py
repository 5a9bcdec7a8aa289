"""Shared fixtures: a real, throw-away PostgreSQL server for integration tests.

``postgres_url`` (session) starts one PostgreSQL cluster on a free loopback port and yields a
SQLAlchemy URL of an empty database in it; ``fresh_postgres_url`` (function) yields the URL of a
new empty database in that server for each test. As root the server runs as the ``postgres``
OS user; otherwise as the current user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL program {name!r} not found on PATH or in /usr/lib/postgresql/*/bin")
    return candidates[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _run(args: list[str]) -> None:
    done = subprocess.run(_as_server_user(args), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """A running PostgreSQL server: yields ``(host, port)``; superuser ``postgres``, trust auth."""
    root = Path(tempfile.mkdtemp(prefix="tollgate-pg-"))
    data_dir, socket_dir = root / "data", root / "sock"
    socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(socket_dir, "postgres", "postgres")
    _run([_pg_bin("initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
    port = 0
    last_error: RuntimeError | None = None
    for _attempt in range(3):  # a free port can be taken between probing and binding
        port = _free_port()
        options = (
            f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        try:
            _run([_pg_bin("pg_ctl"), "-D", str(data_dir), "-l", str(root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start"])
            last_error = None
            break
        except RuntimeError as exc:
            last_error = exc
    if last_error is not None:
        log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"{last_error}\nserver log:\n{log}")
    try:
        yield "127.0.0.1", port
    finally:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            _run([_pg_bin("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _create_database(host: str, port: int) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@{host}:{port}/{name}"


@pytest.fixture(scope="session")
def postgres_url(postgres_server: tuple[str, int]) -> str:
    """SQLAlchemy URL (``postgresql://``) of an empty database, shared by the whole session."""
    return _create_database(*postgres_server)


@pytest.fixture
def fresh_postgres_url(postgres_server: tuple[str, int]) -> str:
    """SQLAlchemy URL of a new, empty database for this test alone."""
    return _create_database(*postgres_server)
