"""Typed values: one rendering and one parser of targets; outcomes and scopes as text."""

from __future__ import annotations

import json

from lmready.values import Outcome, Scope, Target


def test_a_pair_is_written_once_and_read_back():
    pair = Target.pair("hv01", "hv02")
    assert pair == "hv01->hv02" and pair.hosts == ("hv01", "hv02")
    assert (pair.src, pair.dst, pair.vm, pair.is_pair) == ("hv01", "hv02", None, True)
    assert Target.parse("hv01->hv02") == pair and Target.parse(pair) is pair
    assert Target.of(("hv01", "hv02")) == pair and Target.of(("hv01",)) == Target.host("hv01")
    host = Target.host("hv-01")
    assert (host.hosts, host.dst, host.is_pair) == (("hv-01",), None, False)


def test_a_vm_of_a_pair_keeps_whatever_its_name_holds():
    vm = Target.pair("hv01", "hv02", "sql:01->x")
    assert vm == "hv01->hv02:sql:01->x"
    assert (vm.hosts, vm.vm) == (("hv01", "hv02"), "sql:01->x")
    assert Target.parse(str(vm)).vm == "sql:01->x"


def test_node_ids_write_pairs_without_the_arrow():
    assert Target.pair("a-b", "c").node_param("_to_") == "a-b_to_c"
    assert Target.pair("hv01", "hv02").node_param() == "hv01-hv02"


def test_values_are_text_where_reports_need_text():
    assert Outcome.PASSED == "passed" and Scope.PAIR == "pair"
    assert json.dumps({"o": Outcome.ERROR, "t": Target.pair("a", "b")}) == '{"o": "error", "t": "a->b"}'
