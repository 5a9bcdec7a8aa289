"""Multi-document YAML parsing with line numbers (libyaml via PyYAML's CSafeLoader).

The whole stream goes through one loader, so a syntax error reports its real line in the file, and
every document keeps the 1-based line where its content starts (comments and ``---`` skipped).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tollgate.errors import ParseError

__all__ = ["YamlDocument", "clear_parse_cache", "decode_text", "iter_documents", "parse_documents"]

try:  # libyaml bindings; the pure-Python loader is the (slower) fallback
    _Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed document (or one item of a ``kind: List``) and where it starts."""

    data: Any
    line: int  # 1-based
    index: int  # position of the document in the file, 0-based (List items share their list's)


def decode_text(content: bytes | str, file: str) -> str:
    """UTF-8 text of a file (a BOM is dropped); anything else is a ParseError naming the file."""
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ParseError(file, f"not UTF-8 text ({exc.reason})", line=line) from exc


def _is_list_kind(node: yaml.Node) -> yaml.SequenceNode | None:
    """The ``items`` node of a ``kind: List`` / ``*List`` mapping node, else None."""
    if not isinstance(node, yaml.MappingNode):
        return None
    kind: str | None = None
    items: yaml.Node | None = None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            if key.value == "kind" and isinstance(value, yaml.ScalarNode):
                kind = str(value.value)
            elif key.value == "items":
                items = value
    if kind is not None and kind.endswith("List") and isinstance(items, yaml.SequenceNode):
        return items
    return None


def iter_documents(content: bytes | str, file: str, *, unwrap_lists: bool = True) -> Iterator[YamlDocument]:
    """Yield the non-empty documents of a YAML stream.

    With ``unwrap_lists`` a ``kind: List`` (or ``FooList``) document yields each of its items with
    the item's own line. Broken YAML raises ParseError(file, message, line=real line).
    """
    text = decode_text(content, file)
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            data = loader.construct_document(node)
            if data is None:
                index += 1
                continue
            items = _is_list_kind(node) if unwrap_lists else None
            if items is not None and isinstance(data, Mapping):
                values = data.get("items") or []
                for item_node, item in zip(items.value, values, strict=False):
                    if item is not None:
                        yield YamlDocument(item, item_node.start_mark.line + 1, index)
            else:
                yield YamlDocument(data, node.start_mark.line + 1, index)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ParseError(file, message, line=mark.line + 1 if mark is not None else None) from exc
    except yaml.YAMLError as exc:
        raise ParseError(file, f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()


def parse_documents(content: bytes | str, file: str, *, unwrap_lists: bool = True) -> list[YamlDocument]:
    """All non-empty documents of a YAML stream, see :func:`iter_documents`.

    Results are memoised by (file, content): a file unchanged between the two refs of a review is
    parsed once. The parsed data is shared between callers and must be treated as read-only.
    """
    return list(_parse_cached(content, file, unwrap_lists))


def clear_parse_cache() -> None:
    """Forget memoised parses (benchmarks use it to time a cold process)."""
    _parse_cached.cache_clear()


@functools.lru_cache(maxsize=16384)
def _parse_cached(content: bytes | str, file: str, unwrap_lists: bool) -> tuple[YamlDocument, ...]:
    return tuple(iter_documents(content, file, unwrap_lists=unwrap_lists))
