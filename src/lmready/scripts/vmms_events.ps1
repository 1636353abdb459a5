# lmready:vmms-events v1
# lmready explain (REQUIREMENTS.md section 6), Windows PowerShell 5.1: the Hyper-V VMMS admin
# log since a time lmready fills in, warnings and errors only (levels 1-3), newest first.
$ErrorActionPreference = 'Stop'
$since = [DateTime]::Parse({since}, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind)
try {
    $events = @(Get-WinEvent -FilterHashtable @{ LogName = 'Microsoft-Windows-Hyper-V-VMMS-Admin'; StartTime = $since; Level = 1, 2, 3 } -MaxEvents {max} -ErrorAction Stop)
} catch {
    # Get-WinEvent reports "no events" as an error.
    if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { $events = @() } else { throw }
}
$records = @(foreach ($e in $events) {
    @{ id = [int]$e.Id; time = $e.TimeCreated.ToUniversalTime().ToString('o'); level = [string]$e.LevelDisplayName;
       provider = [string]$e.ProviderName; message = [string]$e.Message }
})
ConvertTo-Json -Compress -Depth 3 -InputObject $records
