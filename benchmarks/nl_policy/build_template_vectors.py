"""Rebuild the template vectors shipped in the package: ``python benchmarks/nl_policy/build_template_vectors.py``.

Encodes every template description and utterance with the bundled MiniLM encoder and writes
``src/tollgate/policy/nl/template_vectors.npz`` keyed by model files + encoder version + texts. Run it
after editing ``templates/catalogue.yaml``; ``tests/unit/policy/test_nl_shipped_vectors.py`` fails
until you do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tollgate.policy.nl.embed import default_encoder
from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.parse import index_key, index_texts
from tollgate.policy.nl.vectors import SHIPPED, dump

TARGET = Path(__file__).resolve().parents[2] / "src" / "tollgate" / "policy" / "nl" / SHIPPED


def build(target: Path = TARGET) -> str:
    """Write the shipped vectors to ``target``; returns their key."""
    encoder = default_encoder()
    texts, _ = index_texts(list(load_library().values()))
    key = index_key(encoder.fingerprint(), texts)
    target.write_bytes(dump(key, encoder.encode(texts)))
    return key


if __name__ == "__main__":
    start = time.perf_counter()
    built = build(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET)
    sys.stderr.write(f"{TARGET.name}: key {built[:16]}... in {time.perf_counter() - start:.1f} s\n")
