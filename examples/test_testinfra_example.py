"""A check of your own, the pytest-testinfra way: it runs once per inventory host, through
testinfra's winrm:// backend, and lands in the same reports as lmready's checks.

    pytest --inventory=inventories/lab.yml examples/

lmready gives testinfra's winrm backend (pywinrm) the inventory's WinRM settings: the
authentication (negotiate is NTLM to pywinrm), HTTPS with certificate validation against
``ca_bundle``, or plain HTTP and ``verify_tls: false`` when the inventory says so.
"""

import pytest


@pytest.mark.lmready(id="USR-001", ref="R2", severity="critical")
def test_vmms_service_running(testinfra_host):
    """Hyper-V Virtual Machine Management service is running"""
    status = testinfra_host.check_output('powershell -NoProfile -Command "(Get-Service vmms).Status"')
    assert status == "Running", f"vmms is {status}"
