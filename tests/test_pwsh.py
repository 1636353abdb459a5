"""Values in PowerShell text (issue 8, item 5): lmready.pwsh.quote is the one way a value gets
into a script, and Windows PowerShell 5.1 takes U+2018-U+201B as single quotes too. The lab's
parser (lmready.lab.powershell.parser) reads them as PowerShell does, so these tests would catch a value
that ends its string early."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_lab_model import lab

from lmready import pwsh, wire
from lmready.lab.powershell import ast
from lmready.lab.powershell.parser import parse
from lmready.lab.wsman import _ps_literal
from lmready.remediation import host_changes as hosts
from lmready.remediation.change import HOST, Change

QUOTES = pwsh.SINGLE_QUOTES
# Mostly quote characters and what would start a command after a quote ends, plus anything.
NASTY = st.text(alphabet=st.sampled_from([*QUOTES, '"', "`", "$", ";", "(", ")", "\n", "#", " ", "a"]))
VALUES = st.one_of(NASTY, st.text(), st.lists(st.one_of(NASTY, st.text()), max_size=4).map("".join))
HOSTILE = "10.0.0.0/24\u2019; Disable-VMMigration; Set-VMHost -MaximumVirtualMachineMigrations 9; \u2018"


def add_network(subnet: str) -> Change:
    return Change(
        "LMR-042", "add-migration-network", "lab-hv04", HOST, hosts.NETWORK, None, subnet,
        hosts.command(hosts.NETWORK, None, subnet),
    )  # fmt: skip


@settings(max_examples=300)
@given(VALUES)
def test_a_quoted_value_comes_back_whole(value):
    assert _only_value(pwsh.quote(value)) == value


@settings(max_examples=200)
@given(VALUES)
def test_a_value_in_a_remediation_script_stays_one_argument(value):
    statements = parse(hosts.script([add_network(value)])).end.statements
    assert len(statements) == 2  # the preference, and the one compare-and-set statement
    check = statements[1]
    assert isinstance(check, ast.If)
    ((condition, then),) = check.clauses
    (read,) = condition.left.operand.target.pipeline.elements
    assert read.elements[1].value == value
    (cmdlet,), done = then.statements[0].elements, then.statements[1]
    assert (cmdlet.name.value, [getattr(e, "value", None) for e in cmdlet.elements]) == (
        "Add-VMMigrationNetwork",
        [None, value],
    )
    assert done.value == "1 set"


@settings(max_examples=100)
@given(VALUES)
def test_the_lab_renders_psrp_arguments_with_the_same_quoting(value):
    assert _only_value(_ps_literal(value)) == value


def _only_value(text: str) -> object:
    (statement,) = parse(text).end.statements
    assert isinstance(statement, ast.Constant)
    return statement.value


def test_every_single_quote_is_doubled():
    assert (
        pwsh.quote("a'b\u2018c\u2019d\u201ae\u201bf")
        == "'a''b\u2018\u2018c\u2019\u2019d\u201a\u201ae\u201b\u201bf'"
    )
    assert pwsh.literal(None) == "$null" and pwsh.literal(True) == "$true" and pwsh.literal(5) == "5"


def test_a_hostile_value_runs_no_command_on_the_host():
    host = lab()["lab-hv04"]
    before = host.state
    result = host.run_script(hosts.script([add_network(HOSTILE)]))
    # The whole value is one subnet, which Hyper-V refuses; nothing after the quote ran.
    assert result.terminating is not None and "is not a valid IPv4 or IPv6 subnet" in result.terminating
    assert HOSTILE in result.terminating
    assert host.state == before
    assert host.state.migration.enabled is True and host.state.migration.maximum_migrations == 5


def test_the_lab_would_have_run_the_injected_command_with_apostrophes_only_doubled():
    """The test above can fail: quoting that doubles ' alone lets U+2019 end the string."""
    host = lab()["lab-hv04"]
    naive = "'" + HOSTILE.replace("'", "''") + "'"
    result = host.run_script(f"$ErrorActionPreference = 'Continue'\nAdd-VMMigrationNetwork -Subnet {naive}")
    assert host.state.migration.enabled is False and host.state.migration.maximum_migrations == 9, result


def test_probe_targets_with_any_quotes_reach_the_lab_host_whole():
    host = lab()["lab-hv01"]
    dst = "it's \u2018q\u2019 \u201ax\u201b"
    result = host.run_script(wire.probe_script([{"dst": dst, "address": "10.0.0.12", "port": 445}]))
    assert result.terminating is None, result.terminating
    (probe,) = wire.parse_probes(result.output[0])
    assert (probe.dst, probe.open) == (dst, True)
