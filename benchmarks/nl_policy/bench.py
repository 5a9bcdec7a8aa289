"""NL -> policy frame benchmark: ``python benchmarks/nl_policy/bench.py benchmarks/nl_policy/dev.jsonl``.

``dev.jsonl`` is for tuning (cues, threshold, slot grammar); ``test.jsonl`` is held out and reported only.
Each line: ``{"text", "template": id|null, "slots": {...}, "question": bool}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tollgate.policy.nl.bench import evaluate_frames
from tollgate.policy.nl.parse import Parser


def bench_nl(path: str | Path) -> dict[str, Any]:
    """Load the request set at ``path``, parse every request and return the metrics (plus load time)."""
    items = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    start = time.perf_counter()
    parser = Parser()
    load_s = time.perf_counter() - start
    result = evaluate_frames(items, parser)
    result["load_s"] = load_s
    result["file"] = str(path)
    return result


if __name__ == "__main__":
    report = bench_nl(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("dev.jsonl"))
    verbose = "-v" in sys.argv
    if not verbose:
        report["failures"] = len(report["failures"])
    print(json.dumps(report, indent=2))
