"""YAML stream parsing: real start lines, List unwrapping, error lines, speed on a big file."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tollgate.errors import ParseError
from tollgate.sources.yamldocs import parse_documents

CORPUS = (Path(__file__).resolve().parents[3] / "../shared/data/corpus").resolve()


def _expected_starts(text: str) -> list[int]:
    """First content line of each '---'-separated chunk, found without a YAML parser."""
    starts: list[int] = []
    current: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---"):
            if current is not None:
                starts.append(current)
            current = None
            continue
        stripped = line.strip()
        if current is None and stripped and not stripped.startswith("#"):
            current = number
    if current is not None:
        starts.append(current)
    return starts


def test_start_lines_match_the_file_for_microservices_demo_release() -> None:
    path = CORPUS / "k8s/microservices-demo/release/kubernetes-manifests.yaml"
    text = path.read_text()
    docs = parse_documents(path.read_bytes(), "release/kubernetes-manifests.yaml")

    assert [d.line for d in docs] == _expected_starts(text)
    lines = text.splitlines()
    for doc in docs:
        # the line a document starts on is one of its own top-level keys
        first_key = lines[doc.line - 1].split(":", 1)[0]
        assert first_key in doc.data
    kinds = {d.data["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount"} <= kinds


def test_argo_cd_install_parses_fast_and_completely() -> None:
    path = CORPUS / "k8s/argo-cd/manifests/install.yaml"
    content = path.read_bytes()
    top_level_kinds = len(re.findall(rb"^kind: ", content, re.MULTILINE))

    started = time.perf_counter()
    docs = parse_documents(content, "install.yaml")
    elapsed = time.perf_counter() - started

    assert len(content) > 1_500_000
    assert len(docs) == top_level_kinds
    assert elapsed < 3.0, f"{elapsed:.2f} s for {len(content)} bytes"
    crds = [d for d in docs if d.data["kind"] == "CustomResourceDefinition"]
    assert {d.data["metadata"]["name"] for d in crds} >= {"applications.argoproj.io"}


def test_broken_yaml_reports_file_and_real_line() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\n---\n# comment\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: [a, b\n  x: 1\n"
    )
    with pytest.raises(ParseError) as info:
        parse_documents(text, "deploy/svc.yaml")
    assert info.value.file == "deploy/svc.yaml"
    assert info.value.line == 9
    assert str(info.value).startswith("deploy/svc.yaml:9:")


def test_tab_indentation_error_line() -> None:
    text = "a: 1\nb:\n\t- c\n"
    with pytest.raises(ParseError) as info:
        parse_documents(text, "x.yaml")
    assert info.value.line == 3


def test_list_kind_is_unwrapped_with_item_lines_and_empty_documents_dropped() -> None:
    text = (
        "---\n"
        "---\n"
        "# nothing above\n"
        "apiVersion: v1\n"
        "kind: List\n"
        "items:\n"
        "  - apiVersion: v1\n"
        "    kind: ConfigMap\n"
        "    metadata: {name: one}\n"
        "  - apiVersion: v1\n"
        "    kind: Secret\n"
        "    metadata: {name: two}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata: {name: ns}\n"
    )
    docs = parse_documents(text, "list.yaml")
    assert [(d.data["kind"], d.line) for d in docs] == [("ConfigMap", 7), ("Secret", 10), ("Namespace", 14)]
    kept = parse_documents(text, "list.yaml", unwrap_lists=False)
    assert [d.data["kind"] for d in kept] == ["List", "Namespace"]


def test_non_utf8_bytes_name_the_line() -> None:
    with pytest.raises(ParseError) as info:
        parse_documents(b"a: 1\nb: \xff\xfe\n", "bin.yaml")
    assert info.value.line == 2
