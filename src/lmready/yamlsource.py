"""Load YAML keeping the line of every value, so validation can say where a mistake is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lmready.text import SECRET_NAME, printable

# A document that expands past this many values is refused (aliases can nest exponentially).
MAX_VALUES = 200_000
# Deeper than this is no inventory (and would exhaust Python's stack further down).
MAX_DEPTH = 32

Loc = tuple[str | int, ...]


class YamlError(Exception):
    """One sentence per problem, each starting with ``file:line:``."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Located:
    """A parsed document plus the line (1-based) where each path starts."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """Line of ``loc``, or of its nearest parent that has one."""
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    def where(self, loc: Loc) -> str:
        return f"{self.path}:{self.line(loc)}"

    def line_of(self, node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}"


def dotted(loc: Loc) -> str:
    """('hosts', 0, 'name') -> 'hosts[0].name'"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load(path: Path, display: Path | None = None) -> Located:
    shown = display or path
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise YamlError([f"{shown}: file not found; check the path."]) from None
    except IsADirectoryError:
        raise YamlError([f"{shown}: is a directory, expected a YAML file."]) from None
    except UnicodeDecodeError as exc:
        raise YamlError([f"{shown}: not UTF-8 text (byte {exc.start}); save the file as UTF-8."]) from None
    except OSError as exc:
        raise YamlError([f"{shown}: cannot be read ({exc.strerror}); check permissions."]) from None
    return loads(text, shown)


def loads(text: str, path: Path) -> Located:
    try:
        loader = yaml.SafeLoader(text)  # checks every character of the text at once
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlError(
            [
                f"{path}:{line}: character U+{exc.character:04X} (a control character or a "
                "noncharacter) is not allowed in YAML; remove it."
            ]
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = printable(exc.problem or "invalid YAML")
        raise YamlError(
            [f"{path}:{line}: YAML syntax error: {what}; fix the indentation or quoting there."]
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError([f"{path}: YAML error: {printable(str(exc))}; fix the file."]) from None
    except RecursionError:
        raise YamlError([f"{path}: the document is nested too deeply to read; flatten it."]) from None
    finally:
        loader.dispose()
    located = Located(path=path, data=None)
    if node is None:
        return located
    try:
        located.data = _convert(node, (), located, loader, [MAX_VALUES], set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = printable(str(exc.problem or exc))
        raise YamlError([f"{path}:{line}: YAML error: {what}; fix the value there."]) from None
    return located


def _convert(node, loc: Loc, located: Located, loader, budget: list[int], active: set[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlError(
            [
                f"{located.path}: the document expands to more than {MAX_VALUES} values (aliases?); simplify it."
            ]
        )
    located.lines.setdefault(loc, node.start_mark.line + 1)
    if len(loc) > MAX_DEPTH:
        raise YamlError(
            [f"{located.where(loc)}: nested more than {MAX_DEPTH} levels deep; an inventory needs a few."]
        )
    if id(node) in active:
        raise YamlError([f"{located.where(loc)}: recursive YAML alias; remove the self-reference."])
    if isinstance(node, yaml.ScalarNode):
        value = _scalar(node, loc, located, loader)
        # Text is made printable once, here: waiver justifications, names and paths are shown
        # on the terminal and in every report.
        return printable(value, newlines=True) if isinstance(value, str) else value
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [
                _convert(child, (*loc, i), located, loader, budget, active)
                for i, child in enumerate(node.value)
            ]
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise YamlError(
                        [
                            f"{located.path}:{key_node.start_mark.line + 1}: a key must be plain text, not a list or mapping."
                        ]
                    )
                key = printable(str(_scalar(key_node, loc, located, loader)))
                child = (*loc, key)
                if key in out:
                    raise YamlError(
                        [
                            f"{located.path}:{key_node.start_mark.line + 1}: duplicate key '{key}'; keep only one."
                        ]
                    )
                located.lines[child] = key_node.start_mark.line + 1
                out[key] = _convert(value_node, child, located, loader, budget, active)
            return out
    finally:
        active.discard(id(node))
    raise YamlError([f"{located.where(loc)}: unsupported YAML node; use plain mappings, lists and values."])


def _scalar(node, loc: Loc, located: Located, loader) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        # The value is quoted unless it may be a secret, and never at length.
        shown = "the value" if may_be_secret(loc) else repr(printable(node.value[:40]))
        if not may_be_secret(loc) and len(node.value) > 40:
            shown = shown[:-1] + "...'"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "integer string conversion" in why:  # Python refuses ints of more than 4,300 digits
            why = "the number is too long"
        raise YamlError(
            [
                f"{located.line_of(node)}: {dotted(loc) or 'top level'}: cannot read {shown} "
                f"({printable(why)[:100]}); fix it (dates are YYYY-MM-DD) or quote it."
            ]
        ) from None


def may_be_secret(loc: Loc) -> bool:
    """Values under credentials:, or under a key named like a secret, are never quoted back."""
    return any(isinstance(part, str) and (part == "credentials" or SECRET_NAME.search(part)) for part in loc)
