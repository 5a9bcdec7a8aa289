"""NL -> policy frame benchmark: ``python benchmarks/nl_policy/bench.py benchmarks/nl_policy/dev.jsonl [--cold]``.

Template vectors come from the package (``template_vectors.npz``, when its key matches), else the
on-disk cache (computed and stored on the first run); ``--cold`` ignores both and recomputes them,
which is what ``load_s`` then measures.

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
from tollgate.sources.policy_files import EmbeddingCache


class _Nothing:
    """A vector store that never holds anything (forces recomputation)."""

    def load(self, key: str) -> Any:
        """Always missing."""

    def save(self, key: str, vectors: Any) -> None:
        """Dropped."""


def bench_nl(path: str | Path, *, cold: bool = False) -> dict[str, Any]:
    """Load the request set at ``path``, parse every request and return the metrics (plus load time)."""
    items = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    start = time.perf_counter()
    parser = Parser(store=None, shipped=_Nothing()) if cold else Parser(store=EmbeddingCache())
    load_s = time.perf_counter() - start
    result = evaluate_frames(items, parser)
    result["load_s"] = load_s
    result["vectors_from"] = parser._index.source
    result["file"] = str(path)
    return result


if __name__ == "__main__":
    paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    report = bench_nl(paths[0] if paths else Path(__file__).with_name("dev.jsonl"), cold="--cold" in sys.argv)
    verbose = "-v" in sys.argv
    if not verbose:
        report["failures"] = len(report["failures"])
    print(json.dumps(report, indent=2))
