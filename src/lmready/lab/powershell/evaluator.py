"""Runs a parsed script as Windows PowerShell 5.1 would: scopes, pipelines that unroll arrays,
functions and script blocks, $_ , try/catch/finally, and errors that end a statement, or the
script when $ErrorActionPreference (or -ErrorAction) is Stop.

The commands a script calls come from three places: its own functions, the builtin cmdlets
(builtins.py), and the machine it runs on (a lab host: its cmdlets and native programs). A
command none of them has is CommandNotFoundException, as on Windows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lmready.lab.metadata import NO_ARGUMENT
from lmready.lab.metadata import Cmdlet as CmdletInfo
from lmready.lab.powershell import ast as A
from lmready.lab.powershell import dotnet
from lmready.lab.powershell.binding import Argument, action, bind, command
from lmready.lab.powershell.errors import (
    DotNetException,
    ErrorRecord,
    Flow,
    NotModelled,
    PSError,
    method_error,
    not_recognized,
    record,
)
from lmready.lab.powershell.parser import ParseError, parse
from lmready.lab.powershell.values import (
    ArrayList,
    ConversionError,
    EnumValue,
    Hashtable,
    OrderedDictionary,
    PSCustomObject,
    PSObject,
    TypedArray,
    compare,
    enumerate_value,
    equal,
    format_double,
    is_enum,
    is_enumerable,
    to_bool,
    to_double,
    to_enum,
    to_integer,
    to_number,
    to_string,
    type_name_of,
    unwrap,
    wildcard,
)


class ScriptBlock:
    is_scriptblock = True
    type_name = "System.Management.Automation.ScriptBlock"

    def __init__(self, body: A.ScriptBlockBody):
        self.body = body

    @property
    def text(self) -> str:
        return self.body.text


@dataclass
class Call:
    """One command invocation: its bound parameters, its input, where its output and errors go."""

    runtime: Runtime
    info: CmdletInfo
    params: dict[str, Any]
    input: list[Any] | None  # None: nothing piped in
    out: list[Any]
    error_action: str

    def write(self, value: Any) -> None:
        self.out.append(value)

    def error(self, rec: ErrorRecord) -> None:
        """A non-terminating error, handled as -ErrorAction or $ErrorActionPreference says."""
        if self.error_action == "Stop":
            raise PSError(rec, script_terminating=True)
        if self.error_action in ("Inquire", "Suspend"):
            raise NotModelled(f"-ErrorAction {self.error_action}")
        if self.error_action == "Continue":
            self.runtime.errors.append(rec.message)

    def passthru(self, value: Any) -> None:
        if self.params.get("PassThru") or self.params.get("Passthru"):
            self.out.append(value)

    def fail(self, message: str, error_id: str, category: str, exception: str, **extra: Any) -> None:
        """A non-terminating error of this cmdlet, its id composed as PowerShell composes it."""
        self.error(record(message, f"{error_id},{self.info.implementing_type}", category, exception, **extra))


class Cmdlet(Protocol):
    info: CmdletInfo  # the real cmdlet's metadata: parameters, implementing type
    modelled: frozenset[str]  # the parameters the lab implements

    def run(self, call: Call) -> None: ...


class Machine(Protocol):
    """What the script runs on: its cmdlets, native programs, environment and .NET services."""

    def cmdlet(self, name: str) -> Cmdlet | None:
        """The machine's cmdlet of that (lower-case) name; it may also deny a builtin one."""
        ...

    def native(self, name: str) -> Callable[[list[str]], list[Any]] | None: ...

    def environment(self, name: str) -> str | None: ...

    def identity(self) -> PSObject:
        """[Security.Principal.WindowsIdentity]::GetCurrent()"""
        ...

    def connect(self, address: str, port: int) -> str:
        """A TCP connect from this machine: "open", "refused" or "dropped"."""
        ...


class Scope:
    __slots__ = ("functions", "parent", "vars")

    def __init__(self, parent: Scope | None):
        self.vars: dict[str, Any] = {}
        self.functions: dict[str, A.FunctionDef] = {}
        self.parent = parent


_MISSING = object()
_CONSTANTS = {"true": True, "false": False, "null": None}
ALIASES = {
    "?": "Where-Object",
    "where": "Where-Object",
    "%": "ForEach-Object",
    "foreach": "ForEach-Object",
    "select": "Select-Object",
    "sort": "Sort-Object",
    "measure": "Measure-Object",
    "echo": "Write-Output",
    "write": "Write-Output",
    "gsv": "Get-Service",
    "gcim": "Get-CimInstance",
    "gp": "Get-ItemProperty",
    "gv": "Get-Variable",
}


@dataclass
class Outcome:
    output: list[Any]
    errors: list[str] = field(default_factory=list)
    terminating: str | None = None


class Runtime:
    def __init__(self, machine: Machine, builtins: dict[str, Cmdlet]):
        self.machine = machine
        self.builtins = builtins
        self.errors: list[str] = []
        self.global_scope = Scope(None)
        self.global_scope.vars.update(
            {
                "erroractionpreference": "Continue",
                "progresspreference": "Continue",
                "ofs": " ",
                "psversiontable": dotnet.ps_version_table(),
            }
        )
        self.scope = self.global_scope
        self.try_depth = 0
        # (type, property) of every read of a property the object does not have: PowerShell gives
        # $null, and the tests that tie the scripts to the metadata look here.
        self.missing_properties: list[tuple[str, str]] = []

    # --- entry point --------------------------------------------------------------------------

    def run(self, script: str) -> Outcome:
        try:
            body = parse(script)
        except ParseError as exc:
            return Outcome([], [], f"At line:{exc.line} char:{exc.char}: {exc}")
        out: list[Any] = []
        try:
            self.run_body(body, out)
        except PSError as exc:
            return Outcome(out, self.errors, exc.record.message)
        except NotModelled as exc:
            return Outcome(out, self.errors, str(exc))
        except Flow as flow:
            if flow.keyword == "throw":
                return Outcome(out, self.errors, to_string(flow.value))
        return Outcome(out, self.errors)

    def run_body(self, body: A.ScriptBlockBody, out: list[Any], input: list[Any] | None = None) -> None:
        if body.begin:
            self.statements(body.begin, out)
        if body.process:
            for item in input if input is not None else [None]:
                saved = self.scope.vars.get("_", _MISSING)
                self.scope.vars["_"] = item
                try:
                    self.statements(body.process, out)
                finally:
                    self._restore("_", saved)
        if body.end:
            self.statements(body.end, out)

    def _restore(self, name: str, saved: Any) -> None:
        if saved is _MISSING:
            self.scope.vars.pop(name, None)
        else:
            self.scope.vars[name] = saved

    # --- variables ----------------------------------------------------------------------------

    def lookup(self, node: A.Variable) -> Any:
        name = node.name
        if not node.scope:
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            if name == "psitem":
                name = "_"
            scope: Scope | None = self.scope
            while scope is not None:
                value = scope.vars.get(name, _MISSING)
                if value is not _MISSING:
                    return value
                scope = scope.parent
        elif node.scope == "env":
            return self.machine.environment(name)
        elif node.scope == "global":
            value = self.global_scope.vars.get(name, _MISSING)
            if value is not _MISSING:
                return value
        else:
            return self.lookup(A.Variable(name, "", node.text))
        # Windows would give $null; the lab stops instead (as Set-StrictMode does), so a misspelt
        # variable or 7's $a?.b, which 5.1 reads as the variable 'a?', never passes silently.
        raise PSError(
            record(
                f"The variable '${name}' cannot be retrieved because it has not been set.",
                "VariableIsUndefined",
                "InvalidOperation",
                target=name,
            )
        )

    def assign_variable(self, node: A.Variable, value: Any) -> None:
        if node.scope == "env":
            raise NotModelled("setting environment variables")
        scope = self.global_scope if node.scope == "global" else self.scope
        if node.scope == "script":
            scope = self.global_scope
        name = "_" if node.name == "psitem" else node.name
        if name in _CONSTANTS:
            raise PSError(
                record(
                    f"Cannot overwrite variable {name} because it is read-only or constant.",
                    "VariableNotWritable",
                    "WriteError",
                )
            )
        if name == "erroractionpreference":
            try:
                to_enum(value, "System.Management.Automation.ActionPreference")
            except ConversionError as exc:
                raise PSError(record(str(exc), "RuntimeException", "InvalidArgument")) from None
        scope.vars[name] = value

    def preference(self) -> str:
        value = self.lookup(A.Variable("erroractionpreference"))
        try:
            return to_enum(value, "System.Management.Automation.ActionPreference").name
        except ConversionError:
            return "Continue"

    # --- statements ---------------------------------------------------------------------------

    def statements(self, block: A.StatementList, out: list[Any]) -> None:
        for statement in block.statements:
            try:
                self.statement(statement, out)
            except PSError as exc:
                if exc.script_terminating or self.try_depth or self.preference() == "Stop":
                    raise
                self.errors.append(exc.record.message)

    def collect(self, block: A.StatementList) -> list[Any]:
        out: list[Any] = []
        self.statements(block, out)
        return out

    def statement(self, node: A.Node, out: list[Any]) -> None:
        kind = type(node)
        if kind is A.Pipeline:
            out.extend(self.pipeline(node))  # type: ignore[arg-type]
        elif kind is A.Assignment:
            self.assignment(node)  # type: ignore[arg-type]
        elif kind is A.If:
            for condition, body in node.clauses:  # type: ignore[attr-defined]
                if to_bool(self.value(condition)):
                    self.statements(body, out)
                    return
            if node.otherwise is not None:  # type: ignore[attr-defined]
                self.statements(node.otherwise, out)  # type: ignore[attr-defined]
        elif kind is A.ForEach:
            self.foreach(node, out)  # type: ignore[arg-type]
        elif kind is A.Try:
            self.try_statement(node, out)  # type: ignore[arg-type]
        elif kind is A.FunctionDef:
            self.scope.functions[node.name.lower()] = node  # type: ignore[attr-defined]
        elif kind is A.Flow:
            self.flow(node)  # type: ignore[arg-type]
        elif kind is A.Switch:
            self.switch(node, out)  # type: ignore[arg-type]
        elif kind is A.While or kind is A.For:
            self.loop(node, out)
        elif kind is A.Cast and node.type_name.lower() in ("void", "system.void"):  # type: ignore[attr-defined]
            self.eval(node.operand)  # type: ignore[attr-defined]
        else:
            value = self.eval(node)
            if value is None and kind is A.Invoke:
                return  # a void method (Dispose, Add of a Hashtable) writes nothing
            if is_enumerable(value):
                out.extend(value)
            else:
                out.append(value)

    def value(self, node: A.Node) -> Any:
        """The value of a pipeline or statement used as an expression: its output, unwrapped."""
        kind = type(node)
        if kind is A.Pipeline:
            return unwrap(self.pipeline(node))  # type: ignore[arg-type]
        if kind in (A.If, A.ForEach, A.Switch, A.Try, A.While, A.For):
            out: list[Any] = []
            self.statement(node, out)
            return unwrap(out)
        if kind is A.Assignment:
            self.assignment(node)  # type: ignore[arg-type]
            return self.eval(node.target)  # type: ignore[attr-defined]
        return self.eval(node)

    def flow(self, node: A.Flow) -> None:
        value = None if node.value is None else self.value(node.value)
        if node.keyword == "throw":
            if isinstance(value, ErrorRecord):
                raise PSError(value, script_terminating=True)
            message = to_string(value) if value is not None else "ScriptHalted"
            raise PSError(record(message, message, "OperationStopped", target=value), script_terminating=True)
        if node.keyword == "exit":
            raise NotModelled("exit")
        raise Flow(node.keyword, value)

    def foreach(self, node: A.ForEach, out: list[Any]) -> None:
        items = self.value(node.collection)
        if items is None:
            return
        for item in list(enumerate_value(items)):
            self.scope.vars[node.variable] = item
            try:
                self.statements(node.body, out)
            except Flow as flow:
                if flow.keyword == "break":
                    break
                if flow.keyword != "continue":
                    raise

    def loop(self, node: A.Node, out: list[Any]) -> None:
        if isinstance(node, A.For):
            if node.init is not None:
                self.value(node.init)
            condition, body, step, do, until = node.condition, node.body, node.step, False, False
        else:
            assert isinstance(node, A.While)
            condition, body, step, do, until = node.condition, node.body, None, node.do, node.until
        first = True
        for _ in range(100_000):
            if not (do and first) and condition is not None and to_bool(self.value(condition)) == until:
                return
            first = False
            try:
                self.statements(body, out)
            except Flow as flow:
                if flow.keyword == "break":
                    return
                if flow.keyword != "continue":
                    raise
            if step is not None:
                self.value(step)
        raise NotModelled("a loop of more than 100000 rounds")

    def switch(self, node: A.Switch, out: list[Any]) -> None:
        subject = self.value(node.value)
        for item in list(enumerate_value(subject)) if subject is not None else [None]:
            matched = False
            saved = self.scope.vars.get("_", _MISSING)
            self.scope.vars["_"] = item
            try:
                for pattern, body in node.clauses:
                    if pattern is None:
                        continue
                    if isinstance(pattern, A.ScriptBlockExpr):
                        hit = to_bool(unwrap(self.collect_body(pattern.block)))
                    else:
                        wanted = self.eval(pattern)
                        if node.mode == "wildcard":
                            hit = bool(wildcard(to_string(wanted)).match(to_string(item)))
                        elif node.mode == "regex":
                            hit = regex(to_string(wanted)).search(to_string(item)) is not None
                        else:
                            hit = equal(item, wanted)
                    if hit:
                        matched = True
                        self.statements(body, out)
                if not matched:
                    for pattern, body in node.clauses:
                        if pattern is None:
                            self.statements(body, out)
            except Flow as flow:
                if flow.keyword == "break":
                    return
                if flow.keyword != "continue":
                    raise
            finally:
                self._restore("_", saved)

    def collect_body(self, body: A.ScriptBlockBody) -> list[Any]:
        out: list[Any] = []
        self.run_body(body, out)
        return out

    def try_statement(self, node: A.Try, out: list[Any]) -> None:
        try:
            self.try_depth += 1
            try:
                self.statements(node.body, out)
            finally:
                self.try_depth -= 1
        except PSError as exc:
            handler = next((c for c in node.catches if _catches(c, exc.record)), None)
            if handler is None:
                raise
            saved = self.scope.vars.get("_", _MISSING)
            self.scope.vars["_"] = exc.record
            try:
                self.statements(handler.body, out)
            finally:
                self._restore("_", saved)
        finally:
            if node.final is not None:
                self.statements(node.final, out)

    # --- assignment ---------------------------------------------------------------------------

    def assignment(self, node: A.Assignment) -> None:
        value = self.value(node.value)
        target = node.target
        if node.op != "=":
            value = self.binary(node.op[0], self.eval(target), value)
        if isinstance(target, A.Cast):
            value = self.cast(target.type_name, value)
            target = target.operand
        if isinstance(target, A.Variable):
            self.assign_variable(target, value)
        elif isinstance(target, A.Member):
            owner = self.eval(target.target)
            name = to_string(self.eval(target.name))
            if isinstance(owner, Hashtable):
                owner[name] = value
            elif isinstance(owner, PSObject):
                try:
                    owner.set(name, value)
                except ConversionError as exc:
                    raise PSError(
                        record(str(exc), "PropertyAssignmentException", "InvalidOperation")
                    ) from None
            else:
                raise PSError(
                    record(
                        f"The property '{name}' cannot be found on this object. Verify that the property "
                        "exists and can be set.",
                        "PropertyNotFound",
                        "InvalidOperation",
                    )
                )
        elif isinstance(target, A.Index):
            owner = self.eval(target.target)
            index = self.eval(target.index)
            if isinstance(owner, Hashtable):
                owner[index] = value
            elif isinstance(owner, list):
                owner[to_integer(index)] = value
            else:
                raise NotModelled(f"assigning an index of a {type_name_of(owner)}")
        else:
            raise NotModelled("this assignment")

    # --- pipelines and commands ---------------------------------------------------------------

    def pipeline(self, node: A.Pipeline) -> list[Any]:
        first = node.elements[0]
        if isinstance(first, A.Command):
            items = self.command(first, None)
        else:
            items = list(enumerate_value(self.eval(first)))
        for element in node.elements[1:]:
            items = self.command(element, items)  # type: ignore[arg-type]
        return items

    def arguments(self, elements: tuple[A.Node, ...]) -> tuple[list[Argument], list[str]]:
        """The evaluated arguments, and their text as a native program receives it."""
        args, texts = [], []
        for element in elements:
            if isinstance(element, A.CommandParameter):
                value = NO_ARGUMENT if element.argument is None else self.eval(element.argument)
                args.append(Argument(element.name, value))
                texts.append(element.text)
            else:
                value = self.eval(element)
                args.append(Argument(None, value))
                texts.append(
                    element.text if isinstance(element, A.Constant) and element.text else to_string(value)
                )
        return args, texts

    def command(self, node: A.Command, input: list[Any] | None) -> list[Any]:
        if node.invocation:
            target = self.eval(node.name)
            if isinstance(target, ScriptBlock):
                args, _ = self.arguments(node.elements)
                return self.invoke_block(target, args, input, new_scope=node.invocation == "&")
            name = to_string(target)
        else:
            name = node.name.value  # type: ignore[attr-defined]
        lowered = name.lower()
        lowered = ALIASES.get(lowered, name).lower() if lowered in ALIASES else lowered
        function = self.find_function(lowered)
        if function is not None:
            args, _ = self.arguments(node.elements)
            return self.invoke_block(
                ScriptBlock(function.body), args, input, new_scope=True, name=function.name
            )
        cmdlet = self.machine.cmdlet(lowered) or self.builtins.get(lowered)
        if cmdlet is not None and command(lowered) is not None:
            args, _ = self.arguments(node.elements)
            return self.invoke_cmdlet(cmdlet, args, input)
        native = self.machine.native(lowered.removesuffix(".exe"))
        if native is not None:
            _, texts = self.arguments(node.elements)
            return native(texts)
        raise not_recognized(name)

    def find_function(self, name: str) -> A.FunctionDef | None:
        scope: Scope | None = self.scope
        while scope is not None:
            if name in scope.functions:
                return scope.functions[name]
            scope = scope.parent
        return None

    def invoke_cmdlet(self, cmdlet: Cmdlet, args: list[Argument], input: list[Any] | None) -> list[Any]:
        params = bind(cmdlet.info, args, cmdlet.modelled, input is not None, _is_scriptblock)
        if params.get("Confirm"):
            raise NotModelled("confirmation prompts (-Confirm)")
        error_action = action(params["ErrorAction"]) if "ErrorAction" in params else self.preference()
        out: list[Any] = []
        cmdlet.run(Call(self, cmdlet.info, params, input, out, error_action))
        return out

    def invoke_block(
        self,
        block: ScriptBlock,
        args: list[Argument],
        input: list[Any] | None = None,
        new_scope: bool = True,
        name: str = "",
        dollar_under: Any = _MISSING,
    ) -> list[Any]:
        body = block.body
        saved_scope = self.scope
        if new_scope:
            self.scope = Scope(self.scope)
        saved_under = self.scope.vars.get("_", _MISSING)
        try:
            if dollar_under is not _MISSING:
                self.scope.vars["_"] = dollar_under
            self.bind_block(body, args, name)
            out: list[Any] = []
            try:
                if body.process is None and body.begin is None and input is not None and new_scope:
                    self.scope.vars["input"] = list(input)
                self.run_body(body, out, input)
            except Flow as flow:
                if flow.keyword != "return":
                    raise
                if flow.value is not None:
                    out.extend(enumerate_value(flow.value))
            return out
        finally:
            if new_scope:
                self.scope = saved_scope
            else:
                self._restore("_", saved_under)

    def bind_block(self, body: A.ScriptBlockBody, args: list[Argument], name: str) -> None:
        params = {p.name: p for p in body.params}
        bound: dict[str, Any] = {}
        rest: list[Any] = []
        pending = list(args)
        while pending:
            arg = pending.pop(0)
            if arg.name is None:
                rest.append(arg.value)
                continue
            matches = [p for p in params if p.startswith(arg.name.lower())]
            exact = [p for p in matches if p == arg.name.lower()]
            if exact:
                matches = exact
            if len(matches) != 1:
                if not matches:
                    raise PSError(
                        record(
                            f"A parameter cannot be found that matches parameter name '{arg.name}'.",
                            f"NamedParameterNotFound,{name}",
                            "InvalidArgument",
                            "System.Management.Automation.ParameterBindingException",
                        )
                    )
                raise PSError(
                    record(
                        f"Parameter cannot be processed because the parameter name '{arg.name}' is ambiguous.",
                        f"AmbiguousParameter,{name}",
                        "InvalidArgument",
                        "System.Management.Automation.ParameterBindingException",
                    )
                )
            value = arg.value
            param = params[matches[0]]
            if value is NO_ARGUMENT:
                if (param.type_name or "").lower() == "switch":
                    value = True
                elif pending and pending[0].name is None:
                    value = pending.pop(0).value
                else:
                    raise PSError(
                        record(
                            f"Missing an argument for parameter '{param.name}'.",
                            f"MissingArgument,{name}",
                            "InvalidArgument",
                            "System.Management.Automation.ParameterBindingException",
                        )
                    )
            bound[param.name] = value
        for param in body.params:
            if param.name not in bound and rest:
                bound[param.name] = rest.pop(0)
        for param in body.params:
            if param.name in bound:
                value = bound[param.name]
                if param.type_name:
                    try:
                        value = self.cast(param.type_name, value)
                    except PSError as exc:
                        raise PSError(
                            record(
                                f"Cannot process argument transformation on parameter '{param.name}'. "
                                f"{exc.record.message}",
                                f"ParameterArgumentTransformationError,{name}",
                                "InvalidData",
                                "System.Management.Automation.ParameterBindingException",
                            )
                        ) from None
            elif param.default is not None:
                value = self.eval(param.default)
            elif (param.type_name or "").lower() == "switch":
                value = False
            else:
                value = self.cast(param.type_name, None) if param.type_name else None
            self.scope.vars[param.name] = value
        self.scope.vars["args"] = rest

    # --- expressions --------------------------------------------------------------------------

    def eval(self, node: A.Node) -> Any:
        kind = type(node)
        if kind is A.Constant:
            return node.value  # type: ignore[attr-defined]
        if kind is A.Variable:
            return self.lookup(node)  # type: ignore[arg-type]
        if kind is A.Member:
            return self.member(node)  # type: ignore[arg-type]
        if kind is A.Cast:
            return self.cast(node.type_name, self.eval(node.operand))  # type: ignore[attr-defined]
        if kind is A.Binary:
            return self.binary_node(node)  # type: ignore[arg-type]
        if kind is A.Unary:
            return self.unary(node)  # type: ignore[arg-type]
        if kind is A.Invoke:
            return self.invoke(node)  # type: ignore[arg-type]
        if kind is A.Expandable:
            return "".join(
                part if isinstance(part, str) else self.expand(part)
                for part in node.parts  # type: ignore[attr-defined]
            )
        if kind is A.HashLiteral:
            table = OrderedDictionary() if node.ordered else Hashtable()  # type: ignore[attr-defined]
            for key, value in node.pairs:  # type: ignore[attr-defined]
                k = self.eval(key)
                if k in table:
                    raise PSError(
                        record(
                            f"Duplicate keys '{k}' are not allowed in hash literals.",
                            "DuplicateKeyInHashLiteral",
                            "ParserError",
                        )
                    )
                table[k] = self.value(value)
            return table
        if kind is A.ArrayLiteral:
            return [self.eval(item) for item in node.items]  # type: ignore[attr-defined]
        if kind is A.ArrayExpression:
            return self.collect(node.body)  # type: ignore[attr-defined]
        if kind is A.SubExpression:
            return unwrap(self.collect(node.body))  # type: ignore[attr-defined]
        if kind is A.Paren:
            return self.value(node.pipeline)  # type: ignore[attr-defined]
        if kind is A.ScriptBlockExpr:
            return ScriptBlock(node.block)  # type: ignore[attr-defined]
        if kind is A.Index:
            return self.index(node)  # type: ignore[arg-type]
        if kind is A.TypeLiteral:
            return dotnet.type_ref(node.name)  # type: ignore[attr-defined]
        if kind is A.Pipeline:
            return unwrap(self.pipeline(node))  # type: ignore[arg-type]
        return self.value(node)

    def expand(self, node: A.Node) -> str:
        value = self.eval(node)
        if isinstance(value, list):
            return to_string(self.lookup(A.Variable("ofs"))).join(to_string(v) for v in value)
        return to_string(value)

    def cast(self, type_name: str, value: Any) -> Any:
        try:
            return convert(type_name, value)
        except ConversionError as exc:
            raise PSError(record(str(exc), "InvalidCastParseTargetInvocation", "InvalidArgument")) from None

    def member(self, node: A.Member) -> Any:
        target = self.eval(node.target)
        name = to_string(self.eval(node.name))
        if node.static:
            return dotnet.static_member(self, target, name)
        value = get_member(target, name)
        if value is None and type(target) is PSObject and not target.has(name) and name.lower() != "psobject":
            self.missing_properties.append((target.type_name, name))
        return value

    def invoke(self, node: A.Invoke) -> Any:
        target = self.eval(node.target)
        args = [self.eval(a) for a in node.args]
        try:
            if node.static:
                return dotnet.static_call(self, target, node.name, args)
            return call_method(self, target, node.name, args)
        except dotnet.DotNetError as exc:
            raise method_error(node.name, args, exc.exception) from None
        except ConversionError as exc:
            raise PSError(record(str(exc), "MethodNotFound", "InvalidOperation")) from None

    def index(self, node: A.Index) -> Any:
        target = self.eval(node.target)
        index = self.eval(node.index)
        if target is None:
            raise PSError(record("Cannot index into a null array.", "NullArray", "InvalidOperation"))
        if isinstance(target, Hashtable):
            if isinstance(index, list):
                return [target[i] for i in index]
            return target[index]
        if isinstance(target, dotnet.PropertyCollection):
            return target.find(to_string(index))
        sequence = target if isinstance(target, list | tuple | str) else [target]
        if isinstance(index, list):
            return [_item(sequence, to_integer(i)) for i in index]
        return _item(sequence, to_integer(index))

    def unary(self, node: A.Unary) -> Any:
        value = self.eval(node.operand)
        if node.op == "-not":
            return not to_bool(value)
        if node.op == ",":
            return [value]
        if node.op == "-":
            return -to_number(value)
        if node.op == "+":
            return to_number(value)
        if node.op == "-join":
            return "".join(to_string(v) for v in enumerate_value(value))
        if node.op == "-split":
            return re.split(r"\s+", to_string(value).strip())
        raise NotModelled(f"the operator {node.op}")

    def binary_node(self, node: A.Binary) -> Any:
        op = node.op
        if op == "-and":
            return to_bool(self.eval(node.left)) and to_bool(self.eval(node.right))
        if op == "-or":
            return to_bool(self.eval(node.left)) or to_bool(self.eval(node.right))
        return self.binary(op, self.eval(node.left), self.eval(node.right))

    def binary(self, op: str, left: Any, right: Any) -> Any:
        try:
            result = binary(op, left, right, self)
        except ConversionError as exc:
            raise PSError(record(str(exc), "RuntimeException", "InvalidArgument")) from None
        except re.error as exc:
            raise PSError(
                record(
                    f"The regular expression pattern {to_string(right)} is not valid: {exc}.",
                    "InvalidRegularExpression",
                    "InvalidOperation",
                )
            ) from None
        if result is True and op in ("-match", "-imatch", "-cmatch") and not is_enumerable(left):
            # $matches: the groups of a successful scalar -match, as PowerShell sets it
            found = regex(to_string(right), op == "-cmatch").search(to_string(left))
            if found is not None:
                groups = Hashtable([(0, found.group(0))])
                for i, group in enumerate(found.groups(), 1):
                    if group is not None:
                        groups[i] = group
                for name, group in found.groupdict().items():
                    if group is not None:
                        groups[name] = group
                self.scope.vars["matches"] = groups
        return result


@functools.lru_cache(maxsize=256)
def regex(pattern: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """A .NET regular expression compiled for Python: (?<name>...) groups and \\k<name>."""
    translated = re.sub(r"\(\?<(?![=!])(\w+)>", r"(?P<\1>", pattern)
    translated = re.sub(r"\\k<(\w+)>", r"(?P=\1)", translated)
    return re.compile(translated, 0 if case_sensitive else re.IGNORECASE)


def _is_scriptblock(value: object) -> bool:
    return isinstance(value, ScriptBlock)


def _item(sequence: Any, i: int) -> Any:
    try:
        return sequence[i]
    except IndexError:
        return None


def _catches(handler: A.Catch, rec: ErrorRecord) -> bool:
    if not handler.types:
        return True
    names = _exception_names(rec.exception)
    return any(t.lower().removeprefix("system.") in names for t in handler.types)


def _exception_names(exception: DotNetException) -> set[str]:
    full = exception.type_name.lower()
    short = full.rsplit(".", 1)[-1]
    names = {full.removeprefix("system."), short, "exception"}
    if full.startswith("system.management.automation."):
        names |= {"management.automation.runtimeexception", "runtimeexception"}
    return names


# --- operators --------------------------------------------------------------------------------


def binary(op: str, left: Any, right: Any, runtime: Runtime | None = None) -> Any:
    base, case_sensitive = op, False
    if op[1:2] in ("c", "i") and "-" + op[2:] in _COMPARISONS:
        base, case_sensitive = "-" + op[2:], op[1] == "c"
    handler = _COMPARISONS.get(base)
    if handler is not None:
        if base in ("-contains", "-notcontains", "-in", "-notin"):
            return handler(left, right, case_sensitive)
        if is_enumerable(left):
            return [item for item in left if handler(item, right, case_sensitive)]
        return handler(left, right, case_sensitive)
    if op == "+":
        return _add(left, right)
    if op in ("-", "*", "/", "%"):
        return _arithmetic(op, left, right)
    if op == "-f":
        return _format(to_string(left), list(enumerate_value(right)) if right is not None else [None])
    if op == "-join":
        return to_string(right).join(to_string(v) for v in enumerate_value(left))
    if op in ("-split", "-isplit", "-csplit"):
        return regex(to_string(right), op == "-csplit").split(to_string(left))
    if op in ("-replace", "-ireplace", "-creplace"):
        pattern, replacement = ([*right, ""])[:2] if isinstance(right, list) else (right, "")
        compiled = regex(to_string(pattern), op == "-creplace")
        substitute = _dotnet_replacement(to_string(replacement))
        if is_enumerable(left):
            return [compiled.sub(substitute, to_string(v)) for v in left]
        return compiled.sub(substitute, to_string(left))
    if op in ("-is", "-isnot"):
        result = dotnet.is_instance(left, right)
        return result if op == "-is" else not result
    if op == "-as":
        try:
            return convert(right.name if isinstance(right, dotnet.TypeRef) else to_string(right), left)
        except (ConversionError, PSError):
            return None
    if op == "..":
        a, b = to_integer(left), to_integer(right)
        return list(range(a, b + 1)) if a <= b else list(range(a, b - 1, -1))
    if op in ("-band", "-bor", "-bxor"):
        a, b = to_integer(left, "long"), to_integer(right, "long")
        return {"-band": a & b, "-bor": a | b, "-bxor": a ^ b}[op]
    raise NotModelled(f"the operator {op}")


def _dotnet_replacement(text: str) -> str:
    return re.sub(r"\$(\d+)", r"\\\1", text.replace("\\", "\\\\"))


def _eq(left: Any, right: Any, cs: bool) -> bool:
    return equal(left, right, cs)


def _ne(left: Any, right: Any, cs: bool) -> bool:
    return not equal(left, right, cs)


def _ordering(test: Callable[[int], bool]) -> Callable[[Any, Any, bool], bool]:
    def handler(left: Any, right: Any, cs: bool) -> bool:
        try:
            return test(compare(left, right, cs))
        except (ConversionError, TypeError) as exc:
            raise ConversionError(
                f'Could not compare "{to_string(left)}" to "{to_string(right)}". Error: "{exc}"'
            ) from None

    return handler


def _like(left: Any, right: Any, cs: bool) -> bool:
    return wildcard(to_string(right), cs).match(to_string(left)) is not None


def _match(left: Any, right: Any, cs: bool) -> bool:
    return regex(to_string(right), cs).search(to_string(left)) is not None


def _contains(left: Any, right: Any, cs: bool) -> bool:
    return any(equal(item, right, cs) for item in enumerate_value(left))


_COMPARISONS: dict[str, Callable[[Any, Any, bool], bool]] = {
    "-eq": _eq,
    "-ne": _ne,
    "-gt": _ordering(lambda c: c > 0),
    "-ge": _ordering(lambda c: c >= 0),
    "-lt": _ordering(lambda c: c < 0),
    "-le": _ordering(lambda c: c <= 0),
    "-like": _like,
    "-notlike": lambda left, right, cs: not _like(left, right, cs),
    "-match": _match,
    "-notmatch": lambda left, right, cs: not _match(left, right, cs),
    "-contains": _contains,
    "-notcontains": lambda left, right, cs: not _contains(left, right, cs),
    "-in": lambda left, right, cs: _contains(right, left, cs),
    "-notin": lambda left, right, cs: not _contains(right, left, cs),
}


def _add(left: Any, right: Any) -> Any:
    if left is None:
        return right
    if isinstance(left, str):
        return left + to_string(right)
    if isinstance(left, list):
        return [*left, *enumerate_value(right)] if True else left
    if isinstance(left, Hashtable):
        if not isinstance(right, Hashtable):
            raise ConversionError("A hash table can only be added to another hash table.")
        merged = type(left)(left.items())
        for k, v in right.items():
            merged.add(k, v)
        return merged
    if isinstance(left, datetime):
        raise NotModelled("date arithmetic")
    return _arithmetic("+", left, right)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if isinstance(left, list) or isinstance(right, list):
        raise ConversionError(
            f"Method invocation failed because [System.Object[]] does not contain a method named 'op_{_OP_NAMES[op]}'."
        )
    a, b = to_number(left), to_number(right)
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif op == "%":
        if b == 0:
            raise ConversionError("Attempted to divide by zero.")
        result = abs(a) % abs(b) * (1 if a >= 0 else -1)
    else:
        if b == 0:
            raise ConversionError("Attempted to divide by zero.")
        result = a / b
        if isinstance(a, int) and isinstance(b, int) and result.is_integer():
            result = int(result)
    if isinstance(result, int) and not -(2**63) <= result < 2**63:
        return float(result)
    return result


_OP_NAMES = {"+": "Addition", "-": "Subtraction", "*": "Multiply", "/": "Division", "%": "Modulus"}
_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}")


def _format(template: str, args: list[Any]) -> str:
    def item(m: re.Match[str]) -> str:
        if m.group() in ("{{", "}}"):
            return m.group()[0]
        i = int(m.group(1))
        if i >= len(args):
            raise ConversionError(
                "Error formatting a string: Index (zero based) must be greater than or equal to zero and "
                "less than the size of the argument list.."
            )
        value = args[i]
        spec = m.group(3)
        text = dotnet.format_value(value, spec) if spec else to_string(value)
        width = int(m.group(2) or 0)
        return text.rjust(width) if width > 0 else text.ljust(-width)

    return _FORMAT_ITEM.sub(item, template)


# --- conversions by type name -----------------------------------------------------------------


def convert(type_name: str, value: Any) -> Any:
    lowered = type_name.lower().removeprefix("system.")
    if lowered.endswith("[]"):
        element = type_name[:-2]
        items = [] if value is None else list(enumerate_value(value))
        return TypedArray((convert(element, v) for v in items), dotnet.full_name(element))
    if lowered in ("string",):
        return None if False else to_string(value)
    if lowered in ("bool", "boolean"):
        return to_bool(value)
    if lowered in ("int", "int32", "long", "int64", "uint32", "uint64", "byte", "int16", "uint16"):
        key = {"int32": "int", "int64": "long"}.get(lowered, lowered)
        return to_integer(value, key)
    if lowered in ("double", "single", "float", "decimal"):
        return to_double(value)
    if lowered in ("object", "psobject"):
        return value
    if lowered in ("array", "object[]"):
        return [] if value is None else list(enumerate_value(value))
    if lowered in ("void",):
        return None
    if lowered in ("hashtable", "collections.hashtable"):
        if isinstance(value, Hashtable):
            return value
        raise ConversionError(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to type '
            '"System.Collections.Hashtable".'
        )
    if lowered in ("pscustomobject", "management.automation.pscustomobject"):
        if isinstance(value, Hashtable):
            return PSCustomObject({to_string(k): v for k, v in value.items()})
        return value
    if lowered in ("scriptblock", "management.automation.scriptblock"):
        if isinstance(value, ScriptBlock):
            return value
        raise ConversionError(
            f'Cannot convert the "{to_string(value)}" value of type "{type_name_of(value)}" to type '
            '"System.Management.Automation.ScriptBlock".'
        )
    if lowered in ("switch", "management.automation.switchparameter"):
        return to_bool(value)
    if lowered in ("datetime",):
        if isinstance(value, datetime):
            return value
        return dotnet.parse_datetime(to_string(value))
    if lowered in ("collections.arraylist",):
        return ArrayList(enumerate_value(value)) if value is not None else ArrayList()
    if lowered in ("ordered",):
        raise ConversionError("The ordered attribute can be specified only on a hash literal node.")
    full = dotnet.full_name(type_name)
    if is_enum(full):
        return to_enum(value, full)
    return dotnet.convert_to(full, value)


# --- members ----------------------------------------------------------------------------------


def get_member(target: Any, name: str) -> Any:
    lowered = name.lower()
    if target is None:
        return None
    if lowered == "psobject":
        return dotnet.PSObjectInfo(target)
    if isinstance(target, PSObject):
        if target.has(name):
            return target.get(name)
        return dotnet.extra_member(target, lowered)
    if isinstance(target, Hashtable):
        if name in target:
            return target[name]
        if lowered == "count":
            return len(target)
        if lowered == "keys":
            return target.keys()
        if lowered == "values":
            return target.values()
        return None
    if isinstance(target, list | tuple):
        if lowered in ("count", "length"):
            return len(target)
        found = []
        for item in target:
            value = get_member(item, name)
            if value is not None:
                found.extend(enumerate_value(value))
        return unwrap(found)
    if isinstance(target, str) and lowered == "length":
        return len(target)
    if isinstance(target, EnumValue) and lowered == "value__":
        return target.value
    if lowered in ("count", "length"):
        return 1
    return dotnet.extra_member(target, lowered)


def call_method(runtime: Runtime, target: Any, name: str, args: list[Any]) -> Any:
    lowered = name.lower()
    if target is None:
        raise PSError(
            record(
                "You cannot call a method on a null-valued expression.",
                "InvokeMethodOnNull",
                "InvalidOperation",
            )
        )
    if isinstance(target, ScriptBlock) and lowered == "invoke":
        return unwrap(runtime.invoke_block(target, [Argument(None, a) for a in args]))
    if isinstance(target, ArrayList):
        if lowered == "add":
            target.append(args[0])
            return len(target) - 1
        if lowered == "addrange":
            target.extend(enumerate_value(args[0]))
            return None
        if lowered == "toarray":
            return list(target)
    if isinstance(target, list) and lowered == "contains":
        return any(equal(v, args[0], True) for v in target)
    if isinstance(target, Hashtable):
        if lowered in ("containskey", "contains"):
            return args[0] in target
        if lowered == "add":
            target.add(args[0], args[1])
            return None
        if lowered == "remove":
            target.remove(args[0])
            return None
    if isinstance(target, PSObject):
        return target.call(name, args)
    if lowered == "tostring":
        if args and isinstance(target, datetime | int | float):
            return dotnet.format_value(target, to_string(args[0]))
        if isinstance(target, float):
            return format_double(target)
        return to_string(target)
    if lowered == "gettype":
        return dotnet.type_ref(type_name_of(target))
    if isinstance(target, str):
        return dotnet.string_method(target, lowered, args, name)
    return dotnet.call_other(target, lowered, args, name)
