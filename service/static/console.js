// asl console: plain JavaScript, no build step. Pages by the URL's hash:
//   #/                         state machines
//   #/machine/ARN              a machine: definition, graph, versions, aliases, executions, start
//   #/executions?...           executions (machine, mapRun, status, q, page, size)
//   #/execution/ARN            an execution: graph coloured live, states, events, Map Runs, actions
"use strict";

const main = document.getElementById("main");
let timer = null;   // the live refresh of the page shown
let shown = 0;      // bumped at each navigation: late answers of a page left are dropped

// ---- small helpers ------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function api(path, body) {
  const init = body === undefined ? {} : {method: "POST", body: JSON.stringify(body),
                                         headers: {"content-type": "application/json"}};
  const answer = await fetch("/console/api/" + path, init);
  const data = await answer.json();
  if (!answer.ok) throw new Error(`${data.error}: ${data.message}`);
  return data;
}

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
const when = (epoch) => epoch ? new Date(epoch * 1000).toLocaleString(undefined, {hour12: false}) : "";
const tail = (arn) => arn.split(":").slice(6).join(":") || arn;
const badge = (status) => h("span", {class: `badge s-${status}`, "data-status": status}, status);
const pretty = (value) => value === undefined || value === null ? "" :
  JSON.stringify(typeof value === "string" ? parseJson(value) : value, null, 2);
function parseJson(text) { try { return JSON.parse(text); } catch { return text; } }
function duration(start, stop) {
  if (!start) return "";
  const ms = Math.max(0, Math.round(((stop || Date.now() / 1000) - start) * 1000));
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.floor(ms / 60000)} min ${Math.round(ms % 60000 / 1000)} s`;
}
function fail(where, err) { where.replaceChildren(h("p", {class: "error", role: "alert"}, String(err.message || err))); }

// ---- routing ------------------------------------------------------------------------------------

function route() {
  clearTimeout(timer);
  shown += 1;
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  const [path, query] = hash.split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (path.startsWith("/execution/")) return executionPage(path.slice("/execution/".length));
  if (path.startsWith("/machine/")) return machinePage(path.slice("/machine/".length));
  if (path === "/executions") return executionsPage(params);
  return machinesPage();
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// ---- state machines -----------------------------------------------------------------------------

async function machinesPage() {
  main.replaceChildren(h("h1", {}, "State machines"), h("section", {id: "machines"}, "Loading…"));
  try {
    const {stateMachines} = await api("machines");
    const rows = stateMachines.map((m) => h("tr", {},
      h("td", {}, h("a", {href: "#/machine/" + encodeURIComponent(m.stateMachineArn)}, m.name)),
      h("td", {}, m.type, m.recorded && h("span", {class: "muted"}, " · from its executions")), h("td", {}, when(m.creationDate)),
      h("td", {}, h("a", {href: "#/executions?" + q({machine: m.stateMachineArn})}, "executions"))));
    document.getElementById("machines").replaceChildren(rows.length ? h("table", {},
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"), h("th", {}, "Created"), h("th", {}, "")), rows) :
      h("p", {class: "muted"}, "No state machines yet: create one with the API (asl serve), or see all ",
        h("a", {href: "#/executions"}, "executions"), " of the store."));
  } catch (err) { fail(document.getElementById("machines"), err); }
}

async function machinePage(arn) {
  const token = shown;
  main.replaceChildren(h("h1", {}, tail(arn)), h("p", {class: "muted"}, "Loading…"));
  let data;
  try { data = await api("machine?" + q({arn})); } catch (err) { return fail(main, err); }
  if (token !== shown) return;
  const m = data.stateMachine;
  const graph = h("div", {class: "graph", id: "graph"}, "Loading the graph…");
  main.replaceChildren(...[
    h("h1", {}, m.name, h("span", {class: "muted"}, m.type)),
    h("section", {}, h("dl", {class: "facts"}, h("dt", {}, "ARN"), h("dd", {}, m.stateMachineArn),
      h("dt", {}, data.recorded ? "First run" : "Created"), h("dd", {}, when(m.creationDate)),
      !data.recorded && [h("dt", {}, "Status"), h("dd", {}, m.status || "ACTIVE")]),
      data.recorded && h("p", {id: "recorded", class: "muted"}, "Known from its executions (such as asl run --store's): ",
        "no state machine of this name exists, so nothing can be started here. Definition and graph as its newest execution ran them.")),
    !data.recorded && startForm(m.stateMachineArn),
    h("div", {class: "grid"}, h("section", {}, h("h2", {}, "Graph"), graph),
      h("section", {}, h("h2", {}, "Definition"), h("pre", {id: "definition"}, pretty(m.definition)))),
    !data.recorded && h("section", {id: "versions"}, h("h2", {}, "Versions"), data.versions.length ? h("table", {},
      h("tr", {}, h("th", {}, "Version"), h("th", {}, "Created")),
      data.versions.map((v) => h("tr", {class: "version"}, h("td", {}, tail(v.stateMachineVersionArn)),
                                 h("td", {}, when(v.creationDate))))) :
      h("p", {class: "muted"}, "No versions published.")),
    !data.recorded && h("section", {id: "aliases"}, h("h2", {}, "Aliases"), data.aliases.length ? h("table", {},
      h("tr", {}, h("th", {}, "Alias"), h("th", {}, "Routing"), h("th", {}, "Description")),
      data.aliases.map((a) => h("tr", {class: "alias"}, h("td", {}, a.name),
        h("td", {}, a.routingConfiguration.map((r) => `${tail(r.stateMachineVersionArn)}: ${r.weight}%`).join(", ")),
        h("td", {}, a.description || "")))) : h("p", {class: "muted"}, "No aliases.")),
    h("section", {id: "executions"})].filter(Boolean));
  executionList(document.getElementById("executions"), {machine: arn}, false);
  try { drawGraph(graph, await api("graph?" + q({machine: arn})), {}, () => {}); } catch (err) { fail(graph, err); }
}

function startForm(machineArn) {
  const input = h("textarea", {id: "start-input", "aria-label": "Execution input"}, "{}");
  const name = h("input", {id: "start-name", placeholder: "name (optional)", "aria-label": "Execution name"});
  const message = h("span", {id: "start-message", class: "error", role: "alert"});
  const start = async () => {
    message.className = "error";
    message.textContent = "";
    try { JSON.parse(input.value); } catch (err) { message.textContent = `The input is not JSON: ${err.message}`; return; }
    try {
      const {executionArn} = await api("start", {stateMachineArn: machineArn, input: input.value, name: name.value});
      location.hash = "#/execution/" + encodeURIComponent(executionArn);
    } catch (err) { message.textContent = err.message; }
  };
  return h("section", {}, h("h2", {}, "Start an execution"), input,
    h("div", {class: "toolbar"}, name, h("button", {class: "primary", id: "start", onclick: start}, "Start execution"), message));
}

// ---- executions ---------------------------------------------------------------------------------

function executionsPage(params) {
  const title = params.mapRun ? `Map Run ${tail(params.mapRun)}` : params.machine ? tail(params.machine) : "All executions";
  main.replaceChildren(h("h1", {}, "Executions", h("span", {class: "muted"}, title)), h("section", {id: "executions"}));
  executionList(document.getElementById("executions"), params, true);
}

// The list of executions with its status filter, search box and pages; `inHash`: the filter
// and page are kept in the URL (the executions page) or only in the list (a machine's page).
function executionList(where, params, inHash) {
  const state = {status: params.status || "", q: params.q || "", page: Number(params.page) || 1,
                 size: Number(params.size) || 50};
  const status = h("select", {id: "status-filter", "aria-label": "Status"},
    ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].map((s) =>
      h("option", {value: s, selected: s === state.status}, s || "Any status")));
  const search = h("input", {id: "search", type: "search", placeholder: "Search by name or ARN", value: state.q,
                             "aria-label": "Search executions"});
  const size = h("select", {id: "page-size", "aria-label": "Page size"},
    [25, 50, 100, 500, 1000].map((n) => h("option", {value: n, selected: n === state.size}, `${n} per page`)));
  const body = h("div", {id: "execution-rows"}, "Loading…");
  const info = h("span", {id: "page-info", class: "muted"});
  const prev = h("button", {id: "prev-page", onclick: () => go(state.page - 1)}, "‹ Previous");
  const next = h("button", {id: "next-page", onclick: () => go(state.page + 1)}, "Next ›");
  const go = (page) => { state.page = page; inHash ? save() : load(); };
  const save = () => { location.hash = "#/executions?" + q({...params, status: state.status, q: state.q,
                                                              page: state.page > 1 ? state.page : "", size: state.size !== 50 ? state.size : ""}); };
  status.addEventListener("change", () => { state.status = status.value; go(1); });
  size.addEventListener("change", () => { state.size = Number(size.value); go(1); });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { state.q = search.value; go(1); } });
  const token = shown;
  async function load() {
    let data;
    try {
      data = await api("executions?" + q({machine: params.machine, mapRun: params.mapRun, status: state.status,
                                          q: state.q, page: state.page, size: state.size}));
    } catch (err) { return fail(body, err); }
    if (token !== shown) return;
    info.textContent = `page ${data.page} of ${data.pages} · ${data.total} execution${data.total === 1 ? "" : "s"}`;
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= data.pages;
    body.replaceChildren(data.executions.length ? h("table", {},
      h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "State machine"), h("th", {}, "Started"),
        h("th", {}, "Ended"), h("th", {}, "Duration")),
      data.executions.map((e) => h("tr", {class: "execution-row"},
        h("td", {}, h("a", {href: "#/execution/" + encodeURIComponent(e.executionArn)}, e.name)),
        h("td", {}, badge(e.status)), h("td", {}, e.stateMachineName), h("td", {}, when(e.startDate)),
        h("td", {}, when(e.stopDate)), h("td", {}, duration(e.startDate, e.stopDate))))) :
      h("p", {class: "muted"}, "No executions match."));
    clearTimeout(timer);  // while some are running, keep their status current
    if (data.executions.some((e) => e.status === "RUNNING")) timer = setTimeout(load, 2000);
  }
  where.replaceChildren(h("h2", {}, "Executions"), h("div", {class: "toolbar"}, status, search, size), body,
    h("div", {class: "pager"}, prev, info, next));
  load();
}

// ---- one execution ------------------------------------------------------------------------------

async function executionPage(arn) {
  const token = shown;
  const view = {selected: null, data: null, graph: null, events: []};
  const header = h("div", {id: "header"});
  const graph = h("div", {class: "graph", id: "graph"}, "Loading the graph…");
  const detail = h("section", {id: "state-detail"}, h("h2", {}, "State"),
                   h("p", {class: "muted"}, "Select a state in the graph or the table."));
  const states = h("section", {id: "states"});
  const events = h("section", {id: "events"});
  const mapRuns = h("section", {id: "map-runs", hidden: true});
  const runs = h("section", {id: "runs", hidden: true});
  main.replaceChildren(header, runs, h("div", {class: "grid"}, h("section", {}, h("h2", {}, "Graph"), graph), detail),
                       mapRuns, states, events);
  const select = (name) => { view.selected = name; render(); };
  try { view.graph = await api("graph?" + q({execution: arn})); } catch (err) { fail(graph, err); }
  async function refresh() {
    try { view.data = await api("execution?" + q({arn, after: view.events.length})); } catch (err) { return fail(header, err); }
    if (token !== shown) return;
    view.events.push(...view.data.events);
    render();
    if (view.data.execution.status === "RUNNING") timer = setTimeout(refresh, 500);
  }
  function render() {
    const d = view.data;
    if (!d) return;
    renderHeader(header, d.execution, refresh);
    if (view.graph) drawGraph(graph, view.graph, d.outcomes, select, d.taken, view.selected);
    renderDetail(detail, d.states.filter((s) => s.name === view.selected), view.selected);
    renderStates(states, d.states, select, view.selected);
    renderEvents(events, view.events);
    renderMapRuns(mapRuns, d.mapRuns);
    renderRuns(runs, d.runs);
  }
  refresh();
}

function renderHeader(where, e, refresh) {
  const message = h("span", {id: "action-message", class: "error", role: "alert"});
  const act = (path, body) => async () => {
    message.textContent = "";
    try { await api(path, body); clearTimeout(timer); refresh(); } catch (err) { message.textContent = err.message; }
  };
  const machine = e.stateMachineArn;
  const express = e.type === "EXPRESS";  // kept by the server for this page: the API has no record of it
  where.replaceChildren(
    h("h1", {}, e.name, badge(e.status),
      e.status === "RUNNING" && !express && h("button", {class: "danger", id: "stop", onclick: act("stop", {executionArn: e.executionArn})}, "Stop execution"),
      e.redriveStatus === "REDRIVABLE" && h("button", {id: "redrive", onclick: act("redrive", {executionArn: e.executionArn})}, "Redrive"),
      message),
    h("section", {class: "grid"}, h("dl", {class: "facts"},
      h("dt", {}, "Execution ARN"), h("dd", {}, e.executionArn),
      express && [h("dt", {}, "Type"), h("dd", {id: "execution-type"}, "Express (this server keeps its latest ones in memory for this page: not in its store, not in the API)")],
      h("dt", {}, "State machine"), h("dd", {}, e.mapRunArn ? machine : h("a", {href: "#/machine/" + encodeURIComponent(machine)}, machine)),
      e.mapRunArn && [h("dt", {}, "Map Run"), h("dd", {}, h("a", {href: "#/executions?" + q({mapRun: e.mapRunArn})}, e.mapRunArn))],
      h("dt", {}, "Started"), h("dd", {}, when(e.startDate)),
      e.stopDate && [h("dt", {}, "Ended"), h("dd", {}, when(e.stopDate))],
      h("dt", {}, "Duration"), h("dd", {}, duration(e.startDate, e.stopDate)),
      e.redriveCount > 0 && [h("dt", {}, "Redrive count"), h("dd", {id: "redrive-count"}, e.redriveCount),
                         h("dt", {}, "Last redrive"), h("dd", {id: "redrive-date"}, when(e.redriveDate))],
      e.error && [h("dt", {}, "Error"), h("dd", {id: "execution-error", class: "error"}, e.error)],
      e.cause && [h("dt", {}, "Cause"), h("dd", {id: "execution-cause", class: "cause"}, e.cause)]),
      h("div", {class: "kv"},
        h("h3", {}, "Input"), h("pre", {id: "execution-input", class: "short"}, pretty(e.input)),
        e.output !== undefined && [h("h3", {}, "Output"), h("pre", {id: "execution-output", class: "short"}, pretty(e.output))])));
}

function renderDetail(where, visits, name) {
  if (!name) return;
  const block = (title, value, id) => value === undefined || value === null ? null :
    [h("h3", {}, title), h("pre", {"data-field": id}, pretty(value))];
  where.replaceChildren(h("h2", {}, name), ...(
    visits.length ? visits.map((v, i) => h("div", {class: "kv visit", "data-state": v.name, "data-outcome": v.status},
      h("p", {}, visits.length > 1 ? `Visit ${i + 1} · ` : "", v.address !== v.name ? `${v.address} · ` : "",
        `${v.type} · `, h("b", {}, v.status), v.exited ? ` · ${duration(v.entered, v.exited)}` : ""),
      v.error && h("p", {class: "error"}, h("b", {"data-field": "error"}, v.error)),
      v.cause && h("pre", {class: "cause", "data-field": "cause"}, v.cause),
      v.retries.length ? h("p", {class: "muted"}, `${v.retries.length} retr${v.retries.length === 1 ? "y" : "ies"}: ` +
        v.retries.map((r) => r.error).join(", ")) : null,
      block("Input", v.input, "input"), block("Parameters", v.parameters, "parameters"),
      block("Result", v.result, "result"), block("Output", v.output, "output"))) :
      [h("p", {class: "muted"}, "Not reached in this execution.")]));
}

function renderStates(where, states, select, selected) {
  where.replaceChildren(h("h2", {}, "States"), h("table", {},
    h("tr", {}, h("th", {}, "State"), h("th", {}, "Type"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Duration"),
      h("th", {}, "Error")),
    states.map((s) => h("tr", {class: "clickable" + (s.name === selected ? " selected" : ""), "data-state": s.name,
                               onclick: () => select(s.name)},
      h("td", {}, s.address), h("td", {}, s.type), h("td", {}, s.status), h("td", {}, when(s.entered)),
      h("td", {}, s.exited ? duration(s.entered, s.exited) : ""), h("td", {}, s.error || "")))));
}

// The event table as AWS's console shows it; a row opens to the event's details. Rows are
// appended as events arrive: the page asks only for the events after those it has.
function renderEvents(where, events) {
  let table = where.querySelector("#event-table");
  if (!table) {
    table = h("table", {id: "event-table"}, h("tr", {}, h("th", {}, "ID"), h("th", {}, "Type"), h("th", {}, "Step"),
      h("th", {}, "Resource"), h("th", {}, "Started after"), h("th", {}, "Date and time")));
    where.replaceChildren(h("h2", {}), table);
  }
  const shownRows = table.querySelectorAll("tr.event-row").length;
  for (const e of events.slice(shownRows)) {
    const details = h("tr", {class: "event-details", "data-id": e.id, hidden: true},
      h("td", {colspan: 6}, h("pre", {}, JSON.stringify(e.details, (k, v) =>
        (k === "input" || k === "output" || k === "parameters") && typeof v === "string" ? parseJson(v) : v, 2))));
    table.append(h("tr", {class: "clickable event-row", onclick: () => { details.hidden = !details.hidden; }},
      h("td", {}, e.id), h("td", {}, e.type), h("td", {}, e.step || ""), h("td", {}, e.resource || ""),
      h("td", {}, `${e.elapsedMs} ms`), h("td", {}, when(e.timestamp))), details);
  }
  where.querySelector("h2").textContent = `Events (${events.length})`;
}

// The first run and each redrive (shown once there is a redrive), with the events of each.
function renderRuns(where, runs) {
  where.hidden = runs.length < 2;
  if (where.hidden) return;
  where.replaceChildren(h("h2", {}, "Runs"), h("table", {},
    h("tr", {}, h("th", {}, "Run"), h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Ended"),
      h("th", {}, "Duration"), h("th", {}, "Events")),
    runs.map((r) => h("tr", {class: "run", "data-redrive-count": r.redriveCount},
      h("td", {}, r.redriveCount ? `Redrive ${r.redriveCount}` : "First run"), h("td", {}, badge(r.status)),
      h("td", {}, when(r.startDate)), h("td", {}, when(r.stopDate)), h("td", {}, duration(r.startDate, r.stopDate)),
      h("td", {}, `${r.firstEvent}–${r.lastEvent}`)))));
}

function renderMapRuns(where, runs) {
  where.hidden = !runs.length;
  if (!runs.length) return;
  const counts = (c) => `${c.succeeded} succeeded, ${c.failed} failed, ${c.running} running, ${c.pending} pending, ` +
                        `${c.aborted} aborted, ${c.timedOut} timed out · ${c.total} total`;
  where.replaceChildren(h("h2", {}, "Map Runs"), h("table", {},
    h("tr", {}, h("th", {}, "Map Run"), h("th", {}, "Status"), h("th", {}, "Items"), h("th", {}, "Child executions")),
    runs.map((r) => h("tr", {class: "map-run"},
      h("td", {}, h("a", {href: "#/executions?" + q({mapRun: r.mapRunArn})}, tail(r.mapRunArn))), h("td", {}, badge(r.status)),
      h("td", {class: "item-counts"}, counts(r.itemCounts)), h("td", {}, counts(r.executionCounts))))));
}

// ---- the graph: asl.graph's nodes drawn by Graphviz (or listed), coloured by outcome ------------

function drawGraph(where, graph, outcomes, select, taken, selected) {
  const byId = Object.fromEntries(graph.nodes.map((n) => [n.id, n]));
  if (!where.dataset.drawn) {
    where.dataset.drawn = "1";
    if (graph.svg) where.innerHTML = graph.svg;
    else where.replaceChildren(boxes(graph, null));
    where.append(h("div", {class: "legend"}, Object.entries(graph.colours).map(([name, [fill, stroke]]) =>
      h("span", {style: `--f: ${fill}; --c: ${stroke}`}, name))));
    for (const el of where.querySelectorAll("g.node")) {
      const node = byId[el.querySelector("title")?.textContent];
      if (node) el.dataset.state = node.name;
    }
    where.addEventListener("click", (event) => {
      const el = event.target.closest("[data-state]");
      if (el) select(el.dataset.state);
    });
  }
  for (const el of where.querySelectorAll("[data-state]")) {
    const node = graph.nodes.find((n) => n.name === el.dataset.state);
    const outcome = (node && outcomes[node.id]) || "not visited";
    el.dataset.outcome = outcome;
    el.classList.toggle("selected", el.dataset.state === selected);
    const [fill, stroke, text] = graph.colours[outcome] || graph.colours["not visited"];
    if (el.tagName === "DIV") { el.style.background = fill; el.style.borderColor = stroke; el.style.color = text; continue; }
    for (const shape of el.querySelectorAll("path, polygon, ellipse")) { shape.style.fill = fill; shape.style.stroke = stroke; }
    for (const label of el.querySelectorAll("text")) label.style.fill = text;
  }
  const edges = new Set((taken || []).map(([a, b]) => `${a}->${b}`));
  for (const el of where.querySelectorAll("g.edge")) {
    const on = edges.has(el.querySelector("title")?.textContent);
    for (const line of el.querySelectorAll("path")) line.style.strokeWidth = on ? "2.5px" : "";
  }
}

function boxes(graph, cluster) {  // without Graphviz: the states in order, branches nested
  return h("div", {class: "boxes"},
    graph.nodes.filter((n) => n.cluster === cluster).map((n) => h("div", {class: "node", "data-state": n.name},
      h("b", {}, n.name), " ", h("span", {class: "muted"}, n.type))),
    graph.clusters.filter((c) => c.parent === cluster).map((c) => h("div", {class: "cluster"},
      h("span", {class: "muted"}, c.label), boxes(graph, c.id))));
}
