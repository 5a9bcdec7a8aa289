"""`tollgate policy test --builtin`: the shipped rule fixtures, read by sources and checked by policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.cli.main import main

pytestmark = pytest.mark.integration


def test_builtin_rule_fixtures_all_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", "--builtin", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    passed, total = out.split(" built-in")[0].split("/")
    assert passed == total and int(total) >= 2 * 40  # a pass and a fail fixture for every security rule
    assert "FAIL" not in out


def test_without_builtin_a_missing_directory_is_bad_input(tmp_path: Path) -> None:
    assert main(["policy", "test", str(tmp_path / "none")]) == 2
