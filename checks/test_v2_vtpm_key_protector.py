"""V2: the destination can unwrap a vTPM VM's key protector (REQUIREMENTS.md section 6)."""

from lmready.catalogue import Case, Requirement, Severity, applies_only_if, check, require
from lmready.estate import FactsUnavailable
from lmready.vmview import VmView, known_media

REQUIREMENT = Requirement(
    ref="V2",
    synopsis="the destination can unwrap a vTPM VM's key protector",
    why="a VM with a virtual TPM starts only where its key protector can be unwrapped",
    fix="import the source's guardian (or the shielding certificate) on the destination",
    links=(
        "https://learn.microsoft.com/en-us/windows-server/security/guarded-fabric-shielded-vm/guarded-fabric-and-shielded-vms",
    ),
)


def _thumbprint(guardian: str) -> str:
    """Guardians are written 'name|thumbprint': every host's local guardian is named
    UntrustedGuardian, so only the certificate tells them apart ('' when it was not read)."""
    return guardian.partition("|")[2].strip().lower()


@check(
    "LMR-062",
    ref="V2",
    title="Destination can unwrap the key protector of a VM with a virtual TPM",
    severity=Severity.HIGH,
    area="compatibility",
)
def test_vtpm_key_protector(vm: VmView):
    media = known_media(vm)
    applies_only_if(media.vtpm is not False, "a VM with a virtual TPM", "no virtual TPM")
    if media.vtpm is None:
        raise FactsUnavailable(
            f"{vm}: could not tell whether it has a virtual TPM: {media.error or 'not read'}"
        )
    if not _thumbprint(media.key_protector_owner):
        why = media.key_protector_error or media.error or "no owner certificate"
        raise FactsUnavailable(
            f"{vm}: could not tell: the owner of its key protector could not be read on {vm.src} "
            f"({why}); ConvertTo-HgsKeyProtector needs the HGS client and administrator rights."
        )
    guardians = vm.dst.facts.guardians  # unread (no admin rights on dst): could not tell
    owner = media.key_protector_owner
    name = owner.partition("|")[0]
    require(
        any(_thumbprint(g) == _thumbprint(owner) for g in guardians),
        observed=f"{vm.dst} holds no guardian with the certificate of '{name}' that owns {vm.vm.name}'s key "
        'protector (Hyper-V says: "The key protector for the virtual machine could not be unwrapped")',
        expected=f"the guardian '{name}' of {vm.src} on {vm.dst}",
        fix=f"on {vm.src}: Export-HgsGuardian -Name '{name}' (with its private keys, from the Shielded VM "
        f"Local Certificates store); on {vm.dst}: Import-HgsGuardian -AllowUntrustedRoot; or make both "
        "hosts guarded hosts of the same Host Guardian Service",
    )


# The outcomes and messages a few facts give (tests/test_cases.py; the healthy defaults: tests/factory.py).
CASES = [
    Case("skip", "no virtual TPM", src={"vm_media": [{"vm": "vm-hv01", "vtpm": False}]}),
    Case(
        "pass",
        src={"vm_media": [{"vm": "vm-hv01", "vtpm": True, "key_protector_owner": "UntrustedGuardian|AA11"}]},
        dst={"guardians": ["hv01|aa11"]},
    ),
    Case(
        "fail",
        "could not be unwrapped",
        src={"vm_media": [{"vm": "vm-hv01", "vtpm": True, "key_protector_owner": "UntrustedGuardian|AA11"}]},
        dst={"guardians": ["UntrustedGuardian|BB22"]},
    ),
]
