"""Plain facts for tests: a well-configured host and domain, and ways to break them.

Checks take facts; these helpers build them from dictionaries so each test states only what it
changes.
"""

from __future__ import annotations

import copy
from typing import Any

from lmready.estate import HostView, PairView
from lmready.facts import DomainFacts, HostFacts
from lmready.inventory import Policy

DOMAIN = "corp.example.com"
ANY_PROTOCOL = 0x1000000
WORKSTATION_TRUST = 0x1000


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def host_dict(name: str = "hv01", index: int = 1, **changes: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "computer_name": name.upper(),
        "dns_host_name": name,
        "domain": DOMAIN,
        "part_of_domain": True,
        "collected_at": "2026-11-20T09:00:00Z",
        "os": {"caption": "Microsoft Windows Server 2022 Datacenter", "build": 20348},
        "hyperv": {"feature_installed": True, "powershell_module": True, "vmms_status": "Running"},
        "migration": {
            "enabled": True,
            "authentication_type": "Kerberos",
            "performance_option": "Compression",
            "use_any_network": False,
            "maximum_migrations": 2,
        },
        "migration_networks": [{"subnet": "10.10.0.0/24", "priority": 0}],
        "supported_versions": ["8.0", "9.0", "10.0"],
        "addresses": [{"address": f"10.10.0.{10 + index}", "prefix_length": 24}],
        "firewall_rule": {"name": "VIRT-MIGL-In-TCP-NoScope", "enabled": True},
        "smb": {"rdma_enabled": True, "multichannel_enabled": True},
        "vms": [
            {
                "name": f"vm-{name}",
                "state": "Running",
                "version": "9.0",
                "memory_bytes": 4 * 1024**3,
                "switches": ["Prod"],
                "processor_compatibility": False,
            }
        ],
        "switches": [{"name": "Prod", "switch_type": "External"}],
        "cpu": {"vendor": "GenuineIntel", "model": "Xeon Gold 6338"},
        "free_memory_bytes": 64 * 1024**3,
        "clock": {"host_utc": "2026-11-20T09:00:00Z", "runner_utc": "2026-11-20T09:00:00Z"},
        "session": {"user": "CORP\\auditor", "group_sids": ["S-1-5-32-544"]},
    }
    return merge(base, changes)


def host_facts(name: str = "hv01", index: int = 1, **changes: Any) -> HostFacts:
    return HostFacts.model_validate(host_dict(name, index, **changes))


def account(
    name: str,
    peers: list[str],
    uac: int = WORKSTATION_TRUST | ANY_PROTOCOL,
    domain: str = DOMAIN,
    **changes: Any,
) -> dict[str, Any]:
    delegate = [
        f"{service}/{form}"
        for peer in peers
        for service in ("Microsoft Virtual System Migration Service", "cifs")
        for form in (peer.upper(), f"{peer}.{domain}")
    ]
    return merge(
        {
            "host": name,
            "dn": f"CN={name.upper()},OU=Hyper-V,DC=corp,DC=example,DC=com",
            "sam_account_name": f"{name.upper()}$",
            "dns_host_name": f"{name}.{domain}",
            "user_account_control": uac,
            "allowed_to_delegate_to": delegate,
        },
        changes,
    )


def domain_facts(name: str = DOMAIN, computers: list[dict] | None = None, **changes: Any) -> DomainFacts:
    base = {
        "name": name,
        "netbios_name": name.split(".")[0].upper(),
        "forest_root": name,
        "collected_at": "2026-11-20T09:00:00Z",
        "computers": computers
        if computers is not None
        else [
            account("hv01", ["hv02"]),
            account("hv02", ["hv01"]),
        ],
    }
    return DomainFacts.model_validate(merge(base, changes))


def host(
    facts: HostFacts | None = None, policy: Policy | None = None, domain: DomainFacts | None = None
) -> HostView:
    facts = facts or host_facts()
    return HostView(facts.name, facts, policy or Policy(), domain)


def pair(
    src: HostFacts | None = None,
    dst: HostFacts | None = None,
    policy: Policy | None = None,
    domains: list[DomainFacts] | None = None,
) -> PairView:
    src = src or host_facts("hv01", 1)
    dst = dst or host_facts("hv02", 2)
    by_name = {d.name.lower(): d for d in domains or []}
    return PairView(
        host(src, policy, by_name.get(src.domain.lower())),
        host(dst, policy, by_name.get(dst.domain.lower())),
        {d.name: d for d in domains or []},
    )


def case_domain(spec: dict[str, Any]) -> DomainFacts:
    """A case's domain: the default one, with ``accounts`` changing hv01's or hv02's account."""
    spec = dict(spec)
    changes = spec.pop("accounts", {})
    if changes:
        spec["computers"] = [
            account(name, [peer], **changes.get(name, {}))
            for name, peer in (("hv01", "hv02"), ("hv02", "hv01"))
        ]
    return domain_facts(**spec)


def case_target(scope: str, facts: dict[str, Any]) -> Any:
    """The target of a requirement's case row (lmready.catalogue.Case): the healthy defaults
    above, changed by the row's facts."""
    from lmready.vmview import VmView

    policy = Policy(**facts["policy"]) if "policy" in facts else None
    if scope == "host":
        domain = case_domain(facts["domain"]) if "domain" in facts else None
        return host(host_facts(**facts.get("host", {})), policy, domain)
    domains = [case_domain(d) for d in facts["domains"]] if "domains" in facts else None
    view = pair(
        host_facts("hv01", 1, **facts.get("src", {})),
        host_facts("hv02", 2, **facts.get("dst", {})),
        policy,
        domains,
    )
    return view if scope == "pair" else VmView(view, view.src.facts.vms[0])
