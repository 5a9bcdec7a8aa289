"""The Argo load benchmark runs end to end: real uvicorn workers, the lean client, a SQLite ledger."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_argo.py"


def test_load_benchmark_answers_every_request_with_both_verdicts() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--rate", "20", "--duration", "2", "--warmup", "0.5",
                           "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["requests"] == 40 and report["statuses"] == {"200": 40}
    assert report["verdicts"] == {"pass": 20, "fail": 20}  # good and regressed canaries alternate
    assert report["workers"] == 2 and report["p99_ms"] > 0 and report["server_cpu_ms_per_request"] > 0
