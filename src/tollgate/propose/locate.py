"""Find the file and YAML path that really set a container's requests, limits and replicas (pure).

Input is a rendered :class:`~tollgate.model.manifests.Manifest` (with the ``SourceLocation`` the
renderers record), how its app is rendered, and the texts of the repo files that feed the app.

* **raw YAML**: the document of the source file with the object's kind and name.
* **Kustomize**: the base resource file (the renderer's origin), then every patch of every
  kustomization between the app directory and that base: ``patches`` (strategic merge or JSON 6902
  by content), ``patchesStrategicMerge``, ``patchesJson6902`` and the ``replicas`` field. A field a
  patch sets is located in the patch; two patches setting the same field are a *conflict*; a field
  set nowhere is added next to its siblings in the outermost patch that already has the container,
  else in the base. Inline patches cannot be edited in place and are reported.
* **Helm**: the rendered value is matched against the values files (the chart's ``values.yaml``, then
  the app's values files, Helm's precedence order). Candidate keys must end like the field
  (``...resources.requests.cpu``, ``...replicaCount``), hold a quantity equal to the rendered one and be
  reached by a ``.Values.x.y`` reference in the chart's templates (a prefix of the key). Several keys
  left (``adService.resources...`` and ``cartService.resources...`` both ``200m``) are told apart by
  the workload and container names in the key or in a sibling ``name:`` value; still several is a
  conflict, never a guess. When a template includes the whole ``resources`` map (``toYaml
  .Values.x.resources``), missing fields are added to that map.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from tollgate.errors import InputError
from tollgate.model.config import AppSource
from tollgate.model.manifests import Manifest
from tollgate.model.quantities import parse_quantity
from tollgate.model.rightsize import WorkloadContainer
from tollgate.propose.edit import FieldEdit, PathSegment, format_path, load_documents

__all__ = ["FIELDS", "FieldSite", "Location", "locate", "plan_edits"]

#: The fields a rightsizing proposal may set, with their path below a container's ``resources``.
FIELDS: dict[str, tuple[str, str]] = {
    "requests.cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"),
    "limits.cpu": ("limits", "cpu"),
    "limits.memory": ("limits", "memory"),
}
REPLICAS = "replicas"
_KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)")


@dataclass(frozen=True, slots=True)
class FieldSite:
    """A place in a file: document ``document`` (0-based) of ``file``, at ``path``."""

    file: str
    document: int
    path: tuple[PathSegment, ...]

    @property
    def display(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.file}:{self.display}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where each field of one container is set.

    ``sites`` maps a field (``requests.cpu`` ... ``replicas``) to where it is set now. ``anchor`` is the
    ``resources`` mapping (or the container) new fields may be added under; ``spec`` the workload's
    spec for a missing ``replicas``. ``conflicts`` name fields set in two places; ``reason`` says why
    nothing could be located at all.
    """

    target: WorkloadContainer
    sites: Mapping[str, FieldSite] = field(default_factory=dict)
    anchor: FieldSite | None = None
    spec: FieldSite | None = None
    conflicts: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def file(self) -> str | None:
        """The file most edits go to (the first located resource field, else the anchor)."""
        for name in FIELDS:
            if name in self.sites:
                return self.sites[name].file
        return self.anchor.file if self.anchor else None

    @property
    def path(self) -> str | None:
        """Display path of the container's resources in :attr:`file`."""
        for name in FIELDS:
            if name in self.sites:
                site = self.sites[name]
                return format_path(site.path[:-2])
        return self.anchor.display if self.anchor else None


def plan_edits(location: Location, values: Mapping[str, str | int]) -> tuple[dict[str, list[FieldEdit]], list[str]]:
    """File edits that set ``values`` (field -> formatted value); also the fields that cannot be placed."""
    edits: dict[str, list[FieldEdit]] = {}
    problems: list[str] = []
    conflicted = {c.split(":", 1)[0] for c in location.conflicts}
    for name, value in values.items():
        if name in conflicted:
            problems.append(f"{name}: set in more than one place")
            continue
        site = location.sites.get(name)
        if site is None and name == REPLICAS and location.spec is not None:
            site = FieldSite(location.spec.file, location.spec.document, (*location.spec.path, "replicas"))
        elif site is None and name in FIELDS and location.anchor is not None:
            anchor = location.anchor
            tail: tuple[str, ...] = FIELDS[name] if anchor.path[-1:] == ("resources",) else ("resources",
                                                                                           *FIELDS[name])
            site = FieldSite(anchor.file, anchor.document, (*anchor.path, *tail))
        if site is None:
            problems.append(f"{name}: not set anywhere tollgate can edit")
            continue
        edits.setdefault(site.file, []).append(FieldEdit(site.document, site.path, value))
    return edits, problems


# ------------------------------------------------------------------------------------------ entry


def locate(
    target: WorkloadContainer,
    manifest: Manifest,
    source: AppSource,
    files: Mapping[str, str],
    *,
    app_path: str = "",
    values_files: Sequence[str] = (),
) -> Location:
    """Where ``target``'s resources are set. Never raises for an unsupported layout: ``reason`` says why.

    ``files`` maps repo-relative paths to text; it must hold the manifest's source file, and for
    Kustomize every kustomization and patch of the app, for Helm the chart's ``values.yaml``, its
    templates and ``values_files``.
    """
    try:
        if source is AppSource.RAW:
            return _locate_raw(target, manifest, files)
        if source is AppSource.KUSTOMIZE:
            return _locate_kustomize(target, manifest, files, app_path)
        if source is AppSource.HELM:
            return _locate_helm(target, manifest, files, app_path, values_files)
    except InputError as exc:
        return Location(target, reason=f"cannot read the source: {exc}")
    return Location(target, reason=f"{source.value} apps are not Kubernetes manifests")


# ------------------------------------------------------------------------------------------ shared


def _pod_spec_path(kind: str) -> tuple[str, ...] | None:
    if kind == "Pod":
        return ("spec",)
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "Rollout"}:
        return ("spec", "template", "spec")
    return None


def _get(node: Any, path: Sequence[PathSegment]) -> Any:
    for seg in path:
        if isinstance(seg, str) and isinstance(node, Mapping):
            node = node.get(seg)
        elif isinstance(seg, int) and isinstance(node, list) and 0 <= seg < len(node):
            node = node[seg]
        else:
            return None
    return node


def _container_path(doc: Any, kind: str, container: str) -> tuple[PathSegment, ...] | None:
    base = _pod_spec_path(kind)
    if base is None:
        return None
    for list_name in ("containers", "initContainers"):
        items = _get(doc, (*base, list_name))
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and item.get("name") == container:
                    return (*base, list_name, i)
    return None


def _doc_name(doc: Any) -> str:
    name = _get(doc, ("metadata", "name"))
    return name if isinstance(name, str) else ""


def _find_doc(docs: Sequence[Any], kind: str, rendered_name: str) -> int | None:
    """The document of ``kind`` that produced ``rendered_name`` (exact name, else longest contained name)."""
    best: tuple[int, int] | None = None
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping) or doc.get("kind") != kind:
            continue
        name = _doc_name(doc)
        if name == rendered_name:
            return i
        if name and name in rendered_name and (best is None or len(name) > best[0]):
            best = (len(name), i)
    return best[1] if best else None


def _resource_sites(doc: Any, file: str, index: int, cpath: tuple[PathSegment, ...]) -> dict[str, FieldSite]:
    sites: dict[str, FieldSite] = {}
    for name, (group, res) in FIELDS.items():
        path = (*cpath, "resources", group, res)
        if _get(doc, path) is not None:
            sites[name] = FieldSite(file, index, path)
    return sites


def _docs(files: Mapping[str, str], file: str) -> list[Any]:
    if file not in files:
        raise InputError(f"{file}: not among the files given to the locator")
    return load_documents(files[file], file)


# ------------------------------------------------------------------------------------------ raw


def _locate_raw(target: WorkloadContainer, manifest: Manifest, files: Mapping[str, str]) -> Location:
    file = manifest.source.file
    docs = _docs(files, file)
    index = _find_doc(docs, manifest.kind, manifest.name)
    if index is None:
        return Location(target, reason=f"{file}: no {manifest.kind} named {manifest.name}")
    doc = docs[index]
    cpath = _container_path(doc, manifest.kind, target.container)
    if cpath is None:
        return Location(target, reason=f"{file}: {manifest.kind}/{manifest.name} has no container {target.container}")
    sites = _resource_sites(doc, file, index, cpath)
    if _get(doc, ("spec", "replicas")) is not None:
        sites[REPLICAS] = FieldSite(file, index, ("spec", "replicas"))
    return Location(target, sites, anchor=FieldSite(file, index, cpath), spec=FieldSite(file, index, ("spec",)))


# ------------------------------------------------------------------------------------------ kustomize


def _kfile(files: Mapping[str, str], directory: str) -> str | None:
    for name in _KUSTOMIZATION_FILES:
        path = posixpath.join(directory, name) if directory else name
        if path in files:
            return path
    return None


def _rel(directory: str, ref: str) -> str:
    joined = posixpath.normpath(posixpath.join(directory, ref)) if directory else posixpath.normpath(ref)
    return "" if joined == "." else joined


def _chain(files: Mapping[str, str], directory: str, target_file: str, seen: set[str]) -> list[tuple[str, Any]] | None:
    """Kustomizations from ``directory`` down to the one that lists ``target_file`` (outermost first)."""
    if directory in seen:
        return None
    seen.add(directory)
    kfile = _kfile(files, directory)
    if kfile is None:
        return None
    docs = load_documents(files[kfile], kfile)
    data = docs[0] if docs and isinstance(docs[0], Mapping) else {}
    refs: list[str] = []
    for key in ("resources", "bases", "components"):
        items = data.get(key)
        if isinstance(items, list):
            refs.extend(_rel(directory, r) for r in items if isinstance(r, str) and "://" not in r)
    if target_file in refs:
        return [(kfile, data)]
    for ref in refs:
        below = _chain(files, ref, target_file, seen)
        if below is not None:
            return [(kfile, data), *below]
    return None


def _selector_matches(selector: object, labels: Mapping[str, Any]) -> bool:
    if not isinstance(selector, str) or not selector.strip():
        return True
    for term in selector.split(","):
        key, sep, value = term.partition("=")
        if not sep or str(labels.get(key.strip().rstrip("!"))) != value.strip().lstrip("="):
            return False
    return True


def _target_matches(target: object, kind: str, name: str, labels: Mapping[str, Any]) -> bool:
    if not isinstance(target, Mapping):
        return False
    if target.get("kind") not in (None, kind):
        return False
    pattern = target.get("name")
    if isinstance(pattern, str):
        try:
            if not re.fullmatch(pattern, name):
                return False
        except re.error:
            if pattern != name:
                return False
    return _selector_matches(target.get("labelSelector"), labels)


@dataclass
class _Found:
    sites: dict[str, list[FieldSite]] = field(default_factory=dict)
    anchor: FieldSite | None = None
    inline: list[str] = field(default_factory=list)

    def add(self, name: str, site: FieldSite) -> None:
        self.sites.setdefault(name, []).append(site)


def _pointer(text: object) -> tuple[str, ...] | None:
    if not isinstance(text, str) or not text.startswith("/"):
        return None
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/"))


def _json6902(found: _Found, file: str, ops: Sequence[Any], kind: str, container_index: tuple[str, int] | None) -> None:
    pod = _pod_spec_path(kind) or ()
    for i, op in enumerate(ops):
        if not isinstance(op, Mapping) or op.get("op") not in ("add", "replace"):
            continue
        pointer = _pointer(op.get("path"))
        if pointer is None:
            continue
        if pointer == ("spec", "replicas"):
            found.add(REPLICAS, FieldSite(file, 0, (i, "value")))
            continue
        if container_index is None:
            continue
        list_name, idx = container_index
        head = (*pod, list_name, str(idx), "resources")
        if pointer[: len(head)] != head:
            continue
        rest = pointer[len(head):]
        for name, parts in FIELDS.items():
            if tuple(parts[: len(rest)]) == rest:
                below = parts[len(rest):]
                if _get(op.get("value"), below) is not None:
                    found.add(name, FieldSite(file, 0, (i, "value", *below)))


def _strategic(found: _Found, file: str, docs: Sequence[Any], kind: str, name: str, container: str,
               target: object, labels: Mapping[str, Any]) -> None:
    for index, doc in enumerate(docs):
        if not isinstance(doc, Mapping):
            continue
        if target is not None:
            if not _target_matches(target, kind, name, labels):
                continue
        elif doc.get("kind") != kind or _doc_name(doc) != name:
            continue
        if _get(doc, ("spec", "replicas")) is not None:
            found.add(REPLICAS, FieldSite(file, index, ("spec", "replicas")))
        cpath = _container_path(doc, kind, container)
        if cpath is None:
            continue
        for field_name, site in _resource_sites(doc, file, index, cpath).items():
            found.add(field_name, site)
        if found.anchor is None:
            found.anchor = FieldSite(file, index, cpath)


def _patch_entries(kfile: str, data: Mapping[str, Any]) -> Iterator[tuple[str | None, str | None, object, str]]:
    """(file, inline text, target, style) of every patch a kustomization lists."""
    directory = posixpath.dirname(kfile)
    for entry in data.get("patchesStrategicMerge") or []:
        if isinstance(entry, str):
            if "\n" in entry:
                yield None, entry, None, "smp"
            else:
                yield _rel(directory, entry), None, None, "smp"
    for entry in data.get("patchesJson6902") or []:
        if isinstance(entry, Mapping):
            path = entry.get("path")
            yield (_rel(directory, path) if isinstance(path, str) else None, entry.get("patch"),
                   entry.get("target"), "json")
    for entry in data.get("patches") or []:
        if isinstance(entry, Mapping):
            path = entry.get("path")
            yield (_rel(directory, path) if isinstance(path, str) else None, entry.get("patch"),
                   entry.get("target"), "auto")


def _locate_kustomize(target: WorkloadContainer, manifest: Manifest, files: Mapping[str, str],
                      app_path: str) -> Location:
    base_file = manifest.source.file
    if base_file not in files or posixpath.basename(base_file) in _KUSTOMIZATION_FILES:
        return Location(target, reason=f"{manifest.kind}/{manifest.name} is generated or remote ({base_file})")
    docs = _docs(files, base_file)
    index = _find_doc(docs, manifest.kind, manifest.name)
    if index is None:
        return Location(target, reason=f"{base_file}: no {manifest.kind} that renders to {manifest.name}")
    base_doc = docs[index]
    name = _doc_name(base_doc)
    labels = _get(base_doc, ("metadata", "labels"))
    labels = labels if isinstance(labels, Mapping) else {}
    cpath = _container_path(base_doc, manifest.kind, target.container)
    if cpath is None:
        return Location(target, reason=f"{base_file}: {manifest.kind}/{name} has no container {target.container}")
    chain = _chain(files, app_path, base_file, set()) or []
    found = _Found()
    container_index = (str(cpath[-2]), int(cpath[-1]))
    for kfile, data in chain:
        for i, entry in enumerate(data.get("replicas") or []):
            if isinstance(entry, Mapping) and entry.get("name") == name:
                found.add(REPLICAS, FieldSite(kfile, 0, ("replicas", i, "count")))
        for file, inline, tgt, style in _patch_entries(kfile, data):
            if file is None:
                if isinstance(inline, str) and (tgt is None or _target_matches(tgt, manifest.kind, name, labels)) \
                        and name in inline + str(tgt) and ("resources" in inline or "replicas" in inline):
                    found.inline.append(kfile)
                continue
            if file not in files:
                continue
            pdocs = load_documents(files[file], file)
            if style != "smp" and pdocs and isinstance(pdocs[0], CommentedSeq):
                if _target_matches(tgt, manifest.kind, name, labels):
                    _json6902(found, file, pdocs[0], manifest.kind, container_index)
            elif style != "json":
                _strategic(found, file, pdocs, manifest.kind, name, target.container, tgt, labels)
    sites: dict[str, FieldSite] = {}
    conflicts: list[str] = []
    base_sites = _resource_sites(base_doc, base_file, index, cpath)
    if _get(base_doc, ("spec", "replicas")) is not None:
        base_sites[REPLICAS] = FieldSite(base_file, index, ("spec", "replicas"))
    for field_name in (*FIELDS, REPLICAS):
        patched = found.sites.get(field_name, [])
        if len(patched) > 1:
            conflicts.append(f"{field_name}: set by " + " and ".join(str(s) for s in patched))
        elif patched:
            sites[field_name] = patched[0]
        elif field_name in base_sites:
            sites[field_name] = base_sites[field_name]
    for kfile in found.inline:
        conflicts.extend(f"{f}: an inline patch in {kfile} may set it" for f in (*FIELDS, REPLICAS)
                         if f not in found.sites)
    anchor = found.anchor or FieldSite(base_file, index, cpath)
    return Location(target, sites, anchor=anchor, spec=FieldSite(base_file, index, ("spec",)),
                    conflicts=tuple(conflicts))


# ------------------------------------------------------------------------------------------ helm


def _leaves(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if isinstance(key, str):
                yield (*prefix, key), value
                yield from _leaves(value, (*prefix, key))


def _same_quantity(a: object, b: object) -> bool:
    try:
        return abs(parse_quantity(a) - parse_quantity(b)) < 1e-9 * max(1.0, abs(parse_quantity(b)))
    except InputError:
        return False


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _name_score(path: tuple[str, ...], values: Any, names: Sequence[str]) -> int:
    wanted = {_norm(n) for n in names if n}
    score = 0
    for depth in range(1, len(path) + 1):
        seg = _norm(path[depth - 1])
        if seg in wanted:
            score += 2
        elif any(w and (w in seg or seg in w) and len(seg) >= 3 for w in wanted):
            score += 1
        own = _get(values, (*path[:depth], "name"))
        if isinstance(own, str) and _norm(own) in wanted:
            score += 2
    return score


def _locate_helm(target: WorkloadContainer, manifest: Manifest, files: Mapping[str, str], app_path: str,
                 values_files: Sequence[str]) -> Location:
    chart_values = posixpath.join(app_path, "values.yaml") if app_path else "values.yaml"
    order = [f for f in (chart_values, *values_files) if f in files]
    if not order:
        return Location(target, reason=f"{app_path or '.'}: the chart has no values file")
    templates = [t for f, t in files.items() if f.startswith(posixpath.join(app_path, "templates") + "/")]
    refs = {tuple(m.group(1)[1:].split(".")) for t in templates for m in _VALUES_REF.finditer(t)}
    cpath = _container_path(manifest.body, manifest.kind, target.container)
    if cpath is None:
        return Location(target, reason=f"{manifest.kind}/{manifest.name} has no container {target.container}")
    rendered = {name: _get(manifest.body, (*cpath, "resources", *parts)) for name, parts in FIELDS.items()}
    rendered[REPLICAS] = _get(manifest.body, ("spec", "replicas"))
    names = [target.container, target.name, manifest.name]
    parsed = {f: load_documents(files[f], f) for f in order}

    def referenced(path: tuple[str, ...]) -> bool:
        return not refs or any(path[: len(r)] == r for r in refs)

    sites: dict[str, FieldSite] = {}
    conflicts: list[str] = []
    for field_name, value in rendered.items():
        if value is None:
            continue
        found: dict[tuple[str, ...], str] = {}  # key path -> last values file that sets it (Helm precedence)
        for file in order:
            docs = parsed[file]
            if not docs or not isinstance(docs[0], CommentedMap):
                continue
            for path, leaf in _leaves(docs[0]):
                if field_name == REPLICAS:
                    fits = "replica" in path[-1].lower() and isinstance(leaf, int) and leaf == value
                else:
                    fits = tuple(path[-2:]) == FIELDS[field_name] and _same_quantity(leaf, value)
                if fits and referenced(path):
                    found[path] = file
        if len(found) > 1:
            scores = {p: _name_score(p, parsed[f][0], names) for p, f in found.items()}
            top = max(scores.values())
            found = {p: f for p, f in found.items() if scores[p] == top}
        if len(found) > 1:
            conflicts.append(f"{field_name}: values keys " + " and ".join(format_path(p) for p in sorted(found))
                             + f" all give {value}")
        elif found:
            path, file = next(iter(found.items()))
            sites[field_name] = FieldSite(file, 0, path)
    anchor = _helm_anchor(sites, refs, parsed, order, names)
    if not sites and anchor is None and not conflicts:
        return Location(target, reason="no values key of the chart sets this container's resources "
                                       "(the templates may hard-code them)")
    return Location(target, sites, anchor=anchor, conflicts=tuple(conflicts))


def _helm_anchor(sites: Mapping[str, FieldSite], refs: set[tuple[str, ...]], parsed: Mapping[str, list[Any]],
                 order: Sequence[str], names: Sequence[str]) -> FieldSite | None:
    """The ``resources`` map a template includes whole, where missing fields can be added.

    With fields already located, the most specific values file among theirs (the last in Helm's order)
    gets the new ones, so an environment's file stays the place its resources are tuned.
    """
    located = [sites[name] for name in FIELDS if name in sites]
    if located:
        site = max(located, key=lambda s: order.index(s.file) if s.file in order else -1)
        resources = tuple(str(s) for s in site.path[:-2])
        return FieldSite(site.file, 0, resources) if resources in refs else None
    candidates = [r for r in refs if r and r[-1] == "resources"]
    best: tuple[int, FieldSite] | None = None
    for ref in candidates:
        for file in reversed(order):
            docs = parsed[file]
            if docs and isinstance(_get(docs[0], ref), CommentedMap):
                score = _name_score(ref, docs[0], names)
                if score > 0 and (best is None or score > best[0]):
                    best = (score, FieldSite(file, 0, ref))
                break
    return best[1] if best else None
