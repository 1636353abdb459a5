# lmready:probe-ports v1
# lmready's pair round: TCP connects from this host (the migration source) to the destinations'
# migration addresses, all at once with one timeout. The targets are filled in by lmready.
$ErrorActionPreference = 'Stop'
# No @() around ConvertFrom-Json: Windows PowerShell 5.1 emits a JSON array as one object.
$targets = ConvertFrom-Json -InputObject {targets}
$probes = foreach ($t in $targets) {
    $client = New-Object System.Net.Sockets.TcpClient
    @{ target = $t; client = $client; task = $client.ConnectAsync([string]$t.address, [int]$t.port) }
}
try { [void][Threading.Tasks.Task]::WaitAll([Threading.Tasks.Task[]]@($probes | ForEach-Object { $_.task }), {timeout_ms}) } catch { }
$results = @(foreach ($p in $probes) {
    $open = $p.task.IsCompleted -and -not $p.task.IsFaulted -and $p.client.Connected
    $p.client.Dispose()
    @{ dst = [string]$p.target.dst; address = [string]$p.target.address; port = [int]$p.target.port; open = [bool]$open }
})
ConvertTo-Json -InputObject $results -Depth 3 -Compress
