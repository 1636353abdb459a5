"""A Windows PowerShell 5.1 interpreter for the scripts lmready sends to a lab host.

parser: source text -> syntax tree (5.1's grammar; 7-only syntax is 5.1's parse error).
values: the value model and PowerShell's conversions. errors: ErrorRecord and the ways a
script stops. json: ConvertTo-Json/ConvertFrom-Json as 5.1 does them. evaluator: runs a tree.
builtins: the Microsoft.PowerShell.* cmdlets scripts use. dotnet: the .NET types scripts reach.
"""
