"""The parts of Windows PowerShell 5.1 a lab host imitates: what ``ConvertTo-Json -Compress``
prints, the syntax of simple statements, and cmdlet parameter binding with PowerShell's messages.

Statements are commands with literal arguments, ``$ErrorActionPreference = 'Stop'``,
``(command).Property``, ``[string]`` casts, literals as output, and ``if (a -eq b) {...} else
{...}`` (what remediation's compare-and-set needs). Valid PowerShell beyond that raises
NotModelled: a lab host must never pretend that a script it did not understand has succeeded.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from lmready.pwsh import SINGLE_QUOTES

# --- ConvertTo-Json ---------------------------------------------------------------------------


class Hashtable(dict):
    """An ``@{}`` literal: ConvertTo-Json prints its keys in hash order, not in source order."""


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
# Windows PowerShell 5.1 serializes with JavaScriptSerializer, which also escapes these as \uXXXX.
_HTML_SENSITIVE = "'<>&\u0085\u2028\u2029"


def _json_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif ch < " " or ch in _HTML_SENSITIVE:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def convert_to_json(value: Any) -> str:
    """``ConvertTo-Json -Compress`` of strings, integers, booleans, $null, lists and dictionaries."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(convert_to_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = list(value.items())
        if isinstance(value, Hashtable):
            # .NET's Hashtable enumerates in string-hash order; any stable non-source order will do.
            items.sort(key=lambda kv: zlib.crc32(kv[0].lower().encode()))
        return "{" + ",".join(f"{_json_string(k)}:{convert_to_json(v)}" for k, v in items) + "}"
    raise TypeError(f"ConvertTo-Json of a {type(value).__name__} is not modelled")


# --- errors -----------------------------------------------------------------------------------


class ParseError(Exception):
    """The script does not parse; PowerShell runs none of it."""


class StatementError(Exception):
    """A statement-terminating error (binding, unknown command): $ErrorActionPreference decides."""


class NotModelled(Exception):
    """Valid PowerShell the lab host does not imitate; it always stops the script."""

    def __init__(self, what: str):
        super().__init__(f"The lab host does not model {what}; the script was stopped there.")


def not_recognized(name: str) -> str:
    return (
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
        "operable program. Check the spelling of the name, or if a path was included, verify that "
        "the path is correct and try again."
    )


# --- syntax -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word string param variable type comma lparen rparen dot equals end other
    text: str
    value: Any = None
    colon: bool = False  # a parameter written -Name:value


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, bool, None, or a list of those (a comma list)
    text: str


@dataclass(frozen=True)
class Parameter:
    name: str
    colon: bool


@dataclass(frozen=True)
class Command:
    name: str
    elements: tuple[Literal | Parameter, ...]


@dataclass(frozen=True)
class Assignment:
    variable: str
    value: Literal


@dataclass(frozen=True)
class Member:
    command: Command
    property: str


@dataclass(frozen=True)
class Cast:
    type_name: str  # only "string" is modelled
    operand: Member | Literal


Expression = Member | Literal | Cast


@dataclass(frozen=True)
class Comparison:
    left: Expression
    operator: str  # "eq" or "ne": case-insensitive, as PowerShell's -eq and -ne
    right: Literal


@dataclass(frozen=True)
class Output:
    """An expression on its own: its value goes to the output."""

    value: Expression


@dataclass(frozen=True)
class If:
    condition: Comparison
    then: tuple[Statement, ...]
    otherwise: tuple[Statement, ...]


Statement = Command | Assignment | Member | Output | If

_WORD_END = frozenset(" \t\r\n;,(){}|&")
_NAME = re.compile(r"[A-Za-z0-9_]+(?::[A-Za-z0-9_]+)?")
_INTEGER = re.compile(r"^-?(?:0x[0-9a-f]+|\d+)$", re.IGNORECASE)
_DQ_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _number(text: str) -> int | None:
    if not _INTEGER.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    return sign * (int(digits[2:], 16) if digits[:2].lower() == "0x" else int(digits))


def tokenize(script: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(script)
    while i < n:
        ch, nxt = script[i], script[i + 1 : i + 2]
        if ch in " \t\ufeff":
            i += 1
        elif ch == "`" and nxt in ("\r", "\n"):  # line continuation
            i += 3 if script[i + 1 : i + 3] == "\r\n" else 2
        elif ch == "<" and nxt == "#":
            end = script.find("#>", i + 2)
            if end < 0:
                raise ParseError("Missing closing '#>' of a block comment.")
            i = end + 2
        elif ch == "#":
            while i < n and script[i] not in "\r\n":
                i += 1
        elif ch in "\r\n;":
            tokens.append(Token("end", ch))
            i += 1
        elif ch in ",()=":
            tokens.append(Token({",": "comma", "(": "lparen", ")": "rparen", "=": "equals"}[ch], ch))
            i += 1
            if ch == ")" and nxt == "." and script[i + 1 : i + 2].isalpha():
                tokens.append(Token("dot", "."))
                i += 1
        elif ch in SINGLE_QUOTES:
            value, end = single_quoted(script, i)
            tokens.append(Token("string", script[i:end], value))
            i = end
        elif ch == '"':
            i = _double_quoted(script, i, tokens)
        elif ch == "$":
            match = _NAME.match(script, i + 1)
            if not match:
                tokens.append(Token("other", ch + nxt))
                i += 2
                continue
            tokens.append(Token("variable", "$" + match.group(), match.group()))
            i = match.end()
        elif ch == "[":  # a type literal, [string]
            end = script.find("]", i)
            if end < 0:
                raise ParseError("Missing ] at end of type token.")
            tokens.append(Token("type", script[i : end + 1], script[i + 1 : end].strip()))
            i = end + 1
        elif ch in "|&{}]@<>!":
            tokens.append(Token("other", ch))
            i += 1
        else:
            i = _bare(script, i, tokens)
    return tokens


def single_quoted(script: str, i: int) -> tuple[str, int]:
    """The single-quoted string that starts at ``i``: (its value, where it ends). Any of the
    five single quotes (see lmready.pwsh) opens or ends it, and two in a row stand for the second."""
    value = []
    i += 1
    while i < len(script):
        ch = script[i]
        if ch in SINGLE_QUOTES:
            if script[i + 1 : i + 2] and script[i + 1] in SINGLE_QUOTES:
                value.append(script[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        value.append(ch)
        i += 1
    raise ParseError("The string is missing the terminator: '.")


def _double_quoted(script: str, i: int, tokens: list[Token]) -> int:
    start, value = i, []
    i += 1
    while i < len(script):
        ch, nxt = script[i], script[i + 1 : i + 2]
        if ch == "`" and nxt:
            value.append(_DQ_ESCAPES.get(nxt, nxt))
            i += 2
        elif ch == '"' and nxt == '"':
            value.append('"')
            i += 2
        elif ch == '"':
            tokens.append(Token("string", script[start : i + 1], "".join(value)))
            return i + 1
        elif ch == "$" and (nxt.isalnum() or nxt in "_{("):
            raise NotModelled("variable expansion in a double-quoted string")
        else:
            value.append(ch)
            i += 1
    raise ParseError('The string is missing the terminator: ".')


def _bare(script: str, i: int, tokens: list[Token]) -> int:
    start, value = i, []
    is_param = script[i] == "-" and (script[i + 1 : i + 2].isalpha() or script[i + 1 : i + 2] in ("_", "?"))
    while i < len(script) and script[i] not in _WORD_END:
        if script[i] == "`" and i + 1 < len(script):
            i += 1
        value.append(script[i])
        i += 1
        if is_param and value[-1] == ":":  # -Name:value: the value is a token of its own
            break
    text = "".join(value)
    if is_param:
        colon = text.endswith(":")
        tokens.append(Token("param", script[start:i], text[1:].rstrip(":"), colon))
    else:
        number = _number(text)
        tokens.append(Token("word", script[start:i], text if number is None else number))
    return i


def parse(script: str) -> list[Statement]:
    """The statements of a script; ParseError or NotModelled before anything runs."""
    return [_statement(tokens) for tokens in _split(tokenize(script))]


def _split(tokens: list[Token]) -> list[list[Token]]:
    """Token lists of the statements: split at line ends and ``;`` outside () and {}."""
    statements, current, depth = [], [], 0
    for token in tokens:
        if token.kind == "lparen" or token.text == "{":
            depth += 1
        elif token.kind == "rparen" or token.text == "}":
            depth -= 1
            if depth < 0:
                raise ParseError(f"Unexpected token '{token.text}' in expression or statement.")
        if token.kind == "end" and depth == 0:
            if current:
                statements.append(current)
            current = []
        elif token.kind != "end" or depth:
            current.append(token)
    if depth:
        raise ParseError("Missing closing ')' or '}' in statement block or expression.")
    if current:
        statements.append(current)
    return statements


def _closing(tokens: list[Token], start: int) -> int:
    """The index of the ) or } that closes the ( or { at ``start``."""
    opening = tokens[start].text
    closing = ")" if opening == "(" else "}"
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].text == opening and tokens[i].kind in ("lparen", "other"):
            depth += 1
        elif tokens[i].text == closing and tokens[i].kind in ("rparen", "other"):
            depth -= 1
            if depth == 0:
                return i
    raise ParseError(f"Missing closing '{closing}'.")


def _block(tokens: list[Token], start: int) -> tuple[tuple[Statement, ...], int]:
    """The statements of the {...} at ``start``, and the index after its }."""
    if start >= len(tokens) or tokens[start].text != "{":
        raise ParseError("Missing statement block.")
    end = _closing(tokens, start)
    return tuple(_statement(t) for t in _split(tokens[start + 1 : end])), end + 1


def _if(tokens: list[Token]) -> If:
    text = " ".join(t.text for t in tokens)
    if len(tokens) < 2 or tokens[1].kind != "lparen":
        raise ParseError("Missing '(' after 'if' in if statement.")
    end = _closing(tokens, 1)
    condition = _comparison(tokens[2:end])
    then, i = _block(tokens, end + 1)
    otherwise: tuple[Statement, ...] = ()
    if i < len(tokens):
        if not (tokens[i].kind == "word" and str(tokens[i].value).lower() == "else"):
            raise NotModelled(f"the statement '{text}' (only if/else is)")
        otherwise, i = _block(tokens, i + 1)
    if i != len(tokens):
        raise ParseError(f"Unexpected token '{tokens[i].text}' in expression or statement.")
    return If(condition, then, otherwise)


_OPERATORS = ("eq", "ne")


def _comparison(tokens: list[Token]) -> Comparison:
    depth, at = 0, None
    for i, token in enumerate(tokens):
        depth += token.kind == "lparen"
        depth -= token.kind == "rparen"
        if depth == 0 and token.kind == "param":
            at = i
            break
    text = " ".join(t.text for t in tokens)
    if at is None or str(tokens[at].value).lower() not in _OPERATORS:
        raise NotModelled(f"the condition '{text}' (only a -eq or -ne comparison is)")
    right = _expression(tokens[at + 1 :])
    if not isinstance(right, Literal):
        raise NotModelled(f"the condition '{text}' (its right side must be a literal)")
    return Comparison(_expression(tokens[:at]), str(tokens[at].value).lower(), right)


def _expression(tokens: list[Token]) -> Expression:
    text = " ".join(t.text for t in tokens)
    if not tokens:
        raise ParseError("You must provide a value expression following the operator.")
    if tokens[0].kind == "type" and len(tokens) > 1:
        if tokens[0].value.lower() != "string":
            raise NotModelled(f"the cast {tokens[0].text}")
        operand = _expression(tokens[1:])
        if isinstance(operand, Cast):
            raise NotModelled(f"the expression '{text}'")
        return Cast("string", operand)
    if tokens[0].kind == "lparen":
        member = _statement(tokens)
        if isinstance(member, Member):
            return member
    if len(tokens) == 1 and (tokens[0].kind == "string" or tokens[0].kind == "variable"):
        return Literal(_value(tokens[0]), tokens[0].text)
    raise NotModelled(f"the expression '{text}'")


def _statement(tokens: list[Token]) -> Statement:
    first = tokens[0]
    if first.kind == "word" and str(first.value).lower() == "if":
        return _if(tokens)
    if first.kind in ("string", "type"):
        return Output(_expression(tokens))
    if first.kind == "variable" and len(tokens) > 1 and tokens[1].kind == "equals":
        if first.value.lower() not in PREFERENCES:
            raise NotModelled(f"assigning {first.text}")
        values = _elements(tokens[2:])
        if len(values) != 1 or not isinstance(values[0], Literal):
            raise NotModelled(f"the assignment '{' '.join(t.text for t in tokens)}'")
        return Assignment(first.value, values[0])
    if first.kind == "lparen":
        if len(tokens) >= 5 and [t.kind for t in tokens[-3:]] == ["rparen", "dot", "word"]:
            inner = _statement(tokens[1:-3])
            if isinstance(inner, Command):
                return Member(inner, str(tokens[-1].value))
        raise NotModelled(f"the expression '{' '.join(t.text for t in tokens)}'")
    if first.kind == "word" and isinstance(first.value, str):
        return Command(first.value, tuple(_elements(tokens[1:])))
    raise NotModelled(f"the statement '{' '.join(t.text for t in tokens)}'")


_CONSTANTS = {"true": True, "false": False, "null": None}
# The only variables a script may set: the preferences that decide how errors are handled.
PREFERENCES = ("erroractionpreference", "progresspreference")


def _value(token: Token) -> Any:
    if token.kind in ("word", "string"):
        return token.value
    if token.kind == "variable" and token.value.lower() in _CONSTANTS:
        return _CONSTANTS[token.value.lower()]
    if token.kind == "variable":
        raise NotModelled(f"the variable {token.text}")
    raise NotModelled(f"the token '{token.text}' in a command")


def _elements(tokens: list[Token]) -> list[Literal | Parameter]:
    elements: list[Literal | Parameter] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "param":
            elements.append(Parameter(token.value, token.colon))
            i += 1
            continue
        values, texts = [_value(token)], [token.text]
        i += 1
        while i < len(tokens) and tokens[i].kind == "comma":
            if i + 1 >= len(tokens) or tokens[i + 1].kind in ("param", "comma"):
                raise ParseError("Missing argument in parameter list.")
            values.append(_value(tokens[i + 1]))
            texts.append(tokens[i + 1].text)
            i += 2
        elements.append(Literal(values if len(values) > 1 else values[0], ",".join(texts)))
    return elements


# --- parameter binding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Enum:
    type_name: str
    names: tuple[str, ...]  # in value order: names[i] == i

    def convert(self, value: Any) -> str:
        """The member name; ValueError with .NET's message for anything else."""
        text = _display(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(self.names):
            return self.names[value]
        if isinstance(value, str):
            wanted = value.strip()
            if wanted.isdigit() and int(wanted) < len(self.names):
                return self.names[int(wanted)]
            for name in self.names:
                if name.lower() == wanted.lower():
                    return name
        raise ValueError(
            f"Unable to match the identifier name {text} to a valid enumerator name. Specify one of the "
            f"following enumerator names and try again:\r\n{', '.join(self.names)}"
        )


ACTION_PREFERENCE = Enum(
    "System.Management.Automation.ActionPreference",
    ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"),
)
_TYPE_NAMES = {
    "string": "System.String",
    "strings": "System.String[]",
    "uint32": "System.UInt32",
    "bool": "System.Boolean",
    "switch": "System.Management.Automation.SwitchParameter",
}


@dataclass(frozen=True)
class Param:
    name: str
    kind: str | Enum  # string, strings, uint32, bool, switch, or an Enum
    position: int | None = None
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    modelled: bool = True  # False: a real parameter of the cmdlet that the lab does not imitate

    @property
    def type_name(self) -> str:
        return self.kind.type_name if isinstance(self.kind, Enum) else _TYPE_NAMES[self.kind]


def unmodelled(*names: str) -> tuple[Param, ...]:
    return tuple(Param(name, "string", modelled=False) for name in names)


SHOULD_PROCESS = (Param("WhatIf", "switch", aliases=("wi",)), Param("Confirm", "switch", aliases=("cf",)))
COMMON = (
    Param("Verbose", "switch", aliases=("vb",)),
    Param("Debug", "switch", aliases=("db",)),
    Param("ErrorAction", ACTION_PREFERENCE, aliases=("ea",)),
    Param("WarningAction", ACTION_PREFERENCE, aliases=("wa",)),
    Param("InformationAction", ACTION_PREFERENCE, aliases=("infa",)),
    *(
        Param(name, "string", aliases=(alias,), modelled=False)
        for name, alias in (
            ("ErrorVariable", "ev"),
            ("WarningVariable", "wv"),
            ("InformationVariable", "iv"),
            ("OutVariable", "ov"),
            ("OutBuffer", "ob"),
            ("PipelineVariable", "pv"),
        )
    ),
)


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    params: tuple[Param, ...]
    should_process: bool = True

    @property
    def all_params(self) -> tuple[Param, ...]:
        return self.params + (SHOULD_PROCESS if self.should_process else ()) + COMMON


def _display(value: Any) -> str:
    """A value as PowerShell converts it to a string: $true -> True, $null -> empty."""
    return "" if value is None else str(value)


def _resolve(spec: CmdletSpec, written: str) -> Param:
    """PowerShell's lookup: exact name or alias, else an unambiguous prefix of one."""
    key = written.lower()
    params = spec.all_params
    for param in params:
        if key == param.name.lower() or key in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in params if any(n.lower().startswith(key) for n in (p.name, *p.aliases))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise StatementError(f"A parameter cannot be found that matches parameter name '{written}'.")
    raise StatementError(
        f"Parameter cannot be processed because the parameter name '{written}' is ambiguous. "
        f"Possible matches include: {' '.join('-' + p.name for p in matches)}."
    )


def bind(spec: CmdletSpec, elements: tuple[Literal | Parameter, ...]) -> dict[str, Any]:
    """Named, then positional arguments -> {parameter name: converted value}."""
    bound: dict[str, Any] = {}
    positional: list[Literal] = []
    i = 0
    while i < len(elements):
        element = elements[i]
        i += 1
        if isinstance(element, Literal):
            positional.append(element)
            continue
        param = _resolve(spec, element.name)
        if param.name in bound:
            raise StatementError(
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once. "
                "To provide multiple values to parameters that can accept multiple values, use the "
                'array syntax. For example, "-parameter value1,value2,value3".'
            )
        if param.kind == "switch" and not element.colon:
            bound[param.name] = _checked(spec, param, True)
            continue
        if i >= len(elements) or not isinstance(elements[i], Literal):
            raise StatementError(
                f"Missing an argument for parameter '{param.name}'. Specify a parameter of type "
                f"'{param.type_name}' and try again."
            )
        bound[param.name] = _checked(spec, param, elements[i].value)
        i += 1
    slots = sorted((p for p in spec.all_params if p.position is not None), key=lambda p: p.position)
    for literal in positional:
        slot = next((p for p in slots if p.name not in bound), None)
        if slot is None:
            raise StatementError(
                f"A positional parameter cannot be found that accepts argument '{_display(literal.value)}'."
            )
        bound[slot.name] = _checked(spec, slot, literal.value)
    missing = [p.name for p in spec.all_params if p.mandatory and p.name not in bound]
    if missing:
        raise StatementError(
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}."
        )
    return bound


def _checked(spec: CmdletSpec, param: Param, value: Any) -> Any:
    if not param.modelled:
        raise NotModelled(f"the parameter -{param.name} of {spec.name}")
    return convert(param, value)


def convert(param: Param, value: Any) -> Any:
    """A bound argument converted to the parameter's type, or PowerShell's binding error."""
    if isinstance(value, list) and param.kind != "strings":
        if param.kind in ("bool", "switch"):
            raise StatementError(_boolean_only(param, "System.Object[]"))
        raise StatementError(
            f"Cannot convert 'System.Object[]' to the type '{param.type_name}' required by parameter "
            f"'{param.name}'. Specified method is not supported."
        )
    if param.kind == "strings":
        return [_display(v) for v in (value if isinstance(value, list) else [value])]
    if param.kind == "string":
        text = _display(value)
        if param.mandatory and text == "":
            raise StatementError(
                f"Cannot bind argument to parameter '{param.name}' because it is an empty string."
            )
        return text
    if param.kind in ("bool", "switch"):
        if isinstance(value, bool) or value is None:
            return bool(value)
        if isinstance(value, int):
            return value != 0
        raise StatementError(_boolean_only(param, "System.String"))
    if param.kind == "uint32":
        return _uint32(param, value)
    try:
        return param.kind.convert(value)
    except ValueError as exc:
        raise StatementError(_cannot_convert(param, value, str(exc))) from None


def _boolean_only(param: Param, source: str) -> str:
    return (
        f"Cannot process argument transformation on parameter '{param.name}'. Cannot convert value "
        f'"{source}" to type "{param.type_name}". Boolean parameters accept only Boolean values and '
        "numbers, such as $True, $False, 1 or 0."
    )


def _cannot_convert(param: Param, value: Any, error: str) -> str:
    return (
        f"Cannot bind parameter '{param.name}'. Cannot convert value \"{_display(value)}\" to type "
        f'"{param.type_name}". Error: "{error}"'
    )


def _uint32(param: Param, value: Any) -> int:
    number = value
    if isinstance(value, bool) or value is None:
        number = int(bool(value))
    elif isinstance(value, str):
        number = _number(value.strip())
        if number is None:
            raise StatementError(_cannot_convert(param, value, "Input string was not in a correct format."))
    if not 0 <= number <= 0xFFFFFFFF:
        raise StatementError(
            _cannot_convert(param, value, "Value was either too large or too small for a UInt32.")
        )
    return number
