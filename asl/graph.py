"""A state machine as a graph, for ``asl graph``: Mermaid (renders on GitHub) and Graphviz DOT.

    graph = build_graph(asl.load("order.json"), timeline=None)
    print(graph.to_mermaid())          # or graph.to_dot()

Nodes are states; a Parallel's branches and a Map's item processor are clusters beside
their state, joined to it by dotted edges. Edges have a kind: ``next``, ``choice`` (labelled
with the rule), ``default``, ``catch`` and ``retry`` (drawn apart from normal flow),
``branch``, and ``start`` / ``end`` for the machine's entry and exits. Given a `Timeline`
(`asl.history`), each state gets the outcome it had (succeeded, caught, failed, aborted,
or not visited) and the edges the execution took are marked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

START, END = "__start", "__end"
NOT_VISITED = "not visited"

# Fill, border, text colours per outcome: the same in both formats.
COLOURS = {
    "succeeded": ("#d4edda", "#2e7d32", "#1b4d20"),
    "caught": ("#fff3cd", "#d39e00", "#6b5000"),
    "failed": ("#f8d7da", "#c62828", "#7a1010"),
    "aborted": ("#e2e3e5", "#6c757d", "#383d41"),
    NOT_VISITED: ("#fafafa", "#bbbbbb", "#999999"),
}
EDGE_COLOURS = {"catch": "#c62828", "retry": "#d38b00"}

_SYMBOLS = {"Equals": "==", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "<=",
            "GreaterThanEquals": ">="}


@dataclass
class Node:
    id: str
    name: str
    type: str
    cluster: str | None = None
    outcome: str | None = None  # set from a history; None when there is none
    visits: int = 0


@dataclass
class Edge:
    src: str
    dst: str
    kind: str
    label: str = ""
    taken: bool = False


@dataclass
class Cluster:
    id: str
    label: str
    parent: str | None = None
    outcome: str | None = None


@dataclass
class Graph:
    name: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)

    def to_mermaid(self) -> str:
        return _Mermaid(self).render()

    def to_dot(self) -> str:
        return _Dot(self).render()

    def to_svg(self) -> str:
        """The graph drawn by Graphviz's ``dot`` program (`GraphvizError` without it, or when it fails)."""
        import shutil
        import subprocess

        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizError("Graphviz's `dot` program is not on PATH")
        done = subprocess.run([dot, "-Tsvg"], input=self.to_dot(), capture_output=True, text=True)
        if done.returncode != 0:
            raise GraphvizError(f"Graphviz's dot failed: {done.stderr.strip()}")
        return done.stdout


class GraphvizError(Exception):
    """Raised by `Graph.to_svg` when Graphviz's ``dot`` is not installed, or fails."""


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------

def build_graph(machine: Any, timeline: Any = None, name: str | None = None) -> Graph:
    """The graph of `machine` (from `asl.load`), coloured by `timeline` when given."""
    builder = _Builder(Graph(name or getattr(machine, "name", "") or "state machine"))
    builder.block(machine, None, top=True)
    graph = builder.graph
    if timeline is not None:
        _colour(graph, builder.ids, timeline)
    return graph


class _Builder:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.ids: dict[str, str] = {}

    def node_id(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = f"s{len(self.ids)}"
        return self.ids[name]

    def cluster(self, label: str, parent: str | None) -> str:
        cid = f"c{len(self.graph.clusters)}"
        self.graph.clusters.append(Cluster(cid, label, parent))
        return cid

    def block(self, block: Any, cluster: str | None, top: bool = False) -> str:
        """Add a block's states; return the id of its first state."""
        graph = self.graph
        for name in block.states:  # ids in definition order, so the output is stable
            self.node_id(name)
        if top:
            graph.edges.append(Edge(START, self.node_id(block.start_at), "start"))
        for name, state in block.states.items():
            sid = self.node_id(name)
            graph.nodes.append(Node(sid, name, state.type, cluster))
            self.flow(sid, state, top)
            self.recovery(sid, state)
            if state.type == "Parallel":
                outer = self.cluster(f"{name}: {len(state.branches)} branches", cluster)
                for i, branch in enumerate(state.branches, 1):
                    first = self.block(branch, self.cluster(f"branch {i}", outer))
                    graph.edges.append(Edge(sid, first, "branch"))
            elif state.type == "Map" and state.processor is not None:
                mode = "distributed" if state.is_distributed else "inline"
                first = self.block(state.processor, self.cluster(f"{name}: each item ({mode})", cluster))
                graph.edges.append(Edge(sid, first, "branch"))
        return self.node_id(block.start_at)

    def flow(self, sid: str, state: Any, top: bool) -> None:
        edges = self.graph.edges
        if state.type == "Choice":
            for rule in state.choices:
                edges.append(Edge(sid, self.node_id(rule.next), "choice", describe_rule(rule)))
            if state.default is not None:
                edges.append(Edge(sid, self.node_id(state.default), "default", "default"))
        elif getattr(state, "next", None):
            edges.append(Edge(sid, self.node_id(state.next), "next"))
        elif top and state.type != "Fail":
            edges.append(Edge(sid, END, "end"))

    def recovery(self, sid: str, state: Any) -> None:
        edges = self.graph.edges
        for retrier in getattr(state, "retry", None) or ():
            edges.append(Edge(sid, sid, "retry", f"retry {_errors(retrier.error_equals)} "
                                                 f"×{retrier.max_attempts}"))
        for catcher in getattr(state, "catch", None) or ():
            edges.append(Edge(sid, self.node_id(catcher.next), "catch", f"catch {_errors(catcher.error_equals)}"))


def _errors(names: list[str]) -> str:
    return ", ".join(names)


def describe_rule(rule: Any) -> str:
    """A Choice rule as short text: ``$.total > 1000``, ``$.a == "x" and not ($.b is null)``."""
    condition = getattr(rule, "condition", None)
    if condition is not None and condition.__class__.__name__ != "UnsetType":
        source = getattr(condition, "source", condition)
        if isinstance(source, str):
            text = source.strip()
            return text[2:-2].strip() if text.startswith("{%") and text.endswith("%}") else text
        return json.dumps(source)
    if rule.and_:
        return " and ".join(_grouped(r) for r in rule.and_)
    if rule.or_:
        return " or ".join(_grouped(r) for r in rule.or_)
    if rule.not_ is not None:
        return f"not {_grouped(rule.not_)}"
    variable = rule.variable.text if rule.variable is not None else "?"
    operator = rule.operator or "?"
    operand = rule.operand
    if operator.startswith("Is"):
        test = operator[2:].lower()
        return f"{variable} is {'' if operand else 'not '}{test}"
    if operator == "StringMatches":
        return f"{variable} matches {json.dumps(operand)}"
    shown = operand.text if hasattr(operand, "text") else json.dumps(operand, ensure_ascii=False)
    for suffix, symbol in sorted(_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
        if operator.removesuffix("Path").endswith(suffix):
            return f"{variable} {symbol} {shown}"
    return f"{variable} {operator} {shown}"


def _grouped(rule: Any) -> str:
    text = describe_rule(rule)
    return f"({text})" if rule.and_ or rule.or_ else text


def _colour(graph: Graph, ids: dict[str, str], timeline: Any) -> None:
    names = {sid: name for name, sid in ids.items()}
    for node in graph.nodes:
        node.outcome = timeline.outcomes.get(node.name, NOT_VISITED)
        node.visits = timeline.visits.get(node.name, 0)
    taken = timeline.transitions
    for edge in graph.edges:
        src = names.get(edge.src)
        dst = names.get(edge.dst)
        if edge.kind == "retry":
            edge.taken = src in timeline.retried
        elif edge.kind == "catch":
            edge.taken = (src, dst) in taken and timeline.outcomes.get(src) in ("caught", "failed")
        else:
            edge.taken = (src, dst) in taken
    parents = {c.id: c.parent for c in graph.clusters}
    by_cluster: dict[str, list[str]] = {}
    for node in graph.nodes:
        cluster = node.cluster
        while cluster is not None:  # a node counts for every cluster around it
            by_cluster.setdefault(cluster, []).append(node.outcome or NOT_VISITED)
            cluster = parents[cluster]
    for cluster in graph.clusters:  # a cluster takes its worst visited state's colour
        seen = [o for o in by_cluster.get(cluster.id, []) if o != NOT_VISITED]
        cluster.outcome = max(seen, key=_SEVERITY.index) if seen else NOT_VISITED


_SEVERITY = ("succeeded", "aborted", "caught", "failed")


# --------------------------------------------------------------------------------------------
# Mermaid
# --------------------------------------------------------------------------------------------

_MERMAID_SHAPES = {"Task": '["{}"]', "Pass": '("{}")', "Choice": '{{"{}"}}', "Wait": '[/"{}"/]',
                   "Succeed": '(["{}"])', "Fail": '(["{}"])', "Parallel": '[["{}"]]', "Map": '[["{}"]]'}
_MERMAID_ARROWS = {"next": "-->", "start": "-->", "end": "-->", "choice": "-->", "default": "-->",
                   "catch": "-.->", "retry": "-.->", "branch": "-.->"}


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


class _Mermaid:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.lines = ["flowchart TD"]

    def render(self) -> str:
        graph = self.graph
        lines = self.lines
        lines.append(f'  {START}(("start"))')
        if any(e.dst == END for e in graph.edges):
            lines.append(f'  {END}(("end"))')
        self.cluster_body(None, "  ")
        for i, edge in enumerate(graph.edges):
            arrow = _MERMAID_ARROWS[edge.kind]
            label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
            lines.append(f"  {edge.src} {arrow}{label} {edge.dst}")
        self.styles()
        return "\n".join(lines) + "\n"

    def cluster_body(self, cluster: str | None, indent: str) -> None:
        for node in self.graph.nodes:
            if node.cluster == cluster:
                label = f"{_mermaid_text(node.name)}<br/>{node.type}" + (f" ×{node.visits}" if node.visits > 1 else "")
                shape = _MERMAID_SHAPES.get(node.type, '["{}"]')
                self.lines.append(f"{indent}{node.id}{shape.format(label)}")
        for sub in self.graph.clusters:
            if sub.parent == cluster:
                self.lines.append(f'{indent}subgraph {sub.id}["{_mermaid_text(sub.label)}"]')
                self.cluster_body(sub.id, indent + "  ")
                self.lines.append(f"{indent}end")

    def styles(self) -> None:
        graph = self.graph
        lines = self.lines
        coloured = any(n.outcome for n in graph.nodes)
        for kind, colour in EDGE_COLOURS.items():
            indexes = [str(i) for i, e in enumerate(graph.edges) if e.kind == kind]
            if indexes:
                lines.append(f"  linkStyle {','.join(indexes)} stroke:{colour},color:{colour}")
        if not coloured:
            return
        taken = [str(i) for i, e in enumerate(graph.edges) if e.taken]
        if taken:
            lines.append(f"  linkStyle {','.join(taken)} stroke-width:3px")
        for outcome, (fill, stroke, text) in COLOURS.items():
            cls = outcome.replace(" ", "")
            lines.append(f"  classDef {cls} fill:{fill},stroke:{stroke},color:{text}")
            members = [n.id for n in graph.nodes if n.outcome == outcome]
            if members:
                lines.append(f"  class {','.join(members)} {cls}")
        for cluster in graph.clusters:
            stroke = COLOURS[cluster.outcome or NOT_VISITED][1]
            lines.append(f"  style {cluster.id} stroke:{stroke}")


# --------------------------------------------------------------------------------------------
# Graphviz DOT
# --------------------------------------------------------------------------------------------

_DOT_SHAPES = {"Task": "box", "Pass": "box", "Choice": "diamond", "Wait": "parallelogram", "Succeed": "box",
               "Fail": "box", "Parallel": "box3d", "Map": "box3d"}
_DOT_EDGES = {"catch": 'style=dashed, color="{c}", fontcolor="{c}"', "retry": 'style=dotted, color="{c}", '
              'fontcolor="{c}"', "branch": "style=dotted, arrowhead=empty"}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Dot:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.lines = [f"digraph {_dot_text(graph.name)} {{",
                      '  graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
                      '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", '
                      'fontsize=11];',
                      '  edge [fontname="Helvetica", fontsize=9];',
                      f'  {START} [shape=circle, label="", width=0.2, style=filled, fillcolor=black];']

    def render(self) -> str:
        graph = self.graph
        if any(e.dst == END for e in graph.edges):
            self.lines.append(f'  {END} [shape=doublecircle, label="", width=0.15, style=filled, fillcolor=black];')
        self.cluster_body(None, "  ")
        for edge in graph.edges:
            attrs = []
            if edge.label:
                attrs.append(f"label={_dot_text(edge.label)}")
            style = _DOT_EDGES.get(edge.kind)
            if style:
                attrs.append(style.format(c=EDGE_COLOURS.get(edge.kind, "black")))
            if edge.taken:
                attrs.append("penwidth=2.5")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            self.lines.append(f"  {edge.src} -> {edge.dst}{suffix};")
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"

    def cluster_body(self, cluster: str | None, indent: str) -> None:
        for node in self.graph.nodes:
            if node.cluster == cluster:
                label = f"{node.name}\n{node.type}" + (f" ×{node.visits}" if node.visits > 1 else "")
                attrs = [f"label={_dot_text(label)}", f"shape={_DOT_SHAPES.get(node.type, 'box')}"]
                if node.outcome:
                    fill, stroke, text = COLOURS[node.outcome]
                    attrs.append(f'fillcolor="{fill}", color="{stroke}", fontcolor="{text}"')
                if node.type in ("Succeed", "Fail"):
                    attrs.append("peripheries=2")
                self.lines.append(f"{indent}{node.id} [{', '.join(attrs)}];")
        for sub in self.graph.clusters:
            if sub.parent == cluster:
                colour = COLOURS[sub.outcome][1] if sub.outcome else "#888888"
                self.lines.append(f"{indent}subgraph cluster_{sub.id} {{")
                self.lines.append(f'{indent}  label={_dot_text(sub.label)}; style="dashed,rounded"; '
                                  f'color="{colour}";')
                self.cluster_body(sub.id, indent + "  ")
                self.lines.append(f"{indent}}}")
