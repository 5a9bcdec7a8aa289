"""Minimal, format-preserving edits of YAML files (round trip through ruamel.yaml).

ruamel.yaml parses the file and tells where every key and scalar sits (line and column); the edit
then rewrites only those lines of the original text. Everything else -- comments, key order,
quoting, indentation, other documents of a multi-document file -- stays byte for byte:

* an existing scalar is replaced in place, keeping its quote style (``cpu: "100m"`` -> ``cpu: "250m"``);
* a missing key is added as new lines after the last line of its parent mapping, indented like its
  siblings (missing parents are created too, e.g. ``resources.limits.memory``);
* an empty flow mapping (``resources: {}``) is turned into a block mapping.

Values are written the Kubernetes way: CPU in millicores or whole cores (``"250m"``, ``"2"``) and
memory in binary units (``"512Mi"``), always rounded up so a recommendation is never undercut.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from tollgate.errors import InputError, ParseError

__all__ = [
    "FieldEdit",
    "PathSegment",
    "apply_edits",
    "format_cpu_quantity",
    "format_memory_quantity",
    "format_path",
    "load_documents",
]

PathSegment = str | int

_MI = 2**20
_GI = 2**30


@dataclass(frozen=True, slots=True)
class FieldEdit:
    """Set ``path`` (keys and list indexes) of document ``document`` (0-based) to ``value``."""

    document: int
    path: tuple[PathSegment, ...]
    value: str | int


def format_path(path: Sequence[PathSegment]) -> str:
    """Dotted display form of a path: ``spec.template.spec.containers[0].resources.requests.cpu``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += ("." if out else "") + seg
    return out


def format_cpu_quantity(cores: float) -> str:
    """Cores as a Kubernetes quantity, rounded up to a millicore (``0.2501`` -> ``"251m"``, ``2.0`` -> ``"2"``)."""
    if cores <= 0 or not math.isfinite(cores):
        raise InputError(f"cpu: {cores!r} is not a positive number of cores")
    millis = math.ceil(round(cores * 1000, 6))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory_quantity(num_bytes: float) -> str:
    """Bytes as a Kubernetes quantity, rounded up to a MiB (``"512Mi"``; ``"2Gi"`` when whole)."""
    if num_bytes <= 0 or not math.isfinite(num_bytes):
        raise InputError(f"memory: {num_bytes!r} is not a positive number of bytes")
    mib = math.ceil(round(num_bytes / _MI, 6))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def load_documents(text: str, file: str) -> list[Any]:
    """Every document of a YAML stream as ruamel round-trip nodes (``None`` for an empty document)."""
    try:
        return list(_yaml().load_all(io.StringIO(text)))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ParseError(file, f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line=line) from exc


def apply_edits(text: str, edits: Sequence[FieldEdit], *, file: str) -> str:
    """``text`` with every edit applied, touching only the lines that carry the edited values."""
    for edit in edits:
        text = _apply_one(text, edit, file)
    return text


# ------------------------------------------------------------------------------------------ internals


def _apply_one(text: str, edit: FieldEdit, file: str) -> str:
    docs = load_documents(text, file)
    where = f"{file}: document {edit.document + 1}, {format_path(edit.path)}"
    if not edit.path:
        raise InputError(f"{where}: empty path")
    if edit.document >= len(docs) or not isinstance(docs[edit.document], CommentedMap | CommentedSeq):
        raise InputError(f"{where}: no such document (the file has {len(docs)})")
    lines = text.splitlines(keepends=True)
    node: Any = docs[edit.document]
    parents: list[tuple[Any, PathSegment]] = []
    for depth, seg in enumerate(edit.path[:-1]):
        child = _child(node, seg)
        if child is None:
            return _insert(lines, docs[edit.document], parents, node, edit.path[depth:], edit.value, where)
        if not isinstance(child, CommentedMap | CommentedSeq):
            raise InputError(f"{where}: {format_path(edit.path[: depth + 1])} is a scalar, not a mapping")
        parents.append((node, seg))
        node = child
    last = edit.path[-1]
    if _child(node, last) is None:
        return _insert(lines, docs[edit.document], parents, node, (last,), edit.value, where)
    if isinstance(node[last], CommentedMap | CommentedSeq):
        raise InputError(f"{where}: holds a mapping or list, not a value")
    line_no, col = node.lc.value(last) if isinstance(node, CommentedMap) else node.lc.item(last)
    lines[line_no] = _replace_scalar(lines[line_no], col, str(edit.value), where)
    return "".join(lines)


def _child(node: Any, seg: PathSegment) -> Any:
    if isinstance(node, CommentedMap) and isinstance(seg, str):
        return node.get(seg)
    if isinstance(node, CommentedSeq) and isinstance(seg, int):
        return node[seg] if 0 <= seg < len(node) else None
    raise InputError(f"path segment {seg!r} does not fit a {type(node).__name__}")


def _replace_scalar(line: str, col: int, value: str, where: str) -> str:
    start = col
    quote = line[start] if start < len(line) else ""
    if quote in ("'", '"'):
        end = line.find(quote, start + 1)
        if end < 0:
            raise InputError(f"{where}: a multi-line quoted value cannot be edited in place")
        return line[:start] + quote + value + quote + line[end + 1:]
    end = start
    body = line.rstrip("\r\n")
    while end < len(body) and body[end] not in ",]}" and not body.startswith(" #", end):
        end += 1
    while end > start and body[end - 1] in " \t":
        end -= 1
    if end == start or body[start] in "|>&*!":
        raise InputError(f"{where}: the value is not a plain one-line scalar, edit it by hand")
    return line[:start] + value + line[end:]


def _indent_step(doc: Any) -> int:
    """How far the document indents a nested mapping relative to its key (default 2)."""
    if not isinstance(doc, CommentedMap):
        return 2
    for key in doc:
        value = doc[key]
        if isinstance(value, CommentedMap) and value and not value.fa.flow_style():
            first = next(iter(value))
            step = int(value.lc.key(first)[1]) - int(doc.lc.key(key)[1])
            if step > 0:
                return step
    return 2


def _block_end(lines: list[str], line_no: int, col: int) -> int:
    """Last line belonging to the key at (line_no, col): following lines indented deeper (or its list)."""
    end = line_no
    for j in range(line_no + 1, len(lines)):
        stripped = lines[j].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "---" or stripped.startswith("--- ") or stripped == "...":
            break
        indent = len(lines[j]) - len(lines[j].lstrip(" "))
        if indent > col or (indent == col and stripped.startswith("- ")):
            end = j
        else:
            break
    return end


def _new_lines(keys: Sequence[PathSegment], value: str, indent: int, step: int, newline: str) -> list[str]:
    out: list[str] = []
    for i, key in enumerate(keys):
        if isinstance(key, int):
            raise InputError(f"cannot create list item [{key}]")
        pad = " " * (indent + i * step)
        out.append(f"{pad}{key}: {value}{newline}" if i == len(keys) - 1 else f"{pad}{key}:{newline}")
    return out


def _insert(lines: list[str], doc: Any, parents: list[tuple[Any, PathSegment]], node: Any,
            missing: Sequence[PathSegment], value: str | int, where: str) -> str:
    """Add ``missing`` keys (the last one set to ``value``) below mapping ``node``."""
    if not isinstance(node, CommentedMap):
        raise InputError(f"{where}: cannot add a key to a list")
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    step = _indent_step(doc)
    if len(node) == 0:
        if not parents:
            raise InputError(f"{where}: the document is empty")
        gparent, gkey = parents[-1]
        if not isinstance(gparent, CommentedMap) or not isinstance(gkey, str):
            raise InputError(f"{where}: cannot add a key to an empty mapping inside a list")
        key_line, key_col = gparent.lc.key(gkey)
        value_line, value_col = gparent.lc.value(gkey)
        text = lines[value_line]
        if value_line != key_line or not text[value_col:].lstrip().startswith("{}"):
            raise InputError(f"{where}: cannot add a key to this empty mapping, edit it by hand")
        close = text.index("{}", value_col) + 2
        rest = text[close:].rstrip("\r\n")
        lines[value_line] = text[:value_col].rstrip(" ") + rest + newline
        new = _new_lines(missing, str(value), int(key_col) + step, step, newline)
        lines[value_line + 1:value_line + 1] = new
        return "".join(lines)
    if node.fa.flow_style():
        raise InputError(f"{where}: the parent is a flow mapping ({{...}}), edit it by hand")
    first = next(iter(node))
    indent = int(node.lc.key(first)[1])
    last = list(node)[-1]
    last_line, last_col = node.lc.key(last)
    end = _block_end(lines, int(last_line), int(last_col))
    if end == len(lines) - 1 and not lines[end].endswith(("\n", "\r\n")):
        lines[end] += newline
    lines[end + 1:end + 1] = _new_lines(missing, str(value), indent, step, newline)
    return "".join(lines)
