// otel-replay view: draws the embedded data. Every value in it comes from the input and is
// untrusted: the DOM is built with createElement and textContent only (never innerHTML),
// styles are set through the CSSOM, and the page's Content-Security-Policy forbids any request.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var ROW = 24;
  var byId = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  // -- formatting ---------------------------------------------------------------------
  function fmtTime(ms) {
    var d = new Date(ms);
    if (isNaN(d.getTime())) return String(ms);
    return d.toISOString().replace("T", " ").replace(/(\.\d{3})Z$/, "$1Z");
  }
  function fmtDur(ms) {
    if (ms < 0) return "-" + fmtDur(-ms);
    if (ms < 1) return Math.round(ms * 1000) + "µs";
    if (ms < 1000) return (ms < 10 ? ms.toFixed(2) : ms.toFixed(1)) + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + "s";
    var s = Math.floor(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }
  function text(v) { return typeof v === "string" ? v : JSON.stringify(v); }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function service(r) { var s = (D.resources[r] || {})["service.name"]; return s === undefined ? "" : text(s); }

  function kvTable(obj, skip) {
    var table = el("table", "kv");
    Object.keys(obj || {}).forEach(function (k) {
      if (skip && skip.indexOf(k) >= 0) return;
      var tr = el("tr");
      add(tr, el("td", null, k), el("td", null, text(obj[k])));
      table.appendChild(tr);
    });
    return table.rows.length ? table : el("div", "muted", "none");
  }

  // -- a virtual list: only the rows in view exist in the DOM ---------------------------
  function VList(box, render) {
    var spacer = el("div", "spacer");
    box.appendChild(spacer);
    var self = { items: [], selected: -1 };
    var pending = false;
    self.draw = function () {
      pending = false;
      clear(spacer);
      spacer.style.height = self.items.length * ROW + "px";
      var height = Math.max(box.clientHeight, 800);
      var first = Math.max(0, Math.floor(box.scrollTop / ROW) - 5);
      var last = Math.min(self.items.length, Math.ceil((box.scrollTop + height) / ROW) + 5);
      for (var i = first; i < last; i++) {
        var row = render(self.items[i], i);
        row.style.top = i * ROW + "px";
        spacer.appendChild(row);
      }
    };
    self.set = function (items) { self.items = items; self.draw(); };
    self.show = function (pos) {
      var top = pos * ROW;
      if (top < box.scrollTop || top + ROW > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - 3 * ROW);
      self.draw();
    };
    box.addEventListener("scroll", function () {
      if (!pending) { pending = true; window.requestAnimationFrame(self.draw); }
    });
    return self;
  }

  // -- header and tabs -------------------------------------------------------------------
  var errorTotal = 0;
  D.traces.forEach(function (t) { errorTotal += t.errors; });
  (function summary() {
    var box = byId("summary");
    add(box, el("span", null, plural(D.traces.length, "trace") + " · " + plural(D.counts.spans, "span") + " · "));
    var errs = add(el("span", errorTotal ? "err" : null), el("span", null, String(errorTotal)));
    errs.firstChild.id = "error-count";
    errs.appendChild(document.createTextNode(errorTotal === 1 ? " error" : " errors"));
    add(box, errs, el("span", null, " · " + plural(D.counts.logs, "log record") + " · " +
      plural(D.counts.points, "metric point") + " · " + plural(D.problemCount, "problem")));
    if (D.inputs.length) document.title = "otel-replay view: " + D.inputs[0] + (D.inputs.length > 1 ? " …" : "");
  })();

  var opened = {};
  function openTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
      b.classList.toggle("on", b.getAttribute("data-tab") === name);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (s) {
      s.classList.toggle("on", s.id === "tab-" + name);
    });
    if (!opened[name]) { opened[name] = true; if (tabInit[name]) tabInit[name](); }
    if (name === "traces") { traceList.draw(); waterfall.draw(); }
    if (name === "logs") logList.draw();
  }
  byId("tabs").addEventListener("click", function (e) {
    var tab = e.target.getAttribute && e.target.getAttribute("data-tab");
    if (tab) openTab(tab);
  });

  // -- the trace list ---------------------------------------------------------------------
  var COLS = [["root", "Root span", "c-root"], ["service", "Service", "c-service"], ["start", "Start", "c-start"],
    ["duration", "Duration", "c-dur"], ["spans", "Spans", "c-spans"], ["errors", "Errors", "c-errors"]];
  var sortKey = "start", sortDesc = false, current = -1;
  var traceIndex = {};
  D.traces.forEach(function (t, i) { traceIndex[t.id] = i; });

  var traceList = VList(byId("trace-list"), function (ti) {
    var t = D.traces[ti];
    var row = el("div", "row trace" + (t.errors ? " error" : "") + (ti === current ? " sel" : ""));
    row.setAttribute("data-trace", t.id);
    add(row, el("span", "c-root", t.root), el("span", "c-service", t.service), startCell(t.start),
      el("span", "c-dur", fmtDur(t.duration)), el("span", "c-spans", t.spans.length), el("span", "c-errors", t.errors));
    row.addEventListener("click", function () { selectTrace(ti); });
    return row;
  });

  (function traceHead() {
    var head = byId("trace-head");
    COLS.forEach(function (c) {
      var cell = add(head, el("span", c[2], c[1])).lastChild;
      cell.setAttribute("data-key", c[0]);
    });
    head.addEventListener("click", function (e) {
      var key = e.target.getAttribute && e.target.getAttribute("data-key");
      if (!key) return;
      sortDesc = key === sortKey ? !sortDesc : key === "errors" || key === "duration" || key === "spans";
      sortKey = key;
      filterTraces();
    });
  })();

  function startCell(ms) {
    var cell = el("span", "c-start", fmtTime(ms).slice(5));  // the year is in the tooltip
    cell.title = fmtTime(ms);
    return cell;
  }
  function sortValue(t, key) { return key === "spans" ? t.spans.length : t[key]; }
  var hay = null;
  function filterTraces() {
    var q = byId("trace-search").value.trim().toLowerCase();
    if (q && !hay) {
      hay = D.traces.map(function (t) {
        var names = t.spans.slice(0, 500).map(function (s) { return s.name; }).join("\n");
        return (t.root + "\n" + t.service + "\n" + t.id + "\n" + names).toLowerCase();
      });
    }
    var items = [];
    for (var i = 0; i < D.traces.length; i++) if (!q || hay[i].indexOf(q) >= 0) items.push(i);
    items.sort(function (a, b) {
      var x = sortValue(D.traces[a], sortKey), y = sortValue(D.traces[b], sortKey);
      var c = x < y ? -1 : x > y ? 1 : a - b;
      return sortDesc ? -c : c;
    });
    Array.prototype.forEach.call(byId("trace-head").children, function (cell) {
      cell.classList.toggle("sorted", cell.getAttribute("data-key") === sortKey);
      cell.classList.toggle("desc", sortDesc);
    });
    byId("trace-count").textContent = items.length + " of " + plural(D.traces.length, "trace");
    traceList.set(items);
  }
  byId("trace-search").addEventListener("input", filterTraces);

  // -- the waterfall ----------------------------------------------------------------------
  var collapsed = {}, selectedSpan = -1, t0 = 0, total = 1;
  function hasChildren(spans, i) { return i + 1 < spans.length && spans[i + 1].depth > spans[i].depth; }
  function pct(ms) { return ((ms - t0) / total) * 100; }

  var waterfall = VList(byId("waterfall"), function (si) {
    var t = D.traces[current], s = t.spans[si];
    var row = el("div", "row span" + (si === selectedSpan ? " sel" : ""));
    row.setAttribute("data-span", s.id);
    var name = el("span", "w-name");
    name.style.paddingLeft = 4 + s.depth * 14 + "px";
    var toggle = el("span", "toggle", hasChildren(t.spans, si) ? (collapsed[si] ? "▸" : "▾") : "");
    toggle.addEventListener("click", function (e) {
      e.stopPropagation();
      if (!hasChildren(t.spans, si)) return;
      collapsed[si] = !collapsed[si];
      layoutWaterfall();
    });
    var svc = service(s.r);
    add(name, toggle, svc !== t.service ? el("span", "svc", svc) : null, el("span", "nm", s.name));
    var lane = el("span", "w-bar");
    var bar = el("span", "bar-span " + s.status);
    bar.style.left = pct(s.start) + "%";
    bar.style.width = Math.max(0, pct(s.end) - pct(s.start)) + "%";
    var label = el("span", "bar-label", fmtDur(s.end - s.start));
    if (pct(s.end) > 85) { label.classList.add("before"); label.style.right = 100 - pct(s.start) + "%"; }
    else label.style.left = pct(s.end) + "%";
    add(lane, bar, label);
    s.events.forEach(function (ev) {
      var mark = el("span", "mark" + (ev.name === "exception" ? " exception" : ""));
      mark.style.left = pct(ev.time) + "%";
      mark.title = ev.name;
      lane.appendChild(mark);
    });
    add(row, name, lane);
    row.addEventListener("click", function () { selectSpan(si); });
    return row;
  });

  function layoutWaterfall() {
    var spans = D.traces[current].spans, rows = [], hideBelow = Infinity;
    for (var i = 0; i < spans.length; i++) {
      if (spans[i].depth > hideBelow) continue;
      hideBelow = collapsed[i] ? spans[i].depth : Infinity;
      rows.push(i);
    }
    waterfall.set(rows);
  }

  function drawAxis() {
    var axis = clear(byId("waterfall-axis"));
    var lane = el("span", "w-bar");
    [0, 0.25, 0.5, 0.75].forEach(function (f) {
      var tick = el("span", "axis-tick", fmtDur(total * f));
      tick.style.left = f * 100 + "%";
      lane.appendChild(tick);
    });
    add(axis, el("span", "w-name", "Span"), lane);
  }

  function selectTrace(ti, spanIndex) {
    current = ti;
    var t = D.traces[ti];
    collapsed = {};
    selectedSpan = -1;
    t0 = t.start;
    total = t.duration > 0 ? t.duration : 1;
    var title = clear(byId("trace-title"));
    add(title, el("span", null, t.root + " "), el("span", "muted mono", t.id + " · " + fmtTime(t.start) + " · " +
      fmtDur(t.duration) + " · " + plural(t.spans.length, "span") + " · " + plural(t.errors, "error")));
    drawAxis();
    layoutWaterfall();
    traceList.draw();
    if (spanIndex !== undefined && spanIndex >= 0) selectSpan(spanIndex);
    else { clear(byId("span-detail")).appendChild(el("div", "muted", "Click a span to see its attributes, events and resource.")); showLogs(t, null); }
  }

  // -- span details -----------------------------------------------------------------------
  var STACK_KEYS = ["exception.stacktrace", "exception.message", "exception.type"];
  function eventBox(ev, start) {
    var box = el("div", "event" + (ev.name === "exception" ? " exception" : ""));
    add(box, el("div", null, ev.name + "  +" + fmtDur(ev.time - start)));
    var a = ev.attributes || {};
    if (a["exception.type"] !== undefined || a["exception.message"] !== undefined) {
      add(box, el("div", "status-error exception-message", [a["exception.type"], a["exception.message"]]
        .filter(function (x) { return x !== undefined; }).map(text).join(": ")));
    }
    if (a["exception.stacktrace"] !== undefined) add(box, el("pre", "stack", text(a["exception.stacktrace"])));
    if (Object.keys(a).some(function (k) { return STACK_KEYS.indexOf(k) < 0; })) add(box, kvTable(a, STACK_KEYS));
    return box;
  }

  function selectSpan(si) {
    var t = D.traces[current], s = t.spans[si];
    selectedSpan = si;
    var box = clear(byId("span-detail"));
    add(box, el("h2", "span-name", s.name));
    var status = el("div", "status-" + s.status, "status " + s.status + (s.message ? ": " + s.message : ""));
    var ids = { "trace id": t.id, "span id": s.id, "parent id": s.parent || "(root)", kind: s.kind,
      start: fmtTime(s.start), duration: fmtDur(s.end - s.start), service: service(s.r), file: s.origin };
    if (s.scope) ids.scope = s.scope;
    add(box, status, el("h3", null, plural(s.events.length, "event")));
    s.events.forEach(function (ev) { box.appendChild(eventBox(ev, s.start)); });
    add(box, el("h3", null, "Attributes"), kvTable(s.attributes), el("h3", null, "Span"), kvTable(ids));
    if (s.links) {
      add(box, el("h3", null, "Links"));
      s.links.forEach(function (l) { box.appendChild(el("div", "mono", l.trace + " / " + l.span)); });
    }
    add(box, el("h3", null, "Resource"), kvTable(D.resources[s.r]));
    showLogs(t, s);
    waterfall.draw();
  }

  // -- logs beside the waterfall ------------------------------------------------------------
  var logsByTrace = {};
  D.logs.forEach(function (l, i) { if (l.trace) (logsByTrace[l.trace] = logsByTrace[l.trace] || []).push(i); });

  function logLine(li) {
    var l = D.logs[li];
    var line = el("div", "logline " + sevClass(l.severity));
    add(line, el("span", "mono", fmtTime(l.time) + " "), el("b", null, (l.level || "-") + " "), el("span", "body", text(l.body)));
    return line;
  }

  function showLogs(t, s) {
    var box = clear(byId("span-logs"));
    var all = logsByTrace[t.id] || [];
    var mine = s ? all.filter(function (li) { return D.logs[li].span === s.id; }) : all;
    add(box, el("h3", null, plural(mine.length, "log record") + (s ? " of this span" : " of this trace") +
      (s && all.length !== mine.length ? " (" + all.length + " in the trace)" : "")));
    var list = add(box, el("div", "loglines")).lastChild;
    mine.slice(0, 500).forEach(function (li) {
      var line = logLine(li);
      line.addEventListener("click", function () { openTab("logs"); showLogDetail(li); });
      list.appendChild(line);
    });
    if (mine.length > 500) add(box, el("div", "muted", (mine.length - 500) + " more in the Logs tab"));
  }

  // -- the log view -----------------------------------------------------------------------
  function sevClass(n) {
    return n >= 21 ? "sev-fatal" : n >= 17 ? "sev-error" : n >= 13 ? "sev-warn" : n >= 9 ? "sev-info" : "sev-debug";
  }
  var logHay = null, selectedLog = -1;
  var logList = VList(byId("log-list"), function (li) {
    var l = D.logs[li];
    var row = el("div", "row log " + sevClass(l.severity) + (li === selectedLog ? " sel" : ""));
    add(row, el("span", "l-time", fmtTime(l.time)), el("span", "l-sev", l.level || "-"), el("span", "l-svc", service(l.r)),
      el("span", "l-body", text(l.body)));
    row.addEventListener("click", function () { showLogDetail(li); });
    return row;
  });

  function filterLogs() {
    var min = Number(byId("log-severity").value), q = byId("log-search").value.trim().toLowerCase();
    if (q && !logHay) {
      logHay = D.logs.map(function (l) { return (text(l.body) + "\n" + l.level + "\n" + JSON.stringify(l.attributes) + "\n" + l.trace).toLowerCase(); });
    }
    var items = [];
    for (var i = 0; i < D.logs.length; i++) {
      if (min && D.logs[i].severity < min) continue;
      if (q && logHay[i].indexOf(q) < 0) continue;
      items.push(i);
    }
    byId("log-count").textContent = items.length + " of " + plural(D.logs.length, "log record");
    logList.set(items);
  }
  byId("log-severity").addEventListener("change", filterLogs);
  byId("log-search").addEventListener("input", filterLogs);

  function spanOf(l) {
    var ti = traceIndex[l.trace];
    if (ti === undefined || !l.span) return null;
    var spans = D.traces[ti].spans;
    for (var i = 0; i < spans.length; i++) if (spans[i].id === l.span) return [ti, i];
    return null;
  }

  function showLogDetail(li) {
    var l = D.logs[li];
    selectedLog = li;
    var pos = logList.items.indexOf(li);
    if (pos >= 0) logList.show(pos);
    var box = clear(byId("log-detail"));
    add(box, el("div", "mono", fmtTime(l.time) + "  " + (l.level || "-") + "  " + service(l.r)));
    add(box, el("pre", "stack log-body", text(l.body)));
    var target = spanOf(l);
    if (target) {
      var link = el("a", "link span-link", "open span " + l.span + " in trace " + l.trace);
      link.addEventListener("click", function () { openSpan(target[0], target[1]); });
      box.appendChild(link);
    } else if (l.trace) {
      box.appendChild(el("div", "muted", "trace " + l.trace + (l.span ? " span " + l.span : "") + " (not in this report)"));
    }
    add(box, el("h3", null, "Attributes"), kvTable(l.attributes), el("h3", null, "Resource"), kvTable(D.resources[l.r]),
      el("div", "muted", l.origin));
  }

  function openSpan(ti, si) {
    openTab("traces");
    if (traceList.items.indexOf(ti) < 0) { byId("trace-search").value = ""; filterTraces(); }
    traceList.show(traceList.items.indexOf(ti));
    selectTrace(ti, si);
    if (si < 0) return;
    var pos = waterfall.items.indexOf(si);
    if (pos >= 0) waterfall.show(pos);
  }

  // -- metrics ------------------------------------------------------------------------------
  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }
  function fmtNum(v) { return Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(Math.round(v * 1000) / 1000); }

  function chart(metric, series) {
    var W = 300, H = 90, P = 4, box = el("div", "chart");
    var pts = series.points.filter(function (p) { return p[1] !== null; });
    var caption = Object.keys(series.attributes).map(function (k) { return k + "=" + text(series.attributes[k]); }).join(", ");
    box.appendChild(el("div", "cap", (caption || "(no attributes)") + (series.service ? "  · " + series.service : "")));
    var g = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    if (pts.length) {
      var x0 = pts[0][0], x1 = pts[pts.length - 1][0], ys = pts.map(function (p) { return p[1]; });
      var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (y0 === y1) { y0 -= 1; y1 += 1; }
      var sx = function (x) { return x1 === x0 ? W / 2 : P + ((x - x0) / (x1 - x0)) * (W - 2 * P); };
      var sy = function (y) { return H - 14 - ((y - y0) / (y1 - y0)) * (H - 28); };
      var line = pts.map(function (p) { return sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ");
      g.appendChild(svg("polyline", { points: line, fill: "none", stroke: "#3b6fc4", "stroke-width": 1.5 }));
      pts.forEach(function (p) {
        var dot = svg("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 2, fill: "#3b6fc4" });
        add(dot, svg("title", {})).lastChild.textContent = fmtTime(p[0]) + "  " + fmtNum(p[1]);
        g.appendChild(dot);
      });
      var hi = svg("text", { x: 2, y: 10, "font-size": 10, fill: "#6b7485" }); hi.textContent = "max " + fmtNum(Math.max.apply(null, ys));
      var lo = svg("text", { x: 2, y: H - 2, "font-size": 10, fill: "#6b7485" }); lo.textContent = "last " + fmtNum(ys[ys.length - 1]) + " · " + plural(pts.length, "point");
      add(g, hi, lo);
    }
    box.appendChild(g);
    return box;
  }

  var METRIC_PAGE = 40, metricShown = 0, metricItems = [];
  function metricBox(m) {
    var box = el("div", "metric");
    add(box, el("h3", null, m.name), el("div", "muted", m.type + (m.unit ? " · " + m.unit : "") + " · " +
      plural(m.series.length, "series").replace("seriess", "series") + (m.description ? " · " + m.description : "")));
    var charts = add(box, el("div", "charts")).lastChild;
    m.series.slice(0, 60).forEach(function (s) { charts.appendChild(chart(m, s)); });
    if (m.series.length > 60) add(box, el("div", "muted", (m.series.length - 60) + " more series not drawn"));
    return box;
  }
  function moreMetrics() {
    var list = byId("metric-list"), old = list.querySelector("button.more");
    if (old) list.removeChild(old);
    metricItems.slice(metricShown, metricShown + METRIC_PAGE).forEach(function (m) { list.appendChild(metricBox(m)); });
    metricShown = Math.min(metricItems.length, metricShown + METRIC_PAGE);
    if (metricShown < metricItems.length) {
      var more = el("button", "more", "show " + Math.min(METRIC_PAGE, metricItems.length - metricShown) + " more metrics");
      more.type = "button";
      more.addEventListener("click", moreMetrics);
      list.appendChild(more);
    }
  }
  function filterMetrics() {
    var q = byId("metric-search").value.trim().toLowerCase();
    metricItems = D.metrics.filter(function (m) { return !q || (m.name + " " + m.description).toLowerCase().indexOf(q) >= 0; });
    byId("metric-count").textContent = metricItems.length + " of " + plural(D.metrics.length, "metric");
    clear(byId("metric-list"));
    metricShown = 0;
    moreMetrics();
  }
  byId("metric-search").addEventListener("input", filterMetrics);

  // -- inputs and problems ------------------------------------------------------------------
  function report() {
    var inputs = byId("inputs");
    D.inputs.forEach(function (name) { inputs.appendChild(el("li", "mono", name)); });
    var box = byId("problems");
    if (!D.problemCount) { box.appendChild(el("div", "muted", "none")); return; }
    box.appendChild(el("div", null, plural(D.problemCount, "problem") +
      (D.problems.length < D.problemCount ? " (the first " + D.problems.length + " listed)" : "")));
    D.problems.forEach(function (p) { box.appendChild(el("div", "problem", p)); });
  }

  var tabInit = { logs: filterLogs, metrics: filterMetrics, report: report };
  opened.traces = true;
  filterTraces();
  // report.html#trace=ID&span=ID opens that span (an id's start is enough).
  function fromHash() {
    var want = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) want[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1)).toLowerCase();
    });
    if (!want.trace) return false;
    for (var ti = 0; ti < D.traces.length; ti++) {
      if (D.traces[ti].id.indexOf(want.trace) !== 0) continue;
      var spans = D.traces[ti].spans, si = -1;
      for (var j = 0; want.span && j < spans.length; j++) if (spans[j].id.indexOf(want.span) === 0) { si = j; break; }
      openSpan(ti, si);
      return true;
    }
    return false;
  }
  if (!fromHash()) {
    if (D.traces.length) selectTrace(traceList.items[0]);
    else byId("trace-title").textContent = "No traces in this report.";
  }
  document.body.setAttribute("data-ready", "1");
})();
