"""Windows PowerShell 5.1's grammar, for the subset lmready's scripts use, as a scannerless
recursive-descent parser: PowerShell tokenizes differently in expression and in argument mode,
so the parser reads characters and knows which mode it is in.

Syntax that PowerShell 7 added (``&&``, ``||``, ``??``, ``??=``, ``? :``, ``clean {}``) is
refused with the message Windows PowerShell 5.1 prints. A parse is cached by script text:
lmready sends the same script to every host.
"""

from __future__ import annotations

import functools
import re

from lmready.lab.powershell import ast as A
from lmready.pwsh import SINGLE_QUOTES

DOUBLE_QUOTES = '"\u201c\u201d\u201e'
DASHES = "-\u2013\u2014\u2015"
EOF = "\0"  # what peek() sees past the end: never a member of any character set tested


class ParseError(Exception):
    """The script does not parse: PowerShell runs none of it."""

    def __init__(self, message: str, line: int, char: int = 1):
        super().__init__(message)
        self.line = line
        self.char = char


_COMPARISON = {
    f"{prefix}{op}"
    for op in (
        "eq", "ne", "gt", "ge", "lt", "le", "like", "notlike", "match", "notmatch", "contains",
        "notcontains", "in", "notin", "replace", "split",
    )
    for prefix in ("", "i", "c")
} | {"is", "isnot", "as", "join", "f", "band", "bor", "bxor", "shl", "shr"}  # fmt: skip
_LOGICAL = {"and", "or", "xor"}
_UNARY_WORDS = {"not", "bnot", "split", "join"}
_KEYWORDS = {
    "if", "elseif", "else", "foreach", "for", "while", "do", "until", "switch", "try", "catch", "finally",
    "function", "filter", "return", "throw", "break", "continue", "exit", "param", "begin", "process", "end",
    "trap", "data", "in", "class", "enum", "using", "workflow", "configuration", "dynamicparam",
}  # fmt: skip
_NUMBER = re.compile(
    r"(0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(l|d)?(kb|mb|gb|tb|pb)?(?![\w.])", re.IGNORECASE
)
_MULTIPLIERS = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
_VARIABLE_CHARS = re.compile(r"[A-Za-z0-9_?]+(?::[A-Za-z0-9_?]+)?")
_TYPE_NAME = re.compile(r"\s*([A-Za-z_][\w.`]*(?:\[\])?)\s*\]")
_PARAM_NAME = re.compile(r"[A-Za-z_?][\w?-]*")
_GENERIC_END = set(" \t\r\n;|&(){},\ufeff") | set(DOUBLE_QUOTES) | set(SINGLE_QUOTES)


@functools.lru_cache(maxsize=512)
def parse(script: str) -> A.ScriptBlockBody:
    """The script's syntax tree; ParseError with 5.1's message when it does not parse."""
    parser = _Parser(script)
    body = parser.script_body(end="")
    return body


class _Parser:
    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.n = len(text)
        self.comma_ok = True  # False in a method call's arguments, where commas separate them

    # --- characters ---------------------------------------------------------------------------

    def error(self, message: str) -> ParseError:
        start = self.s.rfind("\n", 0, self.i) + 1
        return ParseError(message, self.s.count("\n", 0, self.i) + 1, self.i - start + 1)

    def unexpected(self) -> ParseError:
        token = self.token_text()
        if token in ("&&", "||"):
            return self.error(f"The token '{token}' is not a valid statement separator in this version.")
        return self.error(f"Unexpected token '{token}' in expression or statement.")

    def token_text(self) -> str:
        j = self.i
        if j >= self.n:
            return ""
        if self.s.startswith(("&&", "||", "??="), j):
            return "??=" if self.s[j] == "?" else self.s[j : j + 2]
        if self.s.startswith("??", j):
            return "??"
        if self.s[j] in "?:":
            return self.s[j]
        while j < self.n and self.s[j] not in _GENERIC_END:
            j += 1
        return self.s[self.i : max(j, self.i + 1)]

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < self.n else EOF

    def spaces(self) -> None:
        """Skip blanks, comments and line continuations, not line ends."""
        s, n = self.s, self.n
        while self.i < n:
            ch = s[self.i]
            if ch in " \t\ufeff\f\v\u00a0":
                self.i += 1
            elif ch == "`" and self.i + 1 < n and s[self.i + 1] in "\r\n":
                self.i += 3 if s.startswith("\r\n", self.i + 1) else 2
            elif ch == "#":
                while self.i < n and s[self.i] not in "\r\n":
                    self.i += 1
            elif ch == "<" and self.peek(1) == "#":
                end = s.find("#>", self.i + 2)
                if end < 0:
                    raise self.error("Missing closing '#>' of a block comment.")
                self.i = end + 2
            else:
                return

    def newlines(self) -> None:
        """Skip blanks and line ends."""
        while True:
            self.spaces()
            if self.i < self.n and self.s[self.i] in "\r\n":
                self.i += 1
            else:
                return

    def separators(self) -> None:
        while True:
            self.newlines()
            if self.peek() == ";":
                self.i += 1
            else:
                return

    def expect(self, ch: str, message: str) -> None:
        if self.peek() != ch:
            raise self.error(message)
        self.i += 1

    def keyword(self) -> str:
        """The keyword at the cursor (lower case), if a keyword stands there as a whole word."""
        m = re.compile(r"[A-Za-z]+").match(self.s, self.i)
        if not m:
            return ""
        word = m.group().lower()
        after = self.s[m.end() : m.end() + 1]
        if word in _KEYWORDS and (after == "" or after in " \t\r\n;({}$'\"#)"):
            return word
        return ""

    def line(self) -> int:
        return self.s.count("\n", 0, self.i) + 1

    # --- statements ---------------------------------------------------------------------------

    def script_body(self, end: str) -> A.ScriptBlockBody:
        start = self.i
        self.newlines()
        params: tuple[A.ParamDef, ...] = ()
        if self.keyword() == "param":
            self.i += 5
            self.spaces()
            params = self.param_list()
        self.separators()
        named = self.keyword()
        if named in ("begin", "process", "end"):
            blocks: dict[str, A.StatementList] = {}
            while True:
                self.separators()
                if self.i >= self.n or self.peek() == end:
                    break
                word = self.keyword()
                if word not in ("begin", "process", "end") or word in blocks:
                    raise self.unexpected()
                self.i += len(word)
                self.spaces()
                blocks[word] = self.block()
            return A.ScriptBlockBody(
                params, blocks.get("begin"), blocks.get("process"), blocks.get("end"), self.s[start : self.i]
            )
        body = self.statements(end)
        return A.ScriptBlockBody(params, None, None, body, self.s[start : self.i])

    def statements(self, end: str) -> A.StatementList:
        out = []
        while True:
            self.separators()
            if self.i >= self.n:
                if end:
                    raise self.error(f"Missing closing '{end}' in statement block or type definition.")
                break
            if end and self.peek() == end:
                break
            out.append(self.statement())
            self.spaces()
            ch = self.peek()
            if ch in (EOF, "\r", "\n", ";") or (end and ch == end):
                continue
            raise self.unexpected()
        return A.StatementList(tuple(out))

    def block(self) -> A.StatementList:
        self.newlines()
        if self.peek() != "{":
            raise self.error("Missing statement block.")
        self.i += 1
        body = self.statements("}")
        self.i += 1
        return body

    def condition(self, keyword: str) -> A.Node:
        self.spaces()
        if self.peek() != "(":
            raise self.error(f"Missing '(' after '{keyword}' in {keyword} statement.")
        self.i += 1
        self.newlines()
        value = self.pipeline_or_assignment()
        self.newlines()
        if self.peek() != ")":
            raise self.error(f"Missing closing ')' after expression in '{keyword}' statement.")
        self.i += 1
        return value

    def statement(self) -> A.Node:
        word = self.keyword()
        if word:
            handler = getattr(self, f"st_{word}", None)
            if handler is not None:
                self.i += len(word)
                return handler()
            if word not in ("in", "param", "begin", "process", "end", "data", "using"):
                raise self.error(f"The '{word}' keyword is not supported by the lab's PowerShell.")
        return self.pipeline_or_assignment()

    def st_if(self) -> A.Node:
        clauses = [(self.condition("if"), self.block())]
        otherwise = None
        while True:
            mark = self.i
            self.newlines()
            word = self.keyword()
            if word == "elseif":
                self.i += 6
                clauses.append((self.condition("elseif"), self.block()))
            elif word == "else":
                self.i += 4
                otherwise = self.block()
                break
            else:
                self.i = mark
                break
        return A.If(tuple(clauses), otherwise)

    def st_foreach(self) -> A.Node:
        self.spaces()
        self.expect("(", "Missing opening '(' after keyword 'foreach'.")
        self.newlines()
        if self.peek() != "$":
            raise self.error("Missing variable name after foreach.")
        var = self.variable()
        self.spaces()
        if self.keyword() != "in":
            raise self.error("Missing 'in' after variable in foreach loop.")
        self.i += 2
        self.newlines()
        collection = self.pipeline_or_assignment()
        self.newlines()
        self.expect(")", "Missing closing ')' after expression in 'foreach' statement.")
        return A.ForEach(var.name, collection, self.block())

    def st_for(self) -> A.Node:
        self.spaces()
        self.expect("(", "Missing opening '(' after keyword 'for'.")
        parts: list[A.Node | None] = []
        for closer in (";", ";", ")"):
            self.newlines()
            parts.append(None if self.peek() == closer else self.pipeline_or_assignment())
            self.newlines()
            self.expect(closer, "Missing closing ')' after expression in 'for' statement.")
        return A.For(parts[0], parts[1], parts[2], self.block())

    def st_while(self) -> A.Node:
        return A.While(self.condition("while"), self.block())

    def st_do(self) -> A.Node:
        body = self.block()
        self.newlines()
        word = self.keyword()
        if word not in ("while", "until"):
            raise self.error("Missing 'while' or 'until' in do loop.")
        self.i += len(word)
        return A.While(self.condition(word), body, do=True, until=word == "until")

    def st_switch(self) -> A.Node:
        mode = ""
        while True:
            self.spaces()
            if self.peek() in DASHES:
                m = _PARAM_NAME.match(self.s, self.i + 1)
                flag = m.group().lower() if m else ""
                if flag not in ("wildcard", "regex", "exact", "casesensitive"):
                    raise self.error(f"Unknown switch option '-{flag}'.")
                mode = flag if flag != "casesensitive" else mode
                self.i = m.end()
            else:
                break
        value = self.condition("switch")
        self.newlines()
        self.expect("{", "Missing opening '{' in switch statement.")
        clauses: list[tuple[A.Node | None, A.StatementList]] = []
        while True:
            self.separators()
            if self.peek() == "}":
                self.i += 1
                break
            if self.keyword() == "default" or self.s[self.i : self.i + 7].lower() == "default":
                self.i += 7
                clauses.append((None, self.block()))
                continue
            if self.peek() == "{":
                pattern: A.Node = A.ScriptBlockExpr(self.scriptblock())
            elif (
                self.peek() in "$('\""
                or self.peek() in SINGLE_QUOTES + DOUBLE_QUOTES
                or self.peek().isdigit()
            ):
                pattern = self.postfix(self.primary())
            else:
                pattern = self.bareword()
            clauses.append((pattern, self.block()))
        return A.Switch(value, tuple(clauses), mode)

    def st_try(self) -> A.Node:
        body = self.block()
        catches = []
        final = None
        while True:
            mark = self.i
            self.newlines()
            word = self.keyword()
            if word == "catch":
                self.i += 5
                types = []
                while True:
                    self.spaces()
                    if self.peek() != "[":
                        break
                    m = _TYPE_NAME.match(self.s, self.i + 1)
                    if not m:
                        raise self.error("Missing type name after '['.")
                    types.append(m.group(1))
                    self.i = m.end()
                    self.spaces()
                    if self.peek() == ",":
                        self.i += 1
                        self.newlines()
                catches.append(A.Catch(tuple(types), self.block()))
            elif word == "finally":
                self.i += 7
                final = self.block()
                break
            else:
                self.i = mark
                break
        if not catches and final is None:
            raise self.error("The Try statement is missing its Catch or Finally block.")
        return A.Try(body, tuple(catches), final)

    def st_function(self) -> A.Node:
        self.spaces()
        m = re.compile(r"[^\s(){};]+").match(self.s, self.i)
        if not m:
            raise self.error("Missing name after function keyword.")
        name = m.group()
        self.i = m.end()
        self.spaces()
        params: tuple[A.ParamDef, ...] = ()
        if self.peek() == "(":
            params = self.param_list()
        self.newlines()
        if self.peek() != "{":
            raise self.error("Missing function body in function declaration.")
        body = self.scriptblock()
        if params:
            if body.params:
                raise self.error(
                    "A function cannot use the param statement if it already has parameters after its name."
                )
            body = A.ScriptBlockBody(params, body.begin, body.process, body.end, body.text)
        return A.FunctionDef(name, body)

    st_filter = st_function

    def param_list(self) -> tuple[A.ParamDef, ...]:
        self.expect("(", "Missing '(' in parameter list.")
        params = []
        while True:
            self.newlines()
            if self.peek() == ")":
                self.i += 1
                break
            type_name = None
            while self.peek() == "[":
                m = _TYPE_NAME.match(self.s, self.i + 1)
                if not m:
                    raise self.error("Missing type name after '['.")
                if self.s[m.end() : m.end() + 1] == "(":  # [Parameter(...)] attribute: not modelled
                    raise self.error("Parameter attributes are not supported by the lab's PowerShell.")
                if m.group(1).lower() not in ("parameter", "cmdletbinding"):
                    type_name = m.group(1)
                self.i = m.end()
                self.newlines()
            if self.peek() != "$":
                raise self.error("Missing variable name in parameter list.")
            var = self.variable()
            self.newlines()
            default = None
            if self.peek() == "=":
                self.i += 1
                self.newlines()
                default = self.expression()
            params.append(A.ParamDef(var.name, type_name, default))
            self.newlines()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != ")":
                raise self.error("Missing ')' in function parameter list.")
        return tuple(params)

    def flow(self, keyword: str) -> A.Node:
        self.spaces()
        ch = self.peek()
        if ch in (EOF, "\r", "\n", ";", "}", ")"):
            return A.Flow(keyword, None)
        if keyword in ("break", "continue"):
            label = self.bareword()
            return A.Flow(keyword, label)
        return A.Flow(keyword, self.pipeline_or_assignment())

    def st_return(self) -> A.Node:
        return self.flow("return")

    def st_throw(self) -> A.Node:
        return self.flow("throw")

    def st_break(self) -> A.Node:
        return self.flow("break")

    def st_continue(self) -> A.Node:
        return self.flow("continue")

    def st_exit(self) -> A.Node:
        return self.flow("exit")

    # --- pipelines and assignments ------------------------------------------------------------

    def pipeline_or_assignment(self) -> A.Node:
        ch = self.peek()
        if ch in "$[(" or ch == "@":
            mark = self.i
            try:
                target = self.unary()
            except ParseError:
                target = None
            if target is not None:
                self.spaces()
                op = self.assignment_operator()
                if op:
                    if not isinstance(target, A.Variable | A.Member | A.Index | A.Cast):
                        raise self.error("The assignment expression is not valid.")
                    self.newlines()
                    word = self.keyword()
                    if word in ("if", "foreach", "switch", "for", "while", "do", "try"):
                        value = self.statement()
                    else:
                        value = self.pipeline()
                    return A.Assignment(target, op, value)
            self.i = mark
        return self.pipeline()

    def assignment_operator(self) -> str:
        ch, nxt = self.peek(), self.peek(1)
        if ch == "=" and nxt != "=":
            self.i += 1
            return "="
        if ch in "+-*/%" and nxt == "=":
            self.i += 2
            return ch + "="
        if self.s.startswith("??=", self.i):
            raise self.unexpected()
        return ""

    def pipeline(self) -> A.Node:
        elements = [self.pipeline_element(first=True)]
        while True:
            self.spaces()
            if self.peek() == "|" and self.peek(1) != "|":
                self.i += 1
                self.newlines()
                if self.peek() in (EOF, "}", ")", ";"):
                    raise self.error("An empty pipe element is not allowed.")
                elements.append(self.pipeline_element(first=False))
            elif self.s.startswith(("&&", "||"), self.i):
                raise self.unexpected()
            else:
                break
        if len(elements) == 1 and not isinstance(elements[0], A.Command):
            return elements[0]
        return A.Pipeline(tuple(elements))

    def pipeline_element(self, first: bool) -> A.Node:
        ch = self.peek()
        if ch == "&" and self.peek(1) != "&":
            self.i += 1
            self.spaces()
            return self.command(self.primary_for_call(), "&")
        if ch == "." and self.peek(1) in " \t$'\"({":
            self.i += 1
            self.spaces()
            return self.command(self.primary_for_call(), ".")
        if self.starts_expression():
            if not first:
                raise self.error("Expressions are only allowed as the first element of a pipeline.")
            value = self.expression()
            self.spaces()
            if self.peek() == "?" or self.s.startswith(("??",), self.i):
                raise self.unexpected()
            return value
        line = self.line()
        name = self.generic_token()
        if not name:
            raise self.unexpected()
        return self.command(A.Constant(name, name), "", line)

    def primary_for_call(self) -> A.Node:
        if self.peek() in SINGLE_QUOTES + DOUBLE_QUOTES + "$({":
            return self.postfix(self.primary())
        name = self.generic_token()
        return A.Constant(name, name)

    def starts_expression(self) -> bool:
        ch, nxt = self.peek(), self.peek(1)
        if ch in "$(@'\"[{" or ch in SINGLE_QUOTES + DOUBLE_QUOTES:
            return True
        if ch == "!" or (ch == "," and nxt):
            return True
        if ch.isdigit() or (ch == "." and nxt.isdigit()):
            m = _NUMBER.match(self.s, self.i)
            return m is not None
        if ch in DASHES:
            if nxt.isdigit():
                return True
            m = _PARAM_NAME.match(self.s, self.i + 1)
            return bool(m) and m.group().lower() in _UNARY_WORDS
        return False

    def generic_token(self) -> str:
        out = []
        s, n = self.s, self.n
        while self.i < n:
            ch = s[self.i]
            if ch in _GENERIC_END:
                break
            if ch == "`" and self.i + 1 < n:
                self.i += 1
                ch = s[self.i]
            out.append(ch)
            self.i += 1
        return "".join(out)

    def command(self, name: A.Node, invocation: str, line: int = 0) -> A.Command:
        elements: list[A.Node] = []
        while True:
            self.spaces()
            ch = self.peek()
            if ch in (EOF, "\r", "\n", ";", ")", "}") or (ch == "|" and self.peek(1) != "|"):
                break
            if self.s.startswith(("&&", "||"), self.i):
                raise self.unexpected()
            if (
                ch in DASHES
                and self.peek(1) not in (EOF, " ", "\t", "\r", "\n")
                and not self.peek(1).isdigit()
            ):
                if self.s.startswith("--%", self.i):
                    raise self.error("The stop-parsing symbol --% is not supported by the lab's PowerShell.")
                m = _PARAM_NAME.match(self.s, self.i + 1)
                if m:
                    start = self.i
                    self.i = m.end()
                    argument = None
                    if self.peek() == ":":
                        self.i += 1
                        self.spaces()
                        argument = self.argument()
                    elements.append(A.CommandParameter(m.group(), argument, self.s[start : self.i]))
                    continue
            if ch in "<>" or (ch.isdigit() and self.peek(1) == ">"):
                raise self.error("Redirection is not supported by the lab's PowerShell.")
            elements.append(self.argument())
        return A.Command(name, tuple(elements), invocation, line)

    def argument(self) -> A.Node:
        """One argument in argument mode, with any comma list it heads."""
        items = [self.argument_item()]
        while True:
            mark = self.i
            self.spaces()
            if self.peek() == ",":
                self.i += 1
                self.newlines()
                items.append(self.argument_item())
            else:
                self.i = mark
                break
        return items[0] if len(items) == 1 else A.ArrayLiteral(tuple(items))

    def argument_item(self) -> A.Node:
        ch = self.peek()
        if ch in "$(@{" or ch in SINGLE_QUOTES + DOUBLE_QUOTES:
            start = self.i
            node = self.postfix(self.primary(), argument_mode=True)
            # "a"b or $x-y: more text glued on makes one expandable word
            if self.i < self.n and self.s[self.i] not in _GENERIC_END and self.s[self.i] not in "|":
                raise self.error(
                    f"The argument '{self.s[start : self.i]}{self.token_text()}' mixes an expression and "
                    "text; the lab's PowerShell needs quotes around it."
                )
            return node
        if ch.isdigit() or (ch in DASHES + "." and self.peek(1).isdigit()):
            start = self.i
            text = self.generic_token()
            number = _number_value(text.replace("\u2013", "-"))
            if number is not None:
                return A.Constant(number, text)
            return A.Constant(text, text)
        if ch == "[":
            start = self.i
            text = self.generic_token()
            return A.Constant(text, text)
        return self.bareword()

    def bareword(self) -> A.Node:
        text = self.generic_token()
        if not text:
            raise self.unexpected()
        if "$" in text:
            raise self.error(f"The argument '{text}' needs quotes in the lab's PowerShell.")
        return A.Constant(text, text)

    # --- expressions ----------------------------------------------------------------------------

    def expression(self) -> A.Node:
        left = self.comparison()
        while True:
            mark = self.i
            self.spaces()
            op = self.operator_word(_LOGICAL)
            if not op:
                self.i = mark
                return left
            self.newlines()
            left = A.Binary(op, left, self.comparison())

    def operator_word(self, words: set[str]) -> str:
        if self.peek() not in DASHES:
            return ""
        m = re.compile(r"[A-Za-z]+").match(self.s, self.i + 1)
        if m and m.group().lower() in words:
            self.i = m.end()
            return "-" + m.group().lower()
        return ""

    def comparison(self) -> A.Node:
        left = self.additive()
        while True:
            mark = self.i
            self.spaces()
            op = self.operator_word(_COMPARISON - {"f"})
            if not op:
                self.i = mark
                return left
            self.newlines()
            left = A.Binary(op, left, self.additive())

    def additive(self) -> A.Node:
        left = self.multiplicative()
        while True:
            mark = self.i
            self.spaces()
            ch = self.peek()
            if ch in "+" + DASHES and self.peek(1) != "=" and not (ch in DASHES and self.peek(1).isalpha()):
                self.i += 1
                self.newlines()
                left = A.Binary("+" if ch == "+" else "-", left, self.multiplicative())
            else:
                self.i = mark
                return left

    def multiplicative(self) -> A.Node:
        left = self.format()
        while True:
            mark = self.i
            self.spaces()
            ch = self.peek()
            if ch in "*/%" and self.peek(1) != "=":
                self.i += 1
                self.newlines()
                left = A.Binary(ch, left, self.format())
            else:
                self.i = mark
                return left

    def format(self) -> A.Node:
        left = self.range()
        while True:
            mark = self.i
            self.spaces()
            if self.operator_word({"f"}):
                self.newlines()
                left = A.Binary("-f", left, self.range())
            else:
                self.i = mark
                return left

    def range(self) -> A.Node:
        left = self.comma()
        mark = self.i
        self.spaces()
        if self.s.startswith("..", self.i):
            self.i += 2
            self.newlines()
            return A.Binary("..", left, self.comma())
        self.i = mark
        return left

    def comma(self) -> A.Node:
        items = [self.unary()]
        while self.comma_ok:
            mark = self.i
            self.spaces()
            if self.peek() == ",":
                self.i += 1
                self.newlines()
                items.append(self.unary())
            else:
                self.i = mark
                break
        return items[0] if len(items) == 1 else A.ArrayLiteral(tuple(items))

    def unary(self) -> A.Node:
        self.spaces()
        ch = self.peek()
        if ch == "!":
            self.i += 1
            self.newlines()
            return A.Unary("-not", self.unary())
        if ch == ",":
            self.i += 1
            self.newlines()
            return A.Unary(",", self.unary())
        if ch in DASHES:
            op = self.operator_word(_UNARY_WORDS)
            if op:
                self.newlines()
                return A.Unary(op, self.unary())
            if self.peek(1) == ch:
                raise self.error("The '--' operator is not supported by the lab's PowerShell.")
            self.i += 1
            return A.Unary("-", self.unary())
        if ch == "+" and self.peek(1) != "+":
            self.i += 1
            return A.Unary("+", self.unary())
        if ch == "[":
            m = _TYPE_NAME.match(self.s, self.i + 1)
            if not m:
                raise self.error("Missing type name after '['.")
            type_name = m.group(1).replace("`", "")
            self.i = m.end()
            if self.peek() == ":" and self.peek(1) == ":":
                return self.postfix(A.TypeLiteral(type_name))
            mark = self.i
            self.spaces()
            nxt = self.peek()
            if type_name.lower() == "ordered":
                if nxt != "@" or self.peek(1) != "{":
                    raise self.error("The ordered attribute can be specified only on a hash literal node.")
                table = self.primary()
                assert isinstance(table, A.HashLiteral)
                return A.HashLiteral(table.pairs, ordered=True)
            if nxt and (
                nxt in "$('\"[@!{"
                or nxt in SINGLE_QUOTES + DOUBLE_QUOTES
                or nxt.isdigit()
                or (nxt in DASHES and (self.peek(1).isdigit() or self.word_after_dash() in _UNARY_WORDS))
            ):
                return A.Cast(type_name, self.unary())
            self.i = mark
            return self.postfix(A.TypeLiteral(type_name))
        return self.postfix(self.primary())

    def word_after_dash(self) -> str:
        m = re.compile(r"[A-Za-z]+").match(self.s, self.i + 1)
        return m.group().lower() if m else ""

    def postfix(self, node: A.Node, argument_mode: bool = False) -> A.Node:
        while True:
            ch = self.peek()
            if ch == "." and self.peek(1) != ".":
                self.i += 1
                node = self.member(node, static=False)
            elif ch == ":" and self.peek(1) == ":":
                self.i += 2
                node = self.member(node, static=True)
            elif ch == "[":
                self.i += 1
                self.newlines()
                index = self.expression()
                self.newlines()
                self.expect("]", "Array index expression is missing or not valid.")
                node = A.Index(node, index)
            elif (
                ch == "?" and (self.peek(1) in ".[" or self.s.startswith("??", self.i)) and not argument_mode
            ):
                raise self.unexpected()
            else:
                return node

    def member(self, target: A.Node, static: bool) -> A.Node:
        ch = self.peek()
        if ch == "$":
            name: A.Node = self.variable()
        elif ch in SINGLE_QUOTES + DOUBLE_QUOTES:
            name = self.primary()
        else:
            m = re.compile(r"[A-Za-z_][\w]*").match(self.s, self.i)
            if not m:
                raise self.error("Missing property name after reference operator.")
            self.i = m.end()
            name = A.Constant(m.group())
        if self.peek() == "(" and isinstance(name, A.Constant):
            self.i += 1
            args = []
            self.newlines()
            if self.peek() != ")":
                while True:
                    self.newlines()
                    saved, self.comma_ok = self.comma_ok, False
                    args.append(self.expression())
                    self.comma_ok = saved
                    self.newlines()
                    if self.peek() == ",":
                        self.i += 1
                        continue
                    break
            self.newlines()
            self.expect(")", "Missing closing ')' in method call.")
            return A.Invoke(target, name.value, tuple(args), static)
        return A.Member(target, name, static)

    def variable(self) -> A.Variable:
        start = self.i
        self.i += 1
        if self.peek() == "{":
            end = self.s.find("}", self.i)
            if end < 0:
                raise self.error("Missing '}' in variable name.")
            name = self.s[self.i + 1 : end]
            self.i = end + 1
        else:
            if self.peek() in "$^":
                self.i += 1
                return A.Variable(self.s[self.i - 1], "", self.s[start : self.i])
            m = _VARIABLE_CHARS.match(self.s, self.i)
            if not m:
                raise self.error(
                    "Variable reference is not valid. '$' was not followed by a valid variable name character."
                )
            name = m.group()
            self.i = m.end()
        scope = ""
        if ":" in name:
            scope, name = name.split(":", 1)
            scope = scope.lower()
            if scope not in ("env", "script", "global", "local", "private", "variable"):
                raise self.error(f"The drive '{scope}:' is not modelled in the lab's PowerShell.")
        return A.Variable(name.lower(), scope, self.s[start : self.i])

    def primary(self) -> A.Node:
        saved, self.comma_ok = self.comma_ok, True
        try:
            return self.primary_inner()
        finally:
            self.comma_ok = saved

    def primary_inner(self) -> A.Node:
        ch = self.peek()
        if ch == "$":
            if self.peek(1) == "(":
                self.i += 2
                body = self.statements(")")
                self.i += 1
                return A.SubExpression(body)
            return self.variable()
        if ch == "@":
            nxt = self.peek(1)
            if nxt == "(":
                self.i += 2
                body = self.statements(")")
                self.i += 1
                return A.ArrayExpression(body)
            if nxt == "{":
                self.i += 2
                return self.hash_literal()
            if nxt in SINGLE_QUOTES + DOUBLE_QUOTES:
                return self.here_string()
            raise self.unexpected()
        if ch == "(":
            self.i += 1
            self.newlines()
            if self.peek() == ")":
                raise self.error("An expression was expected after '('.")
            inner = self.pipeline_or_assignment()
            self.newlines()
            self.expect(")", "Missing closing ')' in expression.")
            return A.Paren(inner)
        if ch == "{":
            return A.ScriptBlockExpr(self.scriptblock())
        if ch in SINGLE_QUOTES:
            return A.Constant(self.single_quoted())
        if ch in DOUBLE_QUOTES:
            return self.double_quoted()
        m = _NUMBER.match(self.s, self.i)
        if m:
            self.i = m.end()
            value = _number_value(m.group())
            if value is None:
                raise self.error(f"The numeric constant {m.group()} is not valid.")
            return A.Constant(value, m.group())
        if ch == "[":
            return self.unary()
        raise self.unexpected()

    def scriptblock(self) -> A.ScriptBlockBody:
        self.expect("{", "Missing '{'.")
        body = self.script_body(end="}")
        if self.peek() != "}":
            raise self.error("Missing closing '}' in statement block or type definition.")
        self.i += 1
        return body

    def hash_literal(self) -> A.HashLiteral:
        pairs = []
        while True:
            self.separators()
            ch = self.peek()
            if ch == "}":
                self.i += 1
                break
            if ch == EOF:
                raise self.error("Missing closing '}' in statement block or type definition.")
            if ch in SINGLE_QUOTES + DOUBLE_QUOTES + "$(":
                key = self.postfix(self.primary())
            elif ch.isdigit():
                key = self.primary()
            else:
                m = re.compile(r"[^\s=;}]+").match(self.s, self.i)
                if not m:
                    raise self.error("Missing key before '=' in hash literal.")
                self.i = m.end()
                key = A.Constant(m.group())
            self.spaces()
            if self.peek() != "=":
                raise self.error("Missing '=' operator after key in hash literal.")
            self.i += 1
            self.newlines()
            word = self.keyword()
            value = self.statement() if word in ("if", "foreach", "switch") else self.pipeline()
            pairs.append((key, value))
            self.spaces()
            if self.peek() not in ("\r", "\n", ";", "}"):
                raise self.error("Missing statement after '=' in hash literal.")
        return A.HashLiteral(tuple(pairs))

    def single_quoted(self) -> str:
        out = []
        self.i += 1
        s, n = self.s, self.n
        while self.i < n:
            ch = s[self.i]
            if ch in SINGLE_QUOTES:
                if self.i + 1 < n and s[self.i + 1] in SINGLE_QUOTES:
                    out.append(s[self.i + 1])
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise self.error("The string is missing the terminator: '.")

    def double_quoted(self) -> A.Node:
        self.i += 1
        parts: list[str | A.Node] = []
        text: list[str] = []
        s, n = self.s, self.n
        while self.i < n:
            ch = s[self.i]
            if ch == "`" and self.i + 1 < n:
                text.append(_ESCAPES.get(s[self.i + 1], s[self.i + 1]))
                self.i += 2
            elif ch in DOUBLE_QUOTES:
                if self.i + 1 < n and s[self.i + 1] in DOUBLE_QUOTES:
                    text.append(s[self.i + 1])
                    self.i += 2
                    continue
                self.i += 1
                if text:
                    parts.append("".join(text))
                if all(isinstance(p, str) for p in parts):
                    return A.Constant("".join(parts))  # type: ignore[arg-type]
                return A.Expandable(tuple(parts))
            elif ch == "$" and self.i + 1 < n and (s[self.i + 1].isalnum() or s[self.i + 1] in "_{(?$^"):
                if text:
                    parts.append("".join(text))
                    text = []
                if s[self.i + 1] == "(":
                    self.i += 2
                    body = self.statements(")")
                    self.i += 1
                    parts.append(A.SubExpression(body))
                else:
                    parts.append(self.variable())
            else:
                text.append(ch)
                self.i += 1
        raise self.error('The string is missing the terminator: ".')

    def here_string(self) -> A.Node:
        quote = self.peek(1)
        end = re.compile(r"\r?\n" + re.escape(quote) + "@").search(self.s, self.i + 2)
        first = self.s.find("\n", self.i + 2)
        if first < 0 or self.s[self.i + 2 : first].strip() or end is None:
            raise self.error("The string is missing the terminator: " + quote + "@.")
        body = self.s[first + 1 : end.start()]
        self.i = end.end()
        if quote in SINGLE_QUOTES:
            return A.Constant(body)
        inner = _Parser('"' + body.replace('"', '""') + '"')
        return inner.double_quoted()


_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def _number_value(text: str) -> int | float | None:
    m = _NUMBER.fullmatch(text.lstrip("-"))
    if not m:
        return None
    sign = -1 if text.startswith("-") else 1
    digits, suffix, multiplier = m.group(1), (m.group(2) or "").lower(), (m.group(3) or "").lower()
    if digits[:2].lower() == "0x":
        value: int | float = int(digits[2:], 16)
        if suffix != "l" and value > 0x7FFFFFFF and value <= 0xFFFFFFFF:
            value -= 1 << 32  # 0xFFFFFFFF is -1, an Int32
    elif any(c in digits for c in ".eE") or suffix == "d":
        value = float(digits)
    else:
        value = int(digits)
    if multiplier:
        value *= _MULTIPLIERS[multiplier]
    return sign * value
