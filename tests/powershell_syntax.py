"""Windows PowerShell 5.1's verdict on a script's syntax, from the lab interpreter's parser:
5.1's grammar, so code only PowerShell 7 parses (&&, ??, ternaries...) is an error here; and the
commands a script calls, read from its syntax tree."""

from __future__ import annotations

from typing import Any

from lmready.lab.powershell import ast
from lmready.lab.powershell.parser import ParseError, parse


def syntax_errors(script: str) -> list[str]:
    try:
        parse(script)
    except ParseError as exc:
        return [f"line {exc.line}: {exc}"]
    return []


def commands(script: str) -> list[tuple[str, list[str]]]:
    """(command name, parameter names as written) of every command the script calls by name,
    minus the script's own functions."""
    found: list[tuple[str, list[str]]] = []
    functions: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.FunctionDef):
            functions.add(node.name.lower())
        if isinstance(node, ast.Command) and isinstance(node.name, ast.Constant):
            params = [e.name for e in node.elements if isinstance(e, ast.CommandParameter)]
            found.append((str(node.name.value), params))
        if isinstance(node, ast.Node):
            for name in node.__slots__:
                walk(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)

    walk(parse(script))
    return [(name, params) for name, params in found if name.lower() not in functions]
