"""tree-sitter-powershell's verdict on a script: every ERROR or MISSING node, with its line."""

from __future__ import annotations

import tree_sitter_powershell
from tree_sitter import Language, Parser

POWERSHELL = Parser(Language(tree_sitter_powershell.language()))


def syntax_errors(script: str) -> list[str]:
    found, stack = [], [POWERSHELL.parse(script.encode("utf-8")).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.text.decode()[:60]!r}")
        stack.extend(node.children)
    return found
