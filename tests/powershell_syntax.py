"""Windows PowerShell 5.1's verdict on a script's syntax, from the lab interpreter's parser:
5.1's grammar, so code only PowerShell 7 parses (&&, ??, ternaries...) is an error here."""

from __future__ import annotations

from lmready.lab.powershell.parser import ParseError, parse


def syntax_errors(script: str) -> list[str]:
    try:
        parse(script)
    except ParseError as exc:
        return [f"line {exc.line}: {exc}"]
    return []
