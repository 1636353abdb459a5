# lmready:collect-host v2
# lmready's one round trip per host: everything REQUIREMENTS.md sections 1-3 need from this
# host, printed as one JSON document. Written for Windows PowerShell 5.1: enums are cast with
# [string], ConvertTo-Json gets an explicit -Depth, lists are built with @() inside a hashtable
# (so one element stays a list), and each fact is read on its own so that one missing cmdlet or
# one access denied is reported in "problems" (which fact, and why) instead of losing the whole
# document: lmready treats that fact as unread, never as empty.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$problems = New-Object System.Collections.ArrayList

function Add-Problem([string]$Fact, [string]$What, $ErrorRecord) {
    [void]$problems.Add(@{ fact = $Fact; reason = "${What}: $($ErrorRecord.Exception.Message)" })
}

function Read-Fact([string]$Fact, [string]$What, [scriptblock]$Block) {
    try { & $Block } catch { Add-Problem $Fact $What $_ }
}

$facts = [ordered]@{ wire = 2 }
$facts.clock_utc = [DateTime]::UtcNow.ToString('o')

$cs = Read-Fact 'computer_system' 'Win32_ComputerSystem' { Get-CimInstance -ClassName Win32_ComputerSystem }
$os = Read-Fact 'operating_system' 'Win32_OperatingSystem' { Get-CimInstance -ClassName Win32_OperatingSystem }
$facts.computer_name = [string]$env:COMPUTERNAME
# The DNS host name is not cut to 15 characters as the NetBIOS name is: lmready builds FQDNs from it.
$facts.dns_host_name = [string]$cs.DNSHostName
$facts.domain = [string]$cs.Domain
$facts.part_of_domain = [bool]$cs.PartOfDomain
$facts.os = @{ caption = [string]$os.Caption; build = [string]$os.BuildNumber }
$facts.free_memory_bytes = [int64]$os.FreePhysicalMemory * 1024

$facts.features = @(Read-Fact 'features' 'Get-WindowsFeature' {
    Get-WindowsFeature -Name 'Hyper-V', 'Hyper-V-PowerShell' | ForEach-Object {
        @{ name = [string]$_.Name; installed = [bool]$_.Installed }
    }
})
# A service that does not exist is a fact (NotFound); any other error leaves it unread.
try { $facts.vmms_status = [string](Get-Service -Name vmms).Status } catch {
    if ([string]$_.CategoryInfo.Category -eq 'ObjectNotFound') { $facts.vmms_status = 'NotFound' }
    else { Add-Problem 'vmms' 'Get-Service vmms' $_ }
}

$vmhost = Read-Fact 'vmhost' 'Get-VMHost' { Get-VMHost }
if ($vmhost) {
    $facts.vmhost = @{
        VirtualMachineMigrationEnabled = [bool]$vmhost.VirtualMachineMigrationEnabled
        VirtualMachineMigrationAuthenticationType = [string]$vmhost.VirtualMachineMigrationAuthenticationType
        VirtualMachineMigrationPerformanceOption = [string]$vmhost.VirtualMachineMigrationPerformanceOption
        UseAnyNetworkForMigration = [bool]$vmhost.UseAnyNetworkForMigration
        MaximumVirtualMachineMigrations = [int]$vmhost.MaximumVirtualMachineMigrations
    }
}
$facts.migration_networks = @(Read-Fact 'migration_networks' 'Get-VMMigrationNetwork' {
    Get-VMMigrationNetwork | ForEach-Object { @{ subnet = [string]$_.Subnet; priority = [int]$_.Priority } }
})
$facts.supported_versions = @(Read-Fact 'supported_versions' 'Get-VMHostSupportedVersion' {
    Get-VMHostSupportedVersion | ForEach-Object { [string]$_.Version }
})
$facts.addresses = @(Read-Fact 'addresses' 'Get-NetIPAddress' {
    Get-NetIPAddress | Where-Object { [string]$_.AddressState -eq 'Preferred' } | ForEach-Object {
        @{ address = [string]$_.IPAddress; prefix_length = [int]$_.PrefixLength }
    }
})
# The effective policy (ActiveStore: local and Group Policy rules merged), not the local store: a
# rule Group Policy disables or adds is invisible in the local one. A rule that does not exist is a
# fact (null); any other error (access denied) leaves it unread. An enabled rule wins over a copy.
try {
    $rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Name 'VIRT-MIGL-In-TCP-NoScope')
    $rule = @($rules | Sort-Object { [string]$_.Enabled -ne 'True' })[0]
    $facts.firewall_rule = @{
        name = [string]$rule.Name; enabled = [string]$rule.Enabled
        action = [string]$rule.Action; source = [string]$rule.PolicyStoreSourceType
    }
} catch {
    if ([string]$_.CategoryInfo.Category -ne 'ObjectNotFound') { Add-Problem 'firewall_rule' 'Get-NetFirewallRule' $_ }
}
$facts.firewall_profiles = @(Read-Fact 'firewall_profiles' 'Get-NetFirewallProfile' {
    Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {
        @{ name = [string]$_.Name; enabled = [string]$_.Enabled }
    }
})
$facts.rdma_enabled = @(Read-Fact 'rdma' 'Get-NetAdapterRdma' {
    Get-NetAdapterRdma | Where-Object { $_.Enabled } | ForEach-Object { [string]$_.Name }
}).Count -gt 0
$facts.smb_multichannel = [bool](Read-Fact 'smb_client' 'Get-SmbClientConfiguration' {
    (Get-SmbClientConfiguration).EnableMultiChannel
})
$facts.vms = @(Read-Fact 'vms' 'Get-VM' {
    Get-VM | ForEach-Object {
        $vm = $_
        $running = [string]$vm.State -eq 'Running'
        @{
            name = [string]$vm.Name
            state = [string]$vm.State
            version = [string]$vm.Version
            memory_bytes = [int64]$(if ($running) { $vm.MemoryAssigned } else { $vm.MemoryStartup })
            switches = @($vm.NetworkAdapters | ForEach-Object { [string]$_.SwitchName } | Where-Object { $_ })
            processor_compatibility = [bool](Get-VMProcessor -VM $vm).CompatibilityForMigrationEnabled
        }
    }
})
$facts.switches = @(Read-Fact 'switches' 'Get-VMSwitch' {
    Get-VMSwitch | ForEach-Object { @{ name = [string]$_.Name; switch_type = [string]$_.SwitchType } }
})
$cpu = @(Read-Fact 'cpu' 'Win32_Processor' { Get-CimInstance -ClassName Win32_Processor })[0]
$facts.cpu = @{ vendor = [string]$cpu.Manufacturer; model = [string]$cpu.Name }
$identity = [Security.Principal.WindowsIdentity]::GetCurrent()
$facts.session = @{
    user = [string]$identity.Name
    group_sids = @($identity.Groups | ForEach-Object { [string]$_.Value })
}
# Before Windows Server 2016 the DeviceGuard namespace does not exist (WBEM_E_INVALID_NAMESPACE,
# 0x8004100E): that is "no Credential Guard", a fact; any other error leaves it unread.
try {
    $guard = Get-CimInstance -Namespace 'root\Microsoft\Windows\DeviceGuard' -ClassName Win32_DeviceGuard
    if ($guard) { $facts.credential_guard_running = @($guard.SecurityServicesRunning) -contains 1 }
} catch {
    if ([string]$_.Exception.NativeErrorCode -eq 'InvalidNamespace' -or [string]$_.FullyQualifiedErrorId -like 'HRESULT 0x8004100e*') {
        $facts.credential_guard_running = $false
    } else { Add-Problem 'credential_guard' 'Win32_DeviceGuard' $_ }
}
# Microsoft's Credential Guard "configure" article (default enablement, documented for client
# upgrades) names IsolatedCredentialsRootSecret under MSV1_0 as the mark of a device on which
# Credential Guard was turned on by default; A4 reads it as a heuristic and says so.
$facts.isolated_credentials_root_secret = Read-Fact 'credential_guard_upgrade' 'IsolatedCredentialsRootSecret' {
    $msv = 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa\MSV1_0'
    $values = Get-ItemProperty -LiteralPath $msv
    [bool]($null -ne $values.PSObject.Properties['IsolatedCredentialsRootSecret'] -or (Test-Path -LiteralPath "$msv\IsolatedCredentialsRootSecret"))
}
$facts.problems = @($problems)
ConvertTo-Json -InputObject $facts -Depth 6 -Compress
