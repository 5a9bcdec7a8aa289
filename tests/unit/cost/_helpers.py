"""Helpers for cost tests: real corpus manifests turned into model values."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hcl2
import yaml

from tollgate.cost.terraform import hcl_value
from tollgate.model.manifests import TERRAFORM_API_VERSION, Manifest, SourceLocation

DATA = (Path(__file__).resolve().parents[3] / "../shared/data").resolve()
CORPUS = DATA / "corpus"


def manifest(body: Mapping[str, Any], file: str = "test.yaml", line: int | None = 1) -> Manifest:
    meta = body.get("metadata") or {}
    return Manifest(
        api_version=str(body.get("apiVersion", "v1")),
        kind=str(body["kind"]),
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "default")),
        body=body,
        source=SourceLocation(file, line),
    )


def corpus_manifests(relative: str) -> list[Manifest]:
    """Every Kubernetes object of one corpus YAML file."""
    path = CORPUS / "k8s" / relative
    loaded = yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    docs = [d for d in loaded if isinstance(d, dict) and "kind" in d]
    return [manifest(d, file=relative) for d in docs]


def corpus_object(relative: str, kind: str, name: str | None = None) -> Manifest:
    found = [m for m in corpus_manifests(relative) if m.kind == kind and (name is None or m.name == name)]
    assert len(found) == 1, f"{relative}: expected one {kind} {name}, got {len(found)}"
    return found[0]


def terraform_manifests(text: str, file: str = "main.tf", namespace: str = "") -> list[Manifest]:
    """Resources and module calls of a .tf text, as the renderer hands them over (python-hcl2 bodies)."""
    parsed = hcl2.loads(text)
    out: list[Manifest] = []
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                out.append(Manifest(TERRAFORM_API_VERSION, hcl_value(rtype), hcl_value(name), namespace, body,
                                    SourceLocation(file)))
    for block in parsed.get("module", []):
        for name, body in block.items():
            out.append(Manifest(TERRAFORM_API_VERSION, "module", hcl_value(name), namespace, body,
                                SourceLocation(file)))
    return out


def corpus_terraform(relative: str) -> list[Manifest]:
    path = CORPUS / "terraform" / relative
    return terraform_manifests(path.read_text(encoding="utf-8"), file=relative)
