"""Round-trip YAML edits: only the resource lines change, everything else survives byte for byte."""

from __future__ import annotations

import difflib

import pytest

from tollgate.errors import InputError, ParseError
from tollgate.propose.edit import (
    FieldEdit,
    apply_edits,
    format_cpu_quantity,
    format_memory_quantity,
    format_path,
)

CONTAINERS = ("spec", "template", "spec", "containers")

MULTI = """\
# Copyright header stays
apiVersion: v1
kind: Service
metadata:
  name: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # the web tier
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: "nginx:1.27"
          resources:
            requests:
              cpu: "100m"  # tuned in 2024
              memory: 64Mi
            limits:
              memory: '256Mi'
        - name: sidecar
          image: envoy
          resources: {}
"""


def diff(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]


def test_replaces_values_in_place_keeping_quotes_and_comments() -> None:
    after = apply_edits(MULTI, [
        FieldEdit(1, (*CONTAINERS, 0, "resources", "requests", "cpu"), "250m"),
        FieldEdit(1, (*CONTAINERS, 0, "resources", "requests", "memory"), "96Mi"),
        FieldEdit(1, (*CONTAINERS, 0, "resources", "limits", "memory"), "128Mi"),
    ], file="web.yaml")
    assert diff(MULTI, after) == [
        '-              cpu: "100m"  # tuned in 2024',
        "-              memory: 64Mi",
        '+              cpu: "250m"  # tuned in 2024',
        "+              memory: 96Mi",
        "-              memory: '256Mi'",
        "+              memory: '128Mi'",
    ]


def test_adds_missing_keys_with_sibling_indentation() -> None:
    after = apply_edits(MULTI, [
        FieldEdit(1, (*CONTAINERS, 0, "resources", "limits", "cpu"), "1"),
        FieldEdit(1, (*CONTAINERS, 1, "resources", "requests", "cpu"), "10m"),
    ], file="web.yaml")
    assert diff(MULTI, after) == [
        "+              cpu: 1",
        "-          resources: {}",
        "+          resources:",
        "+            requests:",
        "+              cpu: 10m",
    ]


def test_adds_whole_resources_block_and_replicas() -> None:
    text = "kind: Deployment\nmetadata:\n    name: a\nspec:\n    template:\n        spec:\n" \
           "            containers:\n            -   name: a\n                image: x\n"
    after = apply_edits(text, [
        FieldEdit(0, (*CONTAINERS, 0, "resources", "requests", "memory"), "1Gi"),
        FieldEdit(0, ("spec", "replicas"), 0),
    ], file="a.yaml")
    assert diff(text, after) == [
        "+                resources:",
        "+                    requests:",
        "+                        memory: 1Gi",
        "+    replicas: 0",
    ]


def test_other_documents_and_trailing_text_untouched() -> None:
    after = apply_edits(MULTI, [FieldEdit(1, ("spec", "replicas"), 1)], file="web.yaml")
    assert after == MULTI.replace("replicas: 3", "replicas: 1")


def test_json6902_list_document() -> None:
    text = "- op: replace\n  path: /spec/template/spec/containers/0/resources/requests/cpu\n  value: 500m\n"
    after = apply_edits(text, [FieldEdit(0, (0, "value"), "200m")], file="p.yaml")
    assert after == text.replace("500m", "200m")


def test_flow_mapping_with_keys_is_refused() -> None:
    text = "spec:\n  resources: {limits: {cpu: 1}}\n"
    with pytest.raises(InputError, match="flow mapping"):
        apply_edits(text, [FieldEdit(0, ("spec", "resources", "requests", "cpu"), "1")], file="f.yaml")
    # but a value inside a flow mapping is replaced in place
    assert apply_edits(text, [FieldEdit(0, ("spec", "resources", "limits", "cpu"), "2")], file="f.yaml") == \
        "spec:\n  resources: {limits: {cpu: 2}}\n"


def test_bad_yaml_names_file_and_line() -> None:
    with pytest.raises(ParseError, match=r"broken.yaml:2"):
        apply_edits("a: 1\nb: c: d\n", [FieldEdit(0, ("a",), 2)], file="broken.yaml")


def test_missing_document_is_an_input_error() -> None:
    with pytest.raises(InputError, match="document 3"):
        apply_edits(MULTI, [FieldEdit(2, ("spec",), 1)], file="web.yaml")


@pytest.mark.parametrize(("cores", "text"), [(0.25, "250m"), (0.2501, "251m"), (2.0, "2"), (1.5, "1500m"),
                                             (0.0004, "1m")])
def test_cpu_quantity(cores: float, text: str) -> None:
    assert format_cpu_quantity(cores) == text


@pytest.mark.parametrize(("num", "text"), [(512 * 2**20, "512Mi"), (2**31, "2Gi"), (100_000_000, "96Mi"),
                                           (1.5 * 2**30, "1536Mi")])
def test_memory_quantity(num: float, text: str) -> None:
    assert format_memory_quantity(num) == text


def test_quantity_rejects_non_positive() -> None:
    with pytest.raises(InputError):
        format_cpu_quantity(0)
    with pytest.raises(InputError):
        format_memory_quantity(float("nan"))


def test_format_path() -> None:
    assert format_path(("spec", "containers", 0, "resources")) == "spec.containers[0].resources"
    assert format_path((2, "value")) == "[2].value"
