"""Render remediation plans as markdown or a self-contained HTML page (no scripts, no external assets)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from leakwarden.remediation import history, playbook
from leakwarden.remediation.plan import Plan

_FIXABLE = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".java", ".rb", ".sh", ".bash", ".zsh", ".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class ReportInfo:
    source: str  # the report file
    findings: int
    tool_version: str = ""
    replacements_path: str | None = None  # where the replace-text file was written, if it was
    redacted: bool = True  # the report held redacted secrets only


def _why(plan: Plan) -> str:
    bits = []
    if plan.validity == "valid":
        bits.append("it is confirmed **valid** right now")
    elif plan.validity == "invalid":
        bits.append("the provider rejected it (already revoked or expired; confirm before you close it)")
    else:
        bits.append("its validity was not confirmed (treat it as live)")
    bits.append(f"severity is **{plan.severity}**")
    if plan.in_history:
        commits = sorted({f.commit for f in plan.findings if f.commit})
        bits.append(f"it is in **git history** ({len(commits)} commit(s)): anyone with a clone has it")
    else:
        bits.append("it is in the working tree only (not found in commits by this scan)")
    return "Why here: " + "; ".join(bits) + "."


def _playbook(plan: Plan) -> playbook.Playbook:
    return playbook.build(plan.rule, plan.occurrences(), langs=plan.languages(), stores=("env",))


def _code_fix_items(plan: Plan) -> list[str]:
    items = []
    tree = sorted({f.path for f in plan.findings if not f.commit and f.path and f.source in ("file", "text", "path")})
    for path in tree:
        if path.endswith(_FIXABLE) or path.rsplit("/", 1)[-1].startswith("Dockerfile"):
            items.append(f"`leakwarden fix {path}` moves the value into a git-ignored .env and reads `{plan.rule.env_var}` instead (try `--dry-run` first).")
        else:
            items.append(f"`{path}`: replace the value by a lookup of `{plan.rule.env_var}` by hand.")
    if not tree:
        items.append("The working tree no longer holds it (only history does): nothing to change in code.")
    return items


def _history_items(plan: Plan) -> list[str]:
    commits = sorted({(f.commit or "")[:12] for f in plan.findings if f.commit})
    return [f"In commits {', '.join(commits)}: purge it with the replacement file in “Purge secrets from git history”, after rotating it."]


# --- markdown -------------------------------------------------------------------------------------

def render_markdown(plans: Sequence[Plan], info: ReportInfo) -> str:
    out = ["# leakwarden remediation plan", ""]
    secrets = len(plans)
    out += [f"Report `{info.source}`: {info.findings} finding(s), {secrets} distinct secret(s). Most urgent first: valid secrets, then severity, then exposure (git history before working tree).", ""]
    if not plans:
        return "\n".join(out + ["Nothing to do: the report has no findings.", ""])
    out += ["> **Rotate first, clean up second.** A secret that reached a remote is compromised even after it is deleted; the only fix is to revoke it. Do it without an outage by following each plan's rotation steps.", ""]
    out += ["## Summary", "", "| # | Secret type | Value | Validity | Severity | Exposure | Places |", "|---|---|---|---|---|---|---|"]
    for n, plan in enumerate(plans, 1):
        out.append(f"| {n} | [{plan.rule.name}](#{plan.anchor}) | `{plan.secret_display}` | {plan.validity} | {plan.severity} | {plan.exposure} | {len(plan.findings)} |")
    out.append("")
    for n, plan in enumerate(plans, 1):
        pb = _playbook(plan)
        out += [f'<a id="{plan.anchor}"></a>', "", f"## {n}. {plan.rule.name}: `{plan.secret_display}`", ""]
        out += [f"Rule `{plan.rule.id}` · validity **{plan.validity}** · severity **{plan.severity}** · exposure **{plan.exposure}**", ""]
        out += [_why(plan), ""]
        out += [playbook.section_markdown(pb.section("impact"), 3), ""]
        out += [playbook.section_markdown(pb.section("abuse"), 3), ""]
        out += [playbook.section_markdown(pb.section("rotate"), 3), ""]
        out += ["### Remove it from the code", ""] + [f"- {i}" for i in _code_fix_items(plan)] + [""]
        out += [playbook.section_markdown(pb.section("stop-hardcoding"), 4, "Reading it from the environment instead"), ""]
        if plan.in_history:
            out += ["### Purge it from git history", ""] + [f"- {i}" for i in _history_items(plan)] + [""]
        out += [f"Full playbook (every language and secret store): `leakwarden explain {plan.rule.id}`.", ""]
    out += _history_markdown(plans, info)
    return "\n".join(out).rstrip() + "\n"


def _history_parts(plans: Sequence[Plan], info: ReportInfo) -> tuple[list[history.Replacement], str, dict[str, list[str]], bool]:
    in_history = [p for p in plans if p.in_history]
    reps = history.replacements([(p.rule.id, p.secret_value, p.secret_display) for p in in_history])
    reveal = info.replacements_path is not None
    path = info.replacements_path or history.REPLACEMENTS_NAME
    repo = next((f.repository for p in in_history for f in p.findings if f.repository), None)
    return reps, path, history.commands(repo, path), reveal


def _history_markdown(plans: Sequence[Plan], info: ReportInfo) -> list[str]:
    if not any(p.in_history for p in plans):
        return []
    reps, path, cmds, reveal = _history_parts(plans, info)
    out = ["## Purge secrets from git history", ""]
    out += [f"> **Warning:** {w}" + "\n>" for w in history.WARNINGS]
    out += [""]
    out += ["### The replacement file", ""]
    if reveal:
        out += [f"Written to `{path}` (permissions 0600: it holds the secrets). Its lines, redacted:", ""]
        out += ["```text", history.replacements_text(reps, reveal=False).split("\n", 1)[1].rstrip(), "```", ""]
    else:
        how = ("re-run with `--write-replacements FILE` to write it (0600)." if not info.redacted else
               "the report holds redacted values only: write a report with the values (`leakwarden scan ... --format json --show-secrets -o report.json`, keep it private), then run `leakwarden remediate report.json --write-replacements FILE`.")
        out += [f"Redacted preview; the real file needs the full values — {how}", ""]
        out += ["```text", history.replacements_text(reps, reveal=False).rstrip(), "```", ""]
    out += ["### With git filter-repo", "", "```sh", *cmds["filter-repo"], "```", ""]
    out += ["### Alternative: BFG Repo-Cleaner", "", "```sh", *cmds["bfg"], "```", ""]
    out += ["### Afterwards", "", "```sh", *cmds["after"], "```", ""]
    return out


# --- HTML -----------------------------------------------------------------------------------------

def render_html(plans: Sequence[Plan], info: ReportInfo) -> str:
    e = html.escape
    body = ["<header><h1>leakwarden remediation plan</h1>",
            f"<p>Report <code>{e(info.source)}</code>: {info.findings} finding(s), {len(plans)} distinct secret(s). "
            "Most urgent first: valid secrets, then severity, then exposure (git history before working tree).</p></header>"]
    if not plans:
        body.append("<p>Nothing to do: the report has no findings.</p>")
        return playbook.html_page("leakwarden remediation plan", "\n".join(body))
    body.append('<p class="warning"><strong>Rotate first, clean up second.</strong> A secret that reached a remote is compromised even after it is deleted; the only fix is to revoke it.</p>')
    body.append('<nav><h2 id="summary">Summary</h2><table><thead><tr><th>#</th><th>Secret type</th><th>Value</th><th>Validity</th><th>Severity</th><th>Exposure</th><th>Places</th></tr></thead><tbody>')
    for n, plan in enumerate(plans, 1):
        v = ' class="valid"' if plan.validity == "valid" else ""
        body.append(f'<tr><td>{n}</td><td><a href="#{plan.anchor}">{e(plan.rule.name)}</a></td><td><code>{e(plan.secret_display)}</code></td>'
                    f'<td{v}>{e(plan.validity)}</td><td class="sev-{e(plan.severity)}">{e(plan.severity)}</td><td>{e(plan.exposure)}</td><td>{len(plan.findings)}</td></tr>')
    body.append("</tbody></table></nav>")
    for n, plan in enumerate(plans, 1):
        pb = _playbook(plan)
        a = plan.anchor
        body.append(f'<article class="plan" id="{a}" data-rule="{e(plan.rule.id)}" data-validity="{e(plan.validity)}" data-exposure="{e(plan.exposure)}">')
        body.append(f"<h2>{n}. {e(plan.rule.name)}: <code>{e(plan.secret_display)}</code></h2>")
        body.append(f"<p>Rule <code>{e(plan.rule.id)}</code> · validity <strong>{e(plan.validity)}</strong> · severity <strong>{e(plan.severity)}</strong> · exposure <strong>{e(plan.exposure)}</strong></p>")
        body.append(f"<p>{playbook.inline_html(_why(plan).replace('**', ''))}</p>")
        for sid in ("impact", "abuse", "rotate"):
            body.append(playbook.section_html(pb.section(sid), 3, f"{a}-{sid}"))
        body.append(f'<section id="{a}-code"><h3>Remove it from the code</h3><ul>' + "".join(f"<li>{playbook.inline_html(i)}</li>" for i in _code_fix_items(plan)) + "</ul>")
        body.append(playbook.section_html(pb.section("stop-hardcoding"), 4, f"{a}-stop-hardcoding", "Reading it from the environment instead") + "</section>")
        if plan.in_history:
            body.append(f'<section id="{a}-history"><h3>Purge it from git history</h3><ul>' + "".join(f"<li>{playbook.inline_html(i)}</li>" for i in _history_items(plan)) + "</ul></section>")
        body.append(f'<p>Full playbook: <a href="#playbook-{e(plan.rule.id)}">{e(plan.rule.name)} playbook</a> (below), or <code>leakwarden explain {e(plan.rule.id)}</code>.</p></article>')
    if any(p.in_history for p in plans):
        body.append(_history_html(plans, info))
    body.append('<h2 id="playbooks">Playbooks</h2>')
    seen: set[str] = set()
    for plan in plans:
        if plan.rule.id not in seen:
            seen.add(plan.rule.id)
            body.append(playbook.render_html_fragment(playbook.build(plan.rule, plan.occurrences()), level=3))
    return playbook.html_page("leakwarden remediation plan", "\n".join(body))


def _history_html(plans: Sequence[Plan], info: ReportInfo) -> str:
    e = html.escape
    reps, path, cmds, reveal = _history_parts(plans, info)
    out = ['<section id="history"><h2>Purge secrets from git history</h2>']
    out += [f'<p class="warning"><strong>Warning:</strong> {playbook.inline_html(w)}</p>' for w in history.WARNINGS]
    out.append("<h3>The replacement file</h3>")
    if reveal:
        out.append(f"<p>Written to <code>{e(path)}</code> (permissions 0600: it holds the secrets). Its lines, redacted:</p>")
    else:
        out.append("<p>Redacted preview; the real file needs the full values: run <code>leakwarden remediate REPORT.json --write-replacements FILE</code> on a report written with <code>--show-secrets</code>.</p>")
    out.append(f"<pre><code>{e(history.replacements_text(reps, reveal=False))}</code></pre>")
    for title, key in (("With git filter-repo", "filter-repo"), ("Alternative: BFG Repo-Cleaner", "bfg"), ("Afterwards", "after")):
        out.append(f"<h3>{title}</h3><pre><code>{e(chr(10).join(cmds[key]))}</code></pre>")
    out.append("</section>")
    return "\n".join(out)
