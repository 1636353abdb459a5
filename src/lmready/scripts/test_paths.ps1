# lmready:test-paths v1
# lmready's destination round (REQUIREMENTS.md V3), Windows PowerShell 5.1: does each path that
# a source's VMs reference (ISOs) exist here? lmready fills in the paths.
$ErrorActionPreference = 'Stop'
$paths = ConvertFrom-Json -InputObject {paths}
$results = @(foreach ($p in $paths) { @{ path = [string]$p; exists = [bool](Test-Path -LiteralPath ([string]$p)) } })
ConvertTo-Json -Compress -Depth 3 -InputObject $results
