"""Identity binding (REQUIREMENTS.md 3b) and real DNS names (A2) on plain facts: what a host
says must agree with its inventory entry and its AD account, or it is one "identity mismatch"."""

from __future__ import annotations

import pytest
from factory import account, domain_facts, host_facts, pair

from lmready.catalogue import CheckFailure, CheckWarning, load_catalogue
from lmready.estate import FactsUnavailable, bind_identities, bind_identity
from lmready.facts import DomainFacts
from lmready.inventory import Host, Policy, load_inventory

DOMAIN = "corp.example.com"
CHECKS = {meta.ref: meta.func for meta in load_catalogue()}
DC = account("dc01", [], uac=0x82000, primary_group_id=516, dns_host_name=f"dc01.{DOMAIN}")


def inv(name: str = "hv01", address: str | None = None) -> Host:
    return Host(name, address or name, None, Policy())  # type: ignore[arg-type]


def domain(*computers: dict) -> DomainFacts:
    return domain_facts(computers=list(computers) or [account("hv01", ["hv02"]), account("hv02", ["hv01"])])


def bound(host: Host, facts, directory=None) -> str:
    result = bind_identity(host, facts, directory)
    if isinstance(result, FactsUnavailable):
        message = str(result)
        assert message.startswith(f"{host.name}: identity mismatch: ") and message.count(". ") == 0
        return message
    assert result is facts
    return "bound"


def test_agreeing_names_bind():
    facts = host_facts("hv01")
    assert bound(inv(), facts) == "bound"
    assert bound(inv(address=f"HV01.{DOMAIN}."), facts, domain()) == "bound"  # case and root dot


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"computer_name": "HV02", "dns_host_name": "hv02"},
            "expects hv01, and the host reports HV02 (hv02.",
        ),
        ({"computer_name": "DC01", "dns_host_name": "dc01"}, "reports DC01"),
        ({"dns_host_name": ""}, "reported no DNS host name"),
        ({"unread": {"dns_host_name": "Win32_ComputerSystem: Access is denied."}}, "Access is denied"),
    ],
)
def test_a_host_reporting_another_name_is_a_mismatch(changes, words):
    assert words in bound(inv(), host_facts("hv01", **changes))


def test_an_fqdn_address_must_be_the_reported_fqdn():
    facts = host_facts("hv01", domain="other.example.com")
    assert "expects hv01.corp.example.com" in bound(inv(address=f"hv01.{DOMAIN}"), facts)


def test_an_ip_address_must_be_the_hosts_own_unless_loopback():
    facts = host_facts("hv01", 1)  # 10.10.0.11
    assert bound(inv(address="10.10.0.11"), facts) == "bound"
    assert "10.10.0.99, which is not among the host's addresses" in bound(inv(address="10.10.0.99"), facts)
    assert bound(inv(address="127.0.0.1"), facts) == "bound"  # a tunnel proves nothing: names bind it
    unread = host_facts("hv01", unread={"addresses": "Get-NetIPAddress: Access is denied."})
    assert "cannot be shown to own 10.10.0.11" in bound(inv(address="10.10.0.11"), unread)


def test_the_account_must_agree_and_be_no_domain_controllers():
    facts = host_facts("hv01")
    assert bound(inv(), facts, domain()) == "bound"
    assert "no single computer account in corp.example.com" in bound(
        inv(), facts, domain(account("hv02", []))
    )
    other_dns = account("hv01", [], dns_host_name="hv01.elsewhere.test")
    assert "has dNSHostName hv01.elsewhere.test" in bound(inv(), facts, domain(other_dns))
    other_sam = account("hv01", [], sam_account_name="GHOST$")
    assert "is GHOST$, the host reports the computer name HV01" in bound(inv(), facts, domain(other_sam))
    # An inventory entry naming the DC itself: its account is refused, whatever the names say.
    dc_facts = host_facts("dc01")
    message = bound(inv("dc01"), dc_facts, domain({**DC, "host": "dc01"}))
    assert "domain controller's account" in message and "primaryGroupID 516" in message
    rodc = account("dc01", [], uac=0x1000 | 0x4000000, primary_group_id=521)
    assert "domain controller's account" in bound(inv("dc01"), dc_facts, domain(rodc))


# --- real DNS names in A2 -------------------------------------------------------------------------

LONG = "hv-production-n01"  # 17 characters: its NetBIOS name is HV-PRODUCTION-N


def outcome(target) -> str:
    """'passed', or what the failure observed; ``how`` remembers which mechanism passed."""
    try:
        outcome.how = CHECKS["A2"](target)
    except CheckFailure as exc:
        return exc.observed
    return "passed"


def test_a2_uses_the_real_dns_name_never_one_built_from_netbios():
    long_facts = host_facts(LONG, 2, computer_name="HV-PRODUCTION-N", dns_host_name=LONG)
    assert long_facts.fqdn == f"{LONG}.{DOMAIN}"
    dst = account(LONG, [], sam_account_name="HV-PRODUCTION-N$", dns_host_name=f"{LONG}.{DOMAIN}")
    src = account("hv01", [])
    src["allowed_to_delegate_to"] = [
        f"{s}/{n}"
        for s in ("Microsoft Virtual System Migration Service", "cifs")
        for n in ("HV-PRODUCTION-N", f"{LONG}.{DOMAIN}")
    ]
    directory = [domain_facts(computers=[src, dst])]
    assert outcome(pair(host_facts("hv01"), long_facts, domains=directory)) == "passed"
    # What lmready built before: the NetBIOS name plus the domain. It names no real host, so it does not pass.
    src["allowed_to_delegate_to"] = [
        v.replace(f"{LONG}.", "hv-production-n.") for v in src["allowed_to_delegate_to"]
    ]
    directory = [domain_facts(computers=[src, dst])]
    observed = outcome(pair(host_facts("hv01"), long_facts, domains=directory))
    assert f"cifs/{LONG}.{DOMAIN}" in observed and "hv-production-n." not in observed


def test_a2_is_per_direction_and_names_the_mechanism_it_lacks():
    one_way = domain_facts(computers=[account("hv01", ["hv02"]), account("hv02", [], uac=0x1000)])
    assert outcome(pair(domains=[one_way])) == "passed"  # hv02's settings do not block hv01 -> hv02
    assert outcome.how.startswith("passed through classic constrained delegation on hv01's account")
    back = outcome(pair(host_facts("hv02", 2), host_facts("hv01", 1), domains=[one_way]))
    assert back.startswith("hv02 lacks Microsoft Virtual System Migration Service/HV01")
    assert "hv01 does not allow hv02 by resource-based delegation" in back


def test_a2_passes_through_resource_based_delegation_alone():
    hv02_sid = "S-1-5-21-1-2-3-1106"
    rbcd = domain_facts(
        computers=[
            account("hv01", [], uac=0x1000, allowed_to_act=[hv02_sid]),
            account("hv02", [], uac=0x1000, sid=hv02_sid),
        ]
    )
    assert outcome(pair(host_facts("hv02", 2), host_facts("hv01", 1), domains=[rbcd])) == "passed"
    assert outcome.how.startswith("passed through resource-based constrained delegation")
    assert "hv01 lacks" in outcome(pair(domains=[rbcd]))  # not the other way round


def test_a_short_name_two_domains_answer_is_a_mismatch_and_an_fqdn_resolves_it(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(
        "hosts: [{name: hv01, address: 127.0.0.1}, {name: hv02, address: hv02.corp.example.com}]\n"
    )
    inventory = load_inventory(path)
    twin = account("hv01", [], domain="rd.example.net", dns_host_name="hv01.rd.example.net")
    domains = {DOMAIN: domain(), "rd.example.net": domain_facts("rd.example.net", computers=[twin])}
    hosts = {"hv01": host_facts("hv01"), "hv02": host_facts("hv02", 2)}
    bound_hosts = bind_identities(inventory, hosts, domains)
    assert "exist in corp.example.com and rd.example.net" in str(bound_hosts["hv01"])
    assert bound_hosts["hv02"] is hosts["hv02"]  # an FQDN address names one account


def test_across_domains_a2_passes_only_through_rbcd_and_a3_warns_otherwise():
    rd_sid, hv01_sid = "S-1-5-21-9-9-9-1105", "S-1-5-21-1-2-3-1105"
    hv01 = account("hv01", ["hv05"], sid=hv01_sid)  # classic values exist, but cannot cross domains
    src, dst = host_facts("hv01"), host_facts("hv05", 5, domain="rd.example.net")

    def estate(allowed: list[str]):
        rd = domain_facts(
            "rd.example.net",
            computers=[account("hv05", [], domain="rd.example.net", sid=rd_sid, allowed_to_act=allowed)],
        )
        return pair(src, dst, domains=[domain_facts(computers=[hv01]), rd])

    observed = outcome(estate([]))
    assert "classic constrained delegation cannot cross domains; use resource-based" in observed
    with pytest.raises(CheckWarning) as warned:
        CHECKS["A3"](estate([]))
    assert "resource-based constrained delegation" in warned.value.fix and "CredSSP" in warned.value.fix
    assert outcome(estate([hv01_sid])) == "passed"
    CHECKS["A3"](estate([hv01_sid]))  # RBCD covers the pair: A3 passes


def test_a_dotted_dns_host_name_cannot_choose_the_domain_that_binds_it():
    """hv01.corp reported in example.com reads as hv01.corp.example.com: the host would pick the
    parent domain, where any user may have created an account of that DNS name."""
    impostor = host_facts("hv01", computer_name="HV01.CORP", dns_host_name="hv01.corp", domain="example.com")
    assert "not a single label" in bound(inv(address=f"hv01.{DOMAIN}"), impostor)


def test_a_host_that_claims_no_domain_is_not_bound_where_the_directory_knows_its_domain(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text("hosts: [{name: hv01, address: hv01.corp.example.com}]\n")
    workgroup = host_facts(
        "hv01", part_of_domain=False, domain="WORKGROUP", dns_host_name="hv01.corp.example.com"
    )
    result = bind_identities(load_inventory(path), {"hv01": workgroup}, {DOMAIN: domain()})
    assert "says it is not joined to a domain" in str(result["hv01"])


def test_a_short_name_is_not_bound_while_another_domain_could_not_be_read(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text("hosts: [{name: hv01, address: 127.0.0.1}]\n")
    domains = {DOMAIN: domain(), "rd.example.net": FactsUnavailable("domain rd.example.net: refused.")}
    result = bind_identities(load_inventory(path), {"hv01": host_facts("hv01")}, domains)
    assert "not every domain of the directory could be read" in str(result["hv01"])
    # Its own domain unreadable: bound without an account (nothing can be written there).
    domains = {DOMAIN: FactsUnavailable("domain corp.example.com: refused.")}
    assert bind_identities(load_inventory(path), {"hv01": host_facts("hv01")}, domains)["hv01"].name == "hv01"
