"""A check of your own, the pytest-testinfra way: it runs once per inventory host, through
testinfra's winrm:// backend, and lands in the same reports as lmready's checks.

    pytest --inventory=inventories/lab.yml examples/

testinfra's winrm backend always authenticates with NTLM: over plain HTTP that means WinRM
message encryption, over HTTPS the host's certificate must be trusted by the system store.
"""

import pytest


@pytest.mark.lmready(id="USR-001", ref="R2", severity="critical")
def test_vmms_service_running(testinfra_host):
    """Hyper-V Virtual Machine Management service is running"""
    status = testinfra_host.check_output('powershell -NoProfile -Command "(Get-Service vmms).Status"')
    assert status == "Running", f"vmms is {status}"
