# lmready:collect-host v1
# lmready's one round trip per host: everything REQUIREMENTS.md sections 1-3 need from this
# host, printed as one JSON document. Written for Windows PowerShell 5.1: enums are cast with
# [string], ConvertTo-Json gets an explicit -Depth, lists are built with @() inside a hashtable
# (so one element stays a list), and each fact is read on its own so that one missing cmdlet
# is reported in "problems" instead of losing the whole document.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$problems = New-Object System.Collections.ArrayList

function Read-Fact([string]$What, [scriptblock]$Block) {
    try { & $Block } catch { [void]$problems.Add("${What}: $($_.Exception.Message)") }
}

$facts = [ordered]@{ wire = 1 }
$facts.clock_utc = [DateTime]::UtcNow.ToString('o')

$cs = Read-Fact 'Win32_ComputerSystem' { Get-CimInstance -ClassName Win32_ComputerSystem }
$os = Read-Fact 'Win32_OperatingSystem' { Get-CimInstance -ClassName Win32_OperatingSystem }
$facts.computer_name = [string]$env:COMPUTERNAME
$facts.domain = [string]$cs.Domain
$facts.part_of_domain = [bool]$cs.PartOfDomain
$facts.os = @{ caption = [string]$os.Caption; build = [string]$os.BuildNumber }
$facts.free_memory_bytes = [int64]$os.FreePhysicalMemory * 1024

$facts.features = @(Read-Fact 'Get-WindowsFeature' {
    Get-WindowsFeature -Name 'Hyper-V', 'Hyper-V-PowerShell' | ForEach-Object {
        @{ name = [string]$_.Name; installed = [bool]$_.Installed }
    }
})
$facts.vmms_status = [string](Read-Fact 'Get-Service vmms' { (Get-Service -Name vmms).Status })

$vmhost = Read-Fact 'Get-VMHost' { Get-VMHost }
if ($vmhost) {
    $facts.vmhost = @{
        VirtualMachineMigrationEnabled = [bool]$vmhost.VirtualMachineMigrationEnabled
        VirtualMachineMigrationAuthenticationType = [string]$vmhost.VirtualMachineMigrationAuthenticationType
        VirtualMachineMigrationPerformanceOption = [string]$vmhost.VirtualMachineMigrationPerformanceOption
        UseAnyNetworkForMigration = [bool]$vmhost.UseAnyNetworkForMigration
        MaximumVirtualMachineMigrations = [int]$vmhost.MaximumVirtualMachineMigrations
    }
}
$facts.migration_networks = @(Read-Fact 'Get-VMMigrationNetwork' {
    Get-VMMigrationNetwork | ForEach-Object { @{ subnet = [string]$_.Subnet; priority = [int]$_.Priority } }
})
$facts.supported_versions = @(Read-Fact 'Get-VMHostSupportedVersion' {
    Get-VMHostSupportedVersion | ForEach-Object { [string]$_.Version }
})
$facts.addresses = @(Read-Fact 'Get-NetIPAddress' {
    Get-NetIPAddress | Where-Object { [string]$_.AddressState -eq 'Preferred' } | ForEach-Object {
        @{ address = [string]$_.IPAddress; prefix_length = [int]$_.PrefixLength }
    }
})
$rule = Get-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope' -ErrorAction SilentlyContinue
if ($rule) { $facts.firewall_rule = @{ name = [string]$rule.Name; enabled = [string]$rule.Enabled } }
$facts.rdma_enabled = @(Read-Fact 'Get-NetAdapterRdma' {
    Get-NetAdapterRdma | Where-Object { $_.Enabled } | ForEach-Object { [string]$_.Name }
}).Count -gt 0
$facts.smb_multichannel = [bool](Read-Fact 'Get-SmbClientConfiguration' {
    (Get-SmbClientConfiguration).EnableMultiChannel
})
$facts.vms = @(Read-Fact 'Get-VM' {
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
$facts.switches = @(Read-Fact 'Get-VMSwitch' {
    Get-VMSwitch | ForEach-Object { @{ name = [string]$_.Name; switch_type = [string]$_.SwitchType } }
})
$cpu = @(Read-Fact 'Win32_Processor' { Get-CimInstance -ClassName Win32_Processor })[0]
$facts.cpu = @{ vendor = [string]$cpu.Manufacturer; model = [string]$cpu.Name }
$identity = [Security.Principal.WindowsIdentity]::GetCurrent()
$facts.session = @{
    user = [string]$identity.Name
    group_sids = @($identity.Groups | ForEach-Object { [string]$_.Value })
}
$guard = Read-Fact 'Win32_DeviceGuard' {
    Get-CimInstance -Namespace 'root\Microsoft\Windows\DeviceGuard' -ClassName Win32_DeviceGuard
}
if ($guard) { $facts.credential_guard_running = @($guard.SecurityServicesRunning) -contains 1 }
$facts.problems = @($problems)
ConvertTo-Json -InputObject $facts -Depth 6 -Compress
