# lmready:per-vm v1
# lmready's per-VM round on a migration source (REQUIREMENTS.md V1-V3), Windows PowerShell 5.1:
# Compare-VM for each VM and destination lmready fills in, within a budget of seconds (real
# Compare-VM takes about a second per VM); the media, pass-through disks and vTPM of each VM;
# and the guardians this host holds, as a destination, for vTPM key protectors (name|thumbprint of
# the signing certificate: every host's local guardian is named UntrustedGuardian). Each VM's and
# each comparison's failure is its own entry's error: one VM never hides the others.
$ErrorActionPreference = 'Stop'
# No @() around ConvertFrom-Json: Windows PowerShell 5.1 emits a JSON array as one object.
$targets = ConvertFrom-Json -InputObject {targets}
$names = ConvertFrom-Json -InputObject {vms}
$budget = {seconds}
$watch = [Diagnostics.Stopwatch]::StartNew()
$comparisons = @(foreach ($t in $targets) {
    $r = @{ vm = [string]$t.vm; dst = [string]$t.dst; compared = $false; incompatibilities = @(); error = '' }
    if ($watch.Elapsed.TotalSeconds -ge $budget) {
        $r.error = 'not compared: the budget of ' + $budget + ' s on this host was used up'
    } else {
        try {
            $report = Compare-VM -Name ([string]$t.vm) -DestinationHost ([string]$t.host) -ErrorAction Stop
            $r.incompatibilities = @($report.Incompatibilities | ForEach-Object {
                @{ message_id = [int64]$_.MessageId; message = [string]$_.Message }
            })
            $r.compared = $true
        } catch { $r.error = [string]$_.Exception.Message }
    }
    $r
})
$media = @(foreach ($name in $names) {
    $m = @{ vm = [string]$name; iso_paths = @(); passthrough_disks = @(); vtpm = $null; key_protector_owner = ''; key_protector_error = ''; error = '' }
    try {
        $m.iso_paths = @(Get-VMDvdDrive -VMName $name | Where-Object { $_.Path } | ForEach-Object { [string]$_.Path })
        $m.passthrough_disks = @(Get-VMHardDiskDrive -VMName $name | Where-Object { $null -ne $_.DiskNumber } |
            ForEach-Object { 'disk ' + [string]$_.DiskNumber })
    } catch { $m.error = [string]$_.Exception.Message }
    try { $m.vtpm = [bool](Get-VMSecurity -VMName $name).TpmEnabled } catch {
        # Windows Server 2012 R2 has no Get-VMSecurity: no VM there has a virtual TPM (2016 brought it).
        if ([string]$_.FullyQualifiedErrorId -like 'CommandNotFoundException*') { $m.vtpm = $false }
        elseif (-not $m.error) { $m.error = [string]$_.Exception.Message }
    }
    if ($m.vtpm) {
        # Reading the owner needs the HGS client cmdlets (and admin rights); without them it stays
        # empty, and V2 says it could not tell, without hiding the VM's media from V3.
        try {
            $protector = ConvertTo-HgsKeyProtector -Bytes (Get-VMKeyProtector -VMName $name)
            $m.key_protector_owner = [string]$protector.Owner.Name + '|' + [string]$protector.Owner.SigningCertificate.Thumbprint
        } catch { $m.key_protector_error = [string]$_.Exception.Message }
    }
    $m
})
$guardians = $null
$guardiansError = ''
try { $guardians = @(Get-HgsGuardian | ForEach-Object { [string]$_.Name + '|' + [string]$_.SigningCertificate.Thumbprint }) }
catch { $guardiansError = [string]$_.Exception.Message }
ConvertTo-Json -Compress -Depth 6 -InputObject @{
    comparisons = $comparisons; media = $media; guardians = $guardians; guardians_error = $guardiansError
}
