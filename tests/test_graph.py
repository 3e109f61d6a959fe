"""State machines as graphs (asl.graph): structure, Choice labels, Mermaid and DOT text."""
from __future__ import annotations

import re

import pytest

import asl
from asl.engine import run_sync
from asl.graph import NOT_VISITED, build_graph, describe_rule
from asl.histories import Timeline
from conftest import SAMPLES
from samples_support import sample_handlers, sample_input


@pytest.fixture(scope="module")
def order():
    return asl.load(SAMPLES / "order" / "order.json")


def edges_by_name(graph):
    names = {n.id: n.name for n in graph.nodes}
    return {(names.get(e.src, e.src), names.get(e.dst, e.dst), e.kind): e for e in graph.edges}


def test_structure_of_the_order_workflow(order):
    graph = build_graph(order)
    edges = edges_by_name(graph)
    assert {("__start", "ValidateOrder", "start"), ("ValidateOrder", "ProcessPayment", "next"),
            ("ProcessPayment", "ProcessPayment", "retry"), ("ProcessPayment", "RecordDecline", "catch"),
            ("NotifyParties", "EmailCustomer", "branch"), ("NotifyParties", "ReserveStock", "branch"),
            ("CheckPayment", "PaymentDeclined", "default"), ("OrderConfirmed", "__end", "end")} <= set(edges)
    assert edges[("CheckPayment", "OrderConfirmed", "choice")].label == '$.payment.status == "PAID"'
    assert edges[("CheckPayment", "ManualReview", "choice")].label == \
        '$.payment.status == "DECLINED" and $.total > 1000'
    assert edges[("ProcessPayment", "ProcessPayment", "retry")].label == \
        "retry ConnectionError, Lambda.TooManyRequestsException ×3"
    assert {src for src, dst, _ in edges if dst == "__end"} == {"OrderConfirmed"}  # Fail states end nowhere
    # the branches are clusters inside the Parallel's cluster
    clusters = {c.id: c for c in graph.clusters}
    email = next(n for n in graph.nodes if n.name == "EmailCustomer")
    assert clusters[email.cluster].label == "branch 1"
    assert clusters[clusters[email.cluster].parent].label == "NotifyParties: 2 branches"
    assert all(n.outcome is None for n in graph.nodes)  # no history: no colours


def test_mermaid_text(order):
    graph = build_graph(order)
    text = graph.to_mermaid()
    assert text.startswith("flowchart TD\n")
    assert 's4{"CheckPayment<br/>Choice"}' in text
    assert 'subgraph c1["branch 1"]' in text
    assert '-->|"$.payment.status == #quot;PAID#quot;"|' in text      # quotes escaped for Mermaid
    assert '#gt; 1000' in text
    catch = next(i for i, e in enumerate(graph.edges) if e.kind == "catch")
    edge_lines = [line for line in text.splitlines() if re.match(r"  \S+ [-.]+>", line)]
    assert "catch Payment.Declined" in edge_lines[catch]
    assert f"  linkStyle {catch} stroke:#c62828" in text
    assert "classDef" not in text


def test_dot_text(order):
    text = build_graph(order).to_dot()
    assert text.startswith('digraph "order" {')
    assert "subgraph cluster_c0 {" in text and 'label="NotifyParties: 2 branches"' in text
    assert 's1 -> s1 [label="retry ConnectionError, Lambda.TooManyRequestsException ×3", style=dotted' in text
    assert 's1 -> s2 [label="catch Payment.Declined", style=dashed' in text
    assert 's4 -> s5 [label="$.payment.status == \\"PAID\\""];' in text
    assert text.count("{") == text.count("}")


def test_a_history_colours_the_path_taken(order):
    result = run_sync(order, sample_input("order", "input-declined.json"), handlers=sample_handlers("order"))
    graph = build_graph(order, Timeline(result.history.events))
    outcome = {n.name: n.outcome for n in graph.nodes}
    assert outcome["ProcessPayment"] == "caught" and outcome["PaymentDeclined"] == "failed"
    assert outcome["OrderConfirmed"] == NOT_VISITED and outcome["ManualReview"] == NOT_VISITED
    assert outcome["EmailCustomer"] == "succeeded"
    edges = edges_by_name(graph)
    assert edges[("ProcessPayment", "RecordDecline", "catch")].taken
    assert edges[("ProcessPayment", "ProcessPayment", "retry")].taken
    assert edges[("CheckPayment", "PaymentDeclined", "default")].taken
    assert not edges[("ProcessPayment", "NotifyParties", "next")].taken
    assert not edges[("CheckPayment", "OrderConfirmed", "choice")].taken
    mermaid = graph.to_mermaid()
    assert re.search(r"class [s0-9,]*\bs7\b[s0-9,]* failed", mermaid)
    assert "class s1 caught" in mermaid
    dot = graph.to_dot()
    assert 's7 [label="PaymentDeclined\\nFail", shape=box, fillcolor="#f8d7da"' in dot


def rule(definition: dict):
    machine = asl.load({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{**definition, "Next": "E"}], "Default": "E"},
        "E": {"Type": "Succeed"}}})
    return machine.states["C"].choices[0]


@pytest.mark.parametrize("definition, text", [
    ({"Variable": "$.n", "NumericGreaterThanEquals": 3}, "$.n >= 3"),
    ({"Variable": "$.a", "NumericLessThanPath": "$.b"}, "$.a < $.b"),
    ({"Variable": "$.s", "StringMatches": "log-*"}, '$.s matches "log-*"'),
    ({"Variable": "$.x", "IsPresent": False}, "$.x is not present"),
    ({"Variable": "$.ok", "BooleanEquals": True}, "$.ok == true"),
    ({"Not": {"Variable": "$.t", "TimestampLessThan": "2026-01-01T00:00:00Z"}},
     'not $.t < "2026-01-01T00:00:00Z"'),
    ({"Or": [{"Variable": "$.a", "IsNull": True},
             {"And": [{"Variable": "$.b", "StringEquals": "x"}, {"Variable": "$.c", "NumericEquals": 1}]}]},
     '$.a is null or ($.b == "x" and $.c == 1)'),
])
def test_describe_rule(definition, text):
    assert describe_rule(rule(definition)) == text


def test_describe_a_jsonata_condition():
    machine = asl.load(SAMPLES / "order-jsonata" / "order.json")
    assert describe_rule(machine.states["CheckPayment"].choices[0]) == "$payment.status = 'PAID'"


def test_map_processor_is_a_cluster():
    machine = asl.load(SAMPLES / "batch" / "batch.json")
    graph = build_graph(machine)
    assert [c.label for c in graph.clusters] == ["ImportRecords: each item (distributed)"]
    assert ("ImportRecords", "CheckRecord", "branch") in edges_by_name(graph)
    assert {n.name for n in graph.nodes if n.cluster} == {"CheckRecord", "StoreRecord"}


def test_a_map_item_failure_caught_at_the_map():
    machine = asl.load({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "MaxConcurrency": 1, "Next": "Done",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
                 "ItemProcessor": {"StartAt": "Check", "States": {"Check": {"Type": "Choice", "Choices": [
                     {"Variable": "$", "NumericLessThan": 0, "Next": "Negative"}], "Default": "Fine"},
                     "Negative": {"Type": "Fail", "Error": "Item.Negative"},
                     "Fine": {"Type": "Succeed"}}}},
        "Recover": {"Type": "Pass", "End": True},
        "Done": {"Type": "Succeed"}}})
    result = run_sync(machine, [1, -2, 3])
    graph = build_graph(machine, Timeline(result.history.events))
    outcome = {n.name: n.outcome for n in graph.nodes}
    assert outcome == {"Each": "caught", "Recover": "succeeded", "Done": NOT_VISITED, "Check": "succeeded",
                       "Negative": "failed", "Fine": "succeeded"}
    edges = edges_by_name(graph)
    assert edges[("Each", "Recover", "catch")].taken and not edges[("Each", "Done", "next")].taken
    assert edges[("Each", "Check", "branch")].taken and edges[("Check", "Negative", "choice")].taken
    assert graph.clusters[0].outcome == "failed"
