"""Template vectors shipped in the package: used only when their key matches, never stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_nl_vector_cache import HashEncoder

from tollgate.policy.nl.embed import default_encoder
from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.parse import Parser, index_key, index_texts
from tollgate.policy.nl.vectors import ShippedVectors, dump, read
from tollgate.sources.policy_files import EmbeddingCache


def test_shipped_vectors_match_the_current_model_and_templates() -> None:
    """Fails when templates (or the model / encoder version) change without rebuilding the vectors:
    run ``python benchmarks/nl_policy/build_template_vectors.py``."""
    encoder = default_encoder()
    texts, _ = index_texts(list(load_library().values()))
    shipped = ShippedVectors()
    assert shipped.shipped_key() == index_key(encoder.fingerprint(), texts), "stale template_vectors.npz"
    vectors = shipped.load(index_key(encoder.fingerprint(), texts))
    assert vectors is not None and vectors.shape == (len(texts), 384)
    rows = [0, len(texts) // 2, len(texts) - 1]
    fresh = encoder.encode([texts[i] for i in rows])
    assert np.allclose(vectors[rows], fresh, atol=1e-5)


def test_the_default_parser_starts_from_the_shipped_vectors(tmp_path: Path) -> None:
    parser = Parser(store=EmbeddingCache(tmp_path))
    assert parser._index.source == "shipped"
    assert list(tmp_path.iterdir()) == []  # nothing recomputed, nothing written to the user cache
    assert parser.parse("every Deployment must carry a team label").template == "k8s.required_label"


def test_vectors_for_another_key_are_not_used_and_the_parser_recomputes(tmp_path: Path) -> None:
    encoder = HashEncoder()
    texts, _ = index_texts(list(load_library().values()))
    stale = tmp_path / "stale.npz"
    stale.write_bytes(dump(index_key(encoder.fingerprint(), [*texts[:-1], "an edited utterance"]),
                           np.ones((len(texts), 64), dtype=np.float32)))
    cache = EmbeddingCache(tmp_path / "cache")
    parser = Parser(encoder, store=cache, shipped=ShippedVectors(stale))
    assert parser._index.source == "computed" and encoder.calls == [len(texts)]
    assert not np.array_equal(parser._index.vectors, np.ones((len(texts), 64), dtype=np.float32))
    again = HashEncoder()
    assert Parser(again, store=cache, shipped=ShippedVectors(stale))._index.source == "cache" and again.calls == []

    current = tmp_path / "current.npz"
    current.write_bytes(dump(index_key(encoder.fingerprint(), texts), parser._index.vectors))
    fresh = HashEncoder()
    assert Parser(fresh, shipped=ShippedVectors(current))._index.source == "shipped" and fresh.calls == []


def test_damaged_shipped_files_read_as_missing(tmp_path: Path) -> None:
    data = dump("k", np.eye(3, dtype=np.float32))
    key_vectors = read(data)
    assert key_vectors is not None and key_vectors[0] == "k"
    assert read(data[:50]) is None
    assert ShippedVectors(tmp_path / "absent.npz").load("k") is None
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert ShippedVectors(bad).load("k") is None
