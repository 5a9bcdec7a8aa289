"""Object-level difference between two desired states (pure, no I/O).

Objects are matched by :class:`ResourceKey`; when one state holds several objects with the same key
(two apps render the same Namespace, say) they are matched per app, then in render order. Bodies
are compared whole first, and only objects that differ are walked for their changed field paths:

* mapping keys join with dots (``spec.replicas``); a key that is not a plain identifier is quoted
  (``metadata.labels["helm.sh/chart"]``);
* lists of objects that carry a unique merge key are matched by it
  (``spec.template.spec.containers[name=web].resources.requests.cpu``), other lists of objects
  of equal length by index (``[0]``), and any other changed list is reported as a whole;
* an added or removed key is reported at that key, not below it.

Fields the API server or a controller writes (``status``, ``metadata.generation``,
``metadata.resourceVersion``, ``metadata.managedFields``, ...) are not changes. Labels renderers
inject (``helm.sh/chart``) are, since they do reach the cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tollgate.model.changes import ChangeKind, ResourceChange
from tollgate.model.manifests import Manifest, ResourceKey
from tollgate.model.state import DesiredState

__all__ = ["MERGE_KEYS", "NOISE", "changed_fields", "diff_states"]

#: Server-written fields ignored in Kubernetes objects: a nested mapping where ``None`` marks an ignored leaf.
NOISE: Mapping[str, Any] = {
    "status": None,
    "metadata": {
        "generation": None,
        "resourceVersion": None,
        "uid": None,
        "creationTimestamp": None,
        "managedFields": None,
        "selfLink": None,
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": None,
            "deployment.kubernetes.io/revision": None,
        },
    },
}

#: Keys that identify the items of a list of objects, tried in this order (Kubernetes merge keys).
MERGE_KEYS = ("name", "mountPath", "devicePath", "containerPort", "port", "topologyKey")

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_Missing = object()


def _join(path: str, key: object) -> str:
    text = key if isinstance(key, str) else str(key)
    if _PLAIN_KEY.match(text):
        return f"{path}.{text}" if path else text
    return f"{path}[{json.dumps(text)}]"


def _merge_key(a: Sequence[Any], b: Sequence[Any]) -> str | None:
    items = [*a, *b]
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in MERGE_KEYS:
        if all(isinstance(i.get(key), str | int) and not isinstance(i.get(key), bool) for i in items):
            if len({i[key] for i in a}) == len(a) and len({i[key] for i in b}) == len(b):
                return key
    return None


def _walk(a: Any, b: Any, path: str, noise: Mapping[str, Any] | None, out: set[str]) -> None:
    if a == b and type(a) is type(b):
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(a.keys() | b.keys(), key=str):
            sub_noise: Mapping[str, Any] | None = None
            if noise is not None and key in noise:
                if noise[key] is None:
                    continue
                sub_noise = noise[key]
            va, vb = a.get(key, _Missing), b.get(key, _Missing)
            if va is _Missing or vb is _Missing:
                if sub_noise is None or _has_signal(va if vb is _Missing else vb, sub_noise):
                    out.add(_join(path, key))
            else:
                _walk(va, vb, _join(path, key), sub_noise, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        merge = _merge_key(a, b)
        if merge is not None:
            by_a = {i[merge]: i for i in a}
            by_b = {i[merge]: i for i in b}
            for ident in sorted(by_a.keys() | by_b.keys(), key=str):
                item_path = f"{path}[{merge}={ident}]"
                if ident not in by_a or ident not in by_b:
                    out.add(item_path)
                else:
                    _walk(by_a[ident], by_b[ident], item_path, None, out)
            return
        containers = all(isinstance(i, Mapping | list) for i in (*a, *b))
        if containers and len(a) == len(b):
            for i, (va, vb) in enumerate(zip(a, b, strict=True)):
                _walk(va, vb, f"{path}[{i}]", None, out)
            return
    out.add(path or "(root)")


def _has_signal(value: Any, noise: Mapping[str, Any]) -> bool:
    """Whether an added/removed mapping holds anything besides noise."""
    if not isinstance(value, Mapping):
        return True
    for key, sub in value.items():
        if key not in noise:
            return True
        rule = noise[key]
        if rule is not None and _has_signal(sub, rule):
            return True
    return False


def changed_fields(before: Manifest, after: Manifest) -> tuple[str, ...]:
    """Sorted dotted paths where the bodies differ, ignoring server-written noise (K8s objects only)."""
    if before.body is after.body or before.body == after.body:
        return ()
    out: set[str] = set()
    noise = None if before.is_terraform and after.is_terraform else NOISE
    _walk(before.body, after.body, "", noise, out)
    return tuple(sorted(out))


def _states(state: DesiredState | Iterable[Manifest]) -> Iterable[Manifest]:
    return state.manifests if isinstance(state, DesiredState) else state


def _pairs(before: list[Manifest], after: list[Manifest]) -> list[tuple[Manifest | None, Manifest | None]]:
    if len(before) <= 1 and len(after) <= 1:
        return [(before[0] if before else None, after[0] if after else None)]
    apps = sorted({m.app for m in before} | {m.app for m in after})
    pairs: list[tuple[Manifest | None, Manifest | None]] = []
    for app in apps:
        b = [m for m in before if m.app == app]
        a = [m for m in after if m.app == app]
        for i in range(max(len(a), len(b))):
            pairs.append((b[i] if i < len(b) else None, a[i] if i < len(a) else None))
    return pairs


def diff_states(
    base: DesiredState | Iterable[Manifest], head: DesiredState | Iterable[Manifest]
) -> tuple[ResourceChange, ...]:
    """Added, modified and removed objects from ``base`` to ``head``, sorted by key then app."""
    index: dict[ResourceKey, tuple[list[Manifest], list[Manifest]]] = {}
    for m in _states(base):
        index.setdefault(m.key, ([], []))[0].append(m)
    for m in _states(head):
        index.setdefault(m.key, ([], []))[1].append(m)
    changes: list[ResourceChange] = []
    for key, (before, after) in index.items():
        for old, new in _pairs(before, after):
            if old is None and new is not None:
                changes.append(ResourceChange(key, ChangeKind.ADDED, None, new))
            elif new is None and old is not None:
                changes.append(ResourceChange(key, ChangeKind.REMOVED, old, None))
            elif old is not None and new is not None:
                fields = changed_fields(old, new)
                if fields:
                    changes.append(ResourceChange(key, ChangeKind.MODIFIED, old, new, fields))
    changes.sort(key=lambda c: (c.key, c.app, c.change.value))
    return tuple(changes)
