"""A single self-contained HTML file: findings table with status/validity/severity/repo filters.

No network at all: inline CSS and script, data embedded as JSON, a CSP that forbids loading
anything. Rows are built with textContent only, so a hostile path or line cannot inject markup.
Filters can be preset in the URL fragment, e.g. `report.html#severity=critical&status=open`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import IO

from leakwarden.models import ScanResult
from leakwarden.reporters import ReportContext
from leakwarden.reporters.rows import finding_row

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2329}
h1{font-size:1.3rem;margin:0 0 .3rem}
.meta{color:#5b6670;margin-bottom:1rem}
.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;margin-bottom:1rem}
.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#5b6670}
select,input{font:inherit;padding:.2rem .4rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e7ea;vertical-align:top}
th{background:#f4f6f8;position:sticky;top:0}
td.secret,td.fp{font-family:ui-monospace,monospace;font-size:.85em}
.sev-critical{color:#a40e26;font-weight:600}.sev-high{color:#c4301c}.sev-medium{color:#9a6700}.sev-low{color:#0969da}
.val-valid{color:#a40e26;font-weight:600}.val-invalid{color:#1a7f37}
#empty{display:none;color:#5b6670;margin-top:1rem}
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("leakwarden-data").textContent);
  var rows = data.findings;
  var keys = ["status", "validity", "severity", "repository"];
  var sevRank = {critical: 0, high: 1, medium: 2, low: 3};
  var body = document.getElementById("rows");
  var search = document.getElementById("f-search");

  function fill(key) {
    var sel = document.getElementById("f-" + key);
    var seen = {};
    rows.forEach(function (r) { seen[String(r[key])] = true; });
    Object.keys(seen).sort().forEach(function (v) {
      var opt = document.createElement("option");
      opt.value = v;
      opt.textContent = v === "" ? "(none)" : v;
      sel.appendChild(opt);
    });
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) { td.className = cls; }
    tr.appendChild(td);
  }

  function current() {
    var f = {};
    keys.forEach(function (k) { f[k] = document.getElementById("f-" + k).value; });
    f.q = search.value.toLowerCase();
    return f;
  }

  function render() {
    var f = current();
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var shown = 0;
    rows.forEach(function (r) {
      for (var i = 0; i < keys.length; i++) {
        if (f[keys[i]] !== "*" && String(r[keys[i]]) !== f[keys[i]]) { return; }
      }
      if (f.q && (r.path + " " + r.rule_id + " " + r.rule_name + " " + r.commit).toLowerCase().indexOf(f.q) < 0) { return; }
      var tr = document.createElement("tr");
      tr.className = "finding";
      keys.forEach(function (k) { tr.setAttribute("data-" + k, String(r[k])); });
      cell(tr, r.incident_id);
      cell(tr, r.status);
      cell(tr, r.severity, "sev-" + r.severity);
      cell(tr, r.validity, "val-" + r.validity);
      cell(tr, r.rule_name + " (" + r.rule_id + ")");
      cell(tr, r.repository);
      cell(tr, (r.path || "<" + r.source + ">") + ":" + r.line + (r.commit ? " @ " + r.commit.slice(0, 12) : ""));
      cell(tr, r.secret, "secret");
      cell(tr, r.assignee);
      cell(tr, r.fingerprint.slice(0, 16), "fp");
      body.appendChild(tr);
      shown++;
    });
    document.getElementById("count").textContent = shown + " of " + rows.length + " findings";
    document.getElementById("empty").style.display = shown ? "none" : "block";
    var parts = [];
    keys.forEach(function (k) { if (f[k] !== "*") { parts.push(k + "=" + encodeURIComponent(f[k])); } });
    var hash = parts.join("&");
    if (location.hash.replace(/^#/, "") !== hash) { history.replaceState(null, "", hash ? "#" + hash : location.pathname); }
  }

  function fromHash() {
    keys.forEach(function (k) { document.getElementById("f-" + k).value = "*"; });
    location.hash.replace(/^#/, "").split("&").forEach(function (p) {
      var kv = p.split("=");
      if (keys.indexOf(kv[0]) < 0) { return; }
      var sel = document.getElementById("f-" + kv[0]);
      var v = decodeURIComponent(kv[1] || "");
      for (var i = 0; i < sel.options.length; i++) { if (sel.options[i].value === v) { sel.value = v; } }
    });
  }

  rows.sort(function (a, b) {
    return (sevRank[a.severity] - sevRank[b.severity]) || a.path.localeCompare(b.path) || (a.line - b.line);
  });
  keys.forEach(function (k) {
    fill(k);
    document.getElementById("f-" + k).addEventListener("change", render);
  });
  search.addEventListener("input", render);
  window.addEventListener("hashchange", function () { fromHash(); render(); });
  fromHash();
  render();
})();
"""


def _json_for_script(value: object) -> str:
    """JSON that cannot close the <script> element it lives in."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(result: ScanResult, ctx: ReportContext, out: IO[str]) -> None:
    rows = [finding_row(f, ctx) for f in result.findings]
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = {"findings": rows, "source": ctx.source, "version": ctx.tool_version}
    select = "".join(
        f'<label>{label}<select id="f-{key}"><option value="*">all</option></select></label>'
        for key, label in (("status", "Status"), ("validity", "Validity"), ("severity", "Severity"), ("repository", "Repository"))
    )
    headers = "".join(f"<th>{h}</th>" for h in ("#", "Status", "Severity", "Validity", "Rule", "Repository", "Location", "Secret", "Assignee", "Fingerprint"))
    out.write(
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; script-src \'unsafe-inline\'; img-src data:">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>leakwarden report</title><style>{_CSS}</style></head><body>"
        "<h1>leakwarden report</h1>"
        f'<div class="meta">{html.escape(ctx.source)} · {len(rows)} findings · generated {generated}'
        f" · leakwarden {html.escape(ctx.tool_version or '')}"
        f"{' · secrets shown in full' if ctx.show_secrets else ' · secrets redacted'}</div>"
        f'<div class="filters">{select}<label>Search<input id="f-search" type="search" placeholder="path, rule, commit"></label>'
        '<span id="count"></span></div>'
        f"<table><thead><tr>{headers}</tr></thead><tbody id=\"rows\"></tbody></table>"
        '<p id="empty">No findings match these filters.</p>'
        f'<script type="application/json" id="leakwarden-data">{_json_for_script(data)}</script>'
        f"<script>{_JS}</script></body></html>\n"
    )
