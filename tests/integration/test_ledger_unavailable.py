"""An unreachable ledger database is a dependency error (exit code 3) naming the URL without its password."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from tollgate.errors import ConfigError, DependencyError, LedgerUnavailableError
from tollgate.ledger import Ledger, open_ledger

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def test_closed_postgres_port_is_unavailable_with_masked_password() -> None:
    port = closed_port()
    with pytest.raises(LedgerUnavailableError) as caught:
        Ledger(f"postgresql://tollgate:s3cret-pw@127.0.0.1:{port}/ledger")
    message = str(caught.value)
    assert f"127.0.0.1:{port}/ledger" in message
    assert "s3cret-pw" not in message
    assert "***" in message
    assert isinstance(caught.value, DependencyError)
    assert caught.value.exit_code == 3


def test_missing_postgres_database_is_unavailable(postgres_server: tuple[str, int]) -> None:
    host, port = postgres_server
    with pytest.raises(LedgerUnavailableError, match="no_such_db"):
        open_ledger(f"postgres://postgres@{host}:{port}/no_such_db")


def test_sqlite_directory_that_cannot_be_created_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LedgerUnavailableError, match="directory"):
        Ledger(f"sqlite:///{blocker}/sub/ledger.db")


@pytest.mark.parametrize("url", ["not a url", "mysql://u:p@h/db", "sqlite+nosuchdriver:///x.db"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        Ledger(url)


def test_a_database_migrated_by_a_newer_tollgate_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    Ledger(url).close()
    conn = sqlite3.connect(tmp_path / "ledger.db")
    with conn:
        conn.execute("UPDATE tollgate_alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    with pytest.raises(LedgerUnavailableError, match="cannot be migrated") as caught:
        Ledger(url)
    assert caught.value.hint is not None and "upgrade tollgate" in caught.value.hint
