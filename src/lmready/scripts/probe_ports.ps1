# lmready:probe-ports v2
# lmready's pair round: TCP connects from this host (the migration source) to the destinations'
# migration addresses, all at once with one timeout. The targets are filled in by lmready.
# Windows PowerShell 5.1. Each client is made for its target's address family (new TcpClient()
# is IPv4 only, so every IPv6 target would throw), and each target's error is its own: one bad
# target never hides the others.
$ErrorActionPreference = 'Stop'
# No @() around ConvertFrom-Json: Windows PowerShell 5.1 emits a JSON array as one object.
$targets = ConvertFrom-Json -InputObject {targets}
$probes = @(foreach ($t in $targets) {
    $p = @{ target = $t; client = $null; task = $null; error = '' }
    try {
        $ip = [System.Net.IPAddress]::Parse([string]$t.address)
        $p.client = New-Object -TypeName System.Net.Sockets.TcpClient -ArgumentList $ip.AddressFamily
        $p.task = $p.client.ConnectAsync($ip, [int]$t.port)
    } catch { $p.error = [string]$_.Exception.Message }
    $p
})
$tasks = @($probes | Where-Object { $null -ne $_.task } | ForEach-Object { $_.task })
if ($tasks.Count -gt 0) {
    try { [void][Threading.Tasks.Task]::WaitAll([Threading.Tasks.Task[]]$tasks, {timeout_ms}) } catch { }
}
$results = @(foreach ($p in $probes) {
    $open = $false
    $why = $p.error
    if ($null -ne $p.task) {
        if ($p.task.IsFaulted) { $why = [string]$p.task.Exception.GetBaseException().Message }
        elseif (-not $p.task.IsCompleted) { $why = 'no answer within {timeout_ms} ms' }
        else { $open = [bool]$p.client.Connected }
    }
    if ($null -ne $p.client) { $p.client.Dispose() }
    @{ dst = [string]$p.target.dst; address = [string]$p.target.address; port = [int]$p.target.port; open = [bool]$open; error = [string]$why }
})
ConvertTo-Json -InputObject $results -Depth 3 -Compress
