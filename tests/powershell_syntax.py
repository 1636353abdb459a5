"""Windows PowerShell 5.1's verdict on a script's syntax, from the lab interpreter's parser:
5.1's grammar, so code only PowerShell 7 parses (&&, ??, ternaries...) is an error here; and the
commands a script calls, read from its syntax tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lmready.lab.powershell import ast
from lmready.lab.powershell.parser import ParseError, parse


def syntax_errors(script: str) -> list[str]:
    try:
        parse(script)
    except ParseError as exc:
        return [f"line {exc.line}: {exc}"]
    return []


def nodes(script: str) -> Iterator[Any]:
    """Every node of the script's syntax tree, depth first."""
    stack: list[Any] = [parse(script)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Node):
            yield node
            stack.extend(reversed([getattr(node, name) for name in node.__slots__]))
        elif isinstance(node, tuple):
            stack.extend(reversed(node))


def commands(script: str) -> list[tuple[str, list[str]]]:
    """(command name, parameter names as written) of every command the script calls by name,
    minus the script's own functions."""
    found: list[tuple[str, list[str]]] = []
    functions: set[str] = set()
    for node in nodes(script):
        if isinstance(node, ast.FunctionDef):
            functions.add(node.name.lower())
        if isinstance(node, ast.Command) and isinstance(node.name, ast.Constant):
            params = [e.name for e in node.elements if isinstance(e, ast.CommandParameter)]
            found.append((str(node.name.value), params))
    return [(name, params) for name, params in found if name.lower() not in functions]
