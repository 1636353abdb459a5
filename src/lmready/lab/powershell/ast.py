"""The syntax tree the parser builds and the evaluator walks: one small class per construct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Node:
    __slots__ = ()


@dataclass(slots=True)
class Constant(Node):
    value: Any
    text: str = ""  # the source text, which a native command receives


@dataclass(slots=True)
class Expandable(Node):
    """A double-quoted string: literal pieces and expressions whose values are pasted in."""

    parts: tuple[str | Node, ...]


@dataclass(slots=True)
class Variable(Node):
    name: str  # lower case, without scope prefix
    scope: str = ""  # env, script, global, local or ""
    text: str = ""


@dataclass(slots=True)
class TypeLiteral(Node):
    name: str


@dataclass(slots=True)
class Cast(Node):
    type_name: str
    operand: Node


@dataclass(slots=True)
class Member(Node):
    target: Node
    name: Node  # a Constant, or an expression ($x.$name)
    static: bool = False


@dataclass(slots=True)
class Invoke(Node):
    target: Node
    name: str
    args: tuple[Node, ...]
    static: bool = False


@dataclass(slots=True)
class Index(Node):
    target: Node
    index: Node


@dataclass(slots=True)
class Unary(Node):
    op: str  # -not, -, +, ",", -join, -split
    operand: Node


@dataclass(slots=True)
class Binary(Node):
    op: str  # lower case: -eq, -ceq, +, -and, ...
    left: Node
    right: Node


@dataclass(slots=True)
class ArrayLiteral(Node):
    items: tuple[Node, ...]


@dataclass(slots=True)
class HashLiteral(Node):
    pairs: tuple[tuple[Node, Node], ...]
    ordered: bool = False


@dataclass(slots=True)
class SubExpression(Node):
    """$( ... ): the statements' output as one value."""

    body: StatementList


@dataclass(slots=True)
class ArrayExpression(Node):
    """@( ... ): the statements' output, always an array."""

    body: StatementList


@dataclass(slots=True)
class Paren(Node):
    pipeline: Node


@dataclass(slots=True)
class ScriptBlockExpr(Node):
    block: ScriptBlockBody


@dataclass(slots=True)
class ParamDef(Node):
    name: str
    type_name: str | None
    default: Node | None


@dataclass(slots=True)
class ScriptBlockBody(Node):
    params: tuple[ParamDef, ...]
    begin: StatementList | None
    process: StatementList | None
    end: StatementList | None
    text: str = ""


@dataclass(slots=True)
class StatementList(Node):
    statements: tuple[Node, ...]


@dataclass(slots=True)
class CommandParameter(Node):
    name: str
    argument: Node | None  # -Name:value
    text: str


@dataclass(slots=True)
class Command(Node):
    name: Node  # a Constant (the command name) or an expression after & or .
    elements: tuple[Node, ...]  # CommandParameter or argument expressions
    invocation: str = ""  # "", "&" or "."
    line: int = 0


@dataclass(slots=True)
class Pipeline(Node):
    elements: tuple[Node, ...]  # the first may be an expression, the others are Commands


@dataclass(slots=True)
class Assignment(Node):
    target: Node
    op: str  # =, +=, -=, *=, /=, %=
    value: Node


@dataclass(slots=True)
class If(Node):
    clauses: tuple[tuple[Node, StatementList], ...]
    otherwise: StatementList | None


@dataclass(slots=True)
class ForEach(Node):
    variable: str
    collection: Node
    body: StatementList


@dataclass(slots=True)
class For(Node):
    init: Node | None
    condition: Node | None
    step: Node | None
    body: StatementList


@dataclass(slots=True)
class While(Node):
    condition: Node
    body: StatementList
    do: bool = False  # do { } while ( )
    until: bool = False


@dataclass(slots=True)
class Switch(Node):
    value: Node
    clauses: tuple[tuple[Node | None, StatementList], ...]  # None: default
    mode: str = ""  # "", wildcard, regex, exact


@dataclass(slots=True)
class Catch(Node):
    types: tuple[str, ...]
    body: StatementList


@dataclass(slots=True)
class Try(Node):
    body: StatementList
    catches: tuple[Catch, ...]
    final: StatementList | None


@dataclass(slots=True)
class FunctionDef(Node):
    name: str
    body: ScriptBlockBody


@dataclass(slots=True)
class Flow(Node):
    """return, throw, break, continue, exit."""

    keyword: str
    value: Node | None
