"""Build a rule's playbook (same sections for every secret type) and render it as markdown, JSON or HTML.

Per-type facts come from the rule's `[rules.playbook]` table (the PLAYBOOK_FIELDS of rules.spec,
plus the optional `rotation_period`, `log_location`, `unusual_activity`, `consumers`,
`least_privilege` and `scoping`); shared prose and the code snippets come from `templates/`.
"""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from leakwarden.rules import Rule

LANGS = ("python", "node", "go", "java", "ruby")
STORES = ("env", "aws", "vault", "conjur")
LANG_LABELS = {"python": "Python", "node": "JavaScript (Node.js)", "go": "Go", "java": "Java", "ruby": "Ruby"}
STORE_LABELS = {"env": "Environment variable", "aws": "AWS Secrets Manager", "vault": "HashiCorp Vault", "conjur": "CyberArk Conjur"}
_SNIPPET_FILES = {"python": "python.py", "node": "node.js", "go": "go.go", "java": "java.java", "ruby": "ruby.rb"}
# The fence language for markdown and the highlight hint for HTML.
FENCE = {"python": "python", "node": "javascript", "go": "go", "java": "java", "ruby": "ruby"}

SECTIONS = (
    ("what", "What it is"),
    ("leak-and-risk", "Why it leaked and what is at risk"),
    ("abuse", "Check for abuse"),
    ("rotate", "Revoke and rotate without an outage"),
    ("impact", "Which services will stop working"),
    ("stop-hardcoding", "Stop hardcoding it"),
    ("best-practices", "Best practices"),
)
SECTION_IDS = tuple(s for s, _ in SECTIONS)

_GO_INITIALISMS = {"api", "url", "id", "jwt", "pat", "http", "https", "json", "sql", "ssh", "tls", "oauth", "aws", "ci"}
_ASSIGNED_NAME = re.compile(r"""([A-Za-z_][A-Za-z0-9_.\-]{1,80})["']?\s*(?::=|=>|=|:)""")


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of a section: a paragraph, a list, numbered steps, a checklist, a table or code."""

    kind: str  # para | list | steps | checklist | table | code | heading
    text: str = ""
    items: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    lang: str = ""
    store: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """Where one copy of the secret was found (from a scan's findings)."""

    path: str
    line: int = 0
    source: str = "file"
    commit: str | None = None
    author: str | None = None
    date: str | None = None
    layer: str | None = None
    repository: str | None = None
    context: str = ""  # the masked source line

    def where(self) -> str:
        place = self.path or f"<{self.source}>"
        if self.line:
            place += f":{self.line}"
        if self.commit:
            place += f" (commit {self.commit[:12]})"
        if self.layer:
            place += f" (image layer {self.layer[:19]})"
        return place


@dataclass(frozen=True, slots=True)
class Playbook:
    rule_id: str
    name: str
    provider: str
    severity: str
    env_var: str
    revoke_url: str
    sections: tuple[Section, ...]
    references: tuple[str, ...] = field(default_factory=tuple)

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def shared() -> dict[str, Any]:
    """The shared prose in templates/shared.toml."""
    text = resources.files("leakwarden.remediation").joinpath("templates/shared.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def _snippet_template(store: str, lang: str) -> str:
    path = resources.files("leakwarden.remediation").joinpath(f"templates/snippets/{store}/{_SNIPPET_FILES[lang]}.tmpl")
    return path.read_text("utf-8")


def _words(env_var: str) -> list[str]:
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", env_var) if w]
    if not words:
        words = ["secret"]
    if words[0][0].isdigit():
        words.insert(0, "secret")
    return words


def names_for(env_var: str) -> dict[str, str]:
    """Identifiers for the snippets, derived from the variable name (JIRA_API_TOKEN → get_jira_api_token...)."""
    w = _words(env_var)
    title = [x.capitalize() for x in w]
    return {
        "ENV_VAR": env_var,
        "PY_FUNC": "get_" + "_".join(w),
        "JS_FUNC": "get" + "".join(title),
        "GO_FUNC": "".join(x.upper() if x in _GO_INITIALISMS else x.capitalize() for x in w),
        "JAVA_CLASS": "".join(title) + "Secret",
        "RUBY_METHOD": "_".join(w),
        "SECRET_ID": "prod/" + "-".join(w),
    }


def snippet(store: str, lang: str, env_var: str, rule_name: str = "secret") -> str:
    """A complete source file reading the secret from `store` in `lang`."""
    if store not in STORES or lang not in LANGS:
        raise ValueError(f"no snippet for store {store!r} in language {lang!r}")
    values = {**names_for(env_var), "RULE_NAME": rule_name}
    out = _snippet_template(store, lang)
    for key, value in values.items():
        out = out.replace(f"%%{key}%%", value)
    if "%%" in out.replace("%%20", ""):
        raise ValueError(f"unfilled placeholder in the {store}/{lang} snippet")
    return out


_NAME_SHAPES = re.compile(r"[A-Z][A-Z0-9_]*|[a-z][a-z0-9_.\-]*|[a-z]+(?:[A-Z][a-z0-9]+)+")


def _looks_like_name(name: str) -> bool:
    """A variable or key name, not a piece of a random token (which must never reach a report)."""
    if not 2 <= len(name) <= 48 or not _NAME_SHAPES.fullmatch(name):
        return False
    return sum(c.isdigit() for c in name) / len(name) < 0.25 and not name.lower().startswith("http")


def env_names_near(lines: Iterable[str]) -> list[str]:
    """Names a line assigns the secret to (`JIRA_TOKEN=`, `"api_key":`), in order of first use."""
    seen: dict[str, None] = {}
    for line in lines:
        for m in _ASSIGNED_NAME.finditer(line or ""):
            name = m.group(1).strip(".-")
            if _looks_like_name(name):
                seen.setdefault(name, None)
    return list(seen)


def _list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return [str(value)]


def _fmt(text: str, rule: Rule, **extra: str) -> str:
    values = {"name": rule.name, "provider": rule.provider_name, "env_var": rule.env_var, "rule_id": rule.id, **extra}
    return text.format(**values)


def build(
    rule: Rule,
    occurrences: Sequence[Occurrence] | None = None,
    *,
    langs: Sequence[str] = LANGS,
    stores: Sequence[str] = STORES,
) -> Playbook:
    """Assemble the playbook of one rule; `occurrences` (from scan results) fill the inventory."""
    p, s = rule.playbook, shared()
    revoke_url = str(p.get("revoke_url") or "")

    what = [Block("para", str(p.get("what") or rule.description))]
    what.append(Block("para", "How one is generated: " + str(p.get("generated_by") or _fmt(s["what"]["generated_by"], rule))))
    what.append(Block("para", f"Severity: {rule.severity.value}. Conventional variable name: `{rule.env_var}`."))

    causes = _list(p.get("causes"))
    leak = [
        Block("heading", "Common causes"),
        Block("list", items=tuple(causes + [c for c in s["leak"]["causes"] if c not in causes])),
        Block("heading", "Risk"),
        Block("para", str(p["risk"]) if p.get("risk") else f"Whoever holds it can act as its owner on {rule.provider_name}."),
    ]

    abuse = [Block("para", s["abuse"]["intro"]), Block("heading", "Where to look")]
    abuse.append(Block("list", items=tuple(_list(p.get("abuse_checks")) or [f"The {rule.provider_name} audit log."])))
    abuse.append(Block("para", "Log location: " + str(p.get("log_location") or _fmt(s["abuse"]["log_location"], rule))))
    abuse.append(Block("heading", "What unusual activity looks like"))
    abuse.append(Block("list", items=tuple(_list(p.get("unusual_activity")) + s["abuse"]["unusual_activity"])))

    r = s["rotate"]
    deactivate = _list(p.get("revoke_steps"))
    if revoke_url:
        deactivate.append(f"Revoke URL: {revoke_url}")
    rotate = [
        Block("para", r["intro"]),
        Block("heading", "1. " + r["create"]),
        Block("para", str(p.get("generated_by") or r["create_default"])),
        Block("heading", "2. Update consumers"),
        Block("para", r["update"]),
        Block("heading", "3. " + r["deactivate"]),
        Block("steps", items=tuple(deactivate)),
        Block("heading", "4. Monitor"),
        Block("para", r["monitor"]),
    ]
    if p.get("rotate_steps"):
        rotate += [Block("heading", r["provider_steps"]), Block("steps", items=tuple(_list(p["rotate_steps"])))]

    rotate_impact = _impact(rule, occurrences, s)

    st = s["stop"]
    stop = [Block("para", st["intro"])]
    for store in stores:
        stop.append(Block("heading", STORE_LABELS[store]))
        stop.append(Block("para", _fmt(st[store], rule)))
        for lang in langs:
            stop.append(Block("code", text=snippet(store, lang, rule.env_var, rule.name), lang=lang, store=store))

    b = s["best"]
    period = str(p.get("rotation_period") or b["rotation_period_default"])
    best = [
        Block("list", items=(
            str(p.get("least_privilege") or b["least_privilege"]),
            b["rotation_period"].format(rotation_period=period),
            str(p.get("scoping") or b["scoping"]),
            b["monitoring"],
        )),
    ]
    if p.get("prevent"):
        best += [Block("heading", f"For the {rule.name}"), Block("list", items=tuple(_list(p["prevent"])))]
    if rule.references:
        best += [Block("heading", "References"), Block("list", items=rule.references)]

    blocks = {"what": what, "leak-and-risk": leak, "abuse": abuse, "rotate": rotate, "impact": rotate_impact, "stop-hardcoding": stop, "best-practices": best}
    sections = tuple(Section(sid, title, tuple(blocks[sid])) for sid, title in SECTIONS)
    return Playbook(rule.id, rule.name, rule.provider_name, rule.severity.value, rule.env_var, revoke_url, sections, tuple(rule.references))


def _impact(rule: Rule, occurrences: Sequence[Occurrence] | None, s: dict[str, Any]) -> list[Block]:
    im = s["impact"]
    out = [Block("para", im["intro"]), Block("heading", "Inventory: every place this secret was found")]
    if occurrences:
        rows = [("Where", "Source", "Commit", "Author", "Date")]
        for o in occurrences:
            rows.append((o.where(), o.repository or o.source, (o.commit or "")[:12], o.author or "", o.date or ""))
        out.append(Block("table", rows=tuple(rows)))
        in_history = sum(1 for o in occurrences if o.commit)
        out.append(Block("para", f"{len(occurrences)} occurrence(s), {in_history} in git history."))
    else:
        out.append(Block("para", _fmt(im["no_results"], rule)))
    names = env_names_near(o.context for o in occurrences or ())
    names = [n for n in names if n != rule.env_var]
    out.append(Block("heading", "Environment variable names to search for"))
    out.append(Block("para", "Search deployments, CI settings and secret stores for these names: "
                     + ", ".join(f"`{n}`" for n in [rule.env_var, *names]) + "."))
    out.append(Block("heading", "Typical consumers"))
    out.append(Block("list", items=tuple(_list(rule.playbook.get("consumers")) + im["consumers_default"])))
    out.append(Block("heading", "Pre-rotation checklist"))
    out.append(Block("checklist", items=tuple(im["checklist"])))
    return out


# --- rendering ------------------------------------------------------------------------------------

def _md_block(b: Block, level: int) -> list[str]:
    if b.kind == "para":
        return [b.text, ""]
    if b.kind == "heading":
        return ["#" * (level + 1) + " " + b.text, ""]
    if b.kind == "list":
        return [f"- {i}" for i in b.items] + [""]
    if b.kind == "steps":
        return [f"{n}. {i}" for n, i in enumerate(b.items, 1)] + [""]
    if b.kind == "checklist":
        return [f"- [ ] {i}" for i in b.items] + [""]
    if b.kind == "table":
        head, *rows = b.rows
        esc = [[c.replace("|", "\\|") for c in r] for r in (head, *rows)]
        return ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in esc[1:]] + [""]
    if b.kind == "code":
        return [f"**{LANG_LABELS[b.lang]}** ({STORE_LABELS[b.store]})", "", f"```{FENCE[b.lang]}", b.text.rstrip("\n"), "```", ""]
    raise ValueError(f"unknown block kind {b.kind}")


def render_markdown(pb: Playbook, level: int = 1) -> str:
    """Markdown with one heading per section (level `level`; its subheadings one deeper)."""
    h = "#" * level
    out = [f"{h} {pb.name} (`{pb.rule_id}`)", ""]
    if pb.revoke_url:
        out += [f"Revoke at <{pb.revoke_url}>.", ""]
    for sec in pb.sections:
        out += [f"{h}# {sec.title}", ""]
        for b in sec.blocks:
            out += _md_block(b, level + 1)
    return "\n".join(out).rstrip() + "\n"


_INLINE_CODE = re.compile(r"`([^`]+)`")
_URL = re.compile(r"(https?://[^\s<>\"')]+[^\s<>\"').,;:])")


def inline_html(text: str) -> str:
    """Escape text; turn `code` spans into <code> and bare URLs into links."""
    parts = _INLINE_CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            escaped = html.escape(part)
            out.append(_URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped))
    return "".join(out)


def _html_block(b: Block, level: int) -> str:
    if b.kind == "para":
        return f"<p>{inline_html(b.text)}</p>"
    if b.kind == "heading":
        return f"<h{level}>{inline_html(b.text)}</h{level}>"
    if b.kind in ("list", "checklist"):
        cls = ' class="checklist"' if b.kind == "checklist" else ""
        box = "<input type=\"checkbox\" disabled> " if b.kind == "checklist" else ""
        return f"<ul{cls}>" + "".join(f"<li>{box}{inline_html(i)}</li>" for i in b.items) + "</ul>"
    if b.kind == "steps":
        return "<ol>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ol>"
    if b.kind == "table":
        head, *rows = b.rows
        th = "".join(f"<th>{html.escape(c)}</th>" for c in head)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
    if b.kind == "code":
        label = f"{LANG_LABELS[b.lang]} ({STORE_LABELS[b.store]})"
        return (f'<figure class="snippet" data-lang="{b.lang}" data-store="{b.store}"><figcaption>{html.escape(label)}</figcaption>'
                f"<pre><code>{html.escape(b.text)}</code></pre></figure>")
    raise ValueError(f"unknown block kind {b.kind}")


def render_html_fragment(pb: Playbook, level: int = 2, anchor_prefix: str = "") -> str:
    """The playbook as an HTML <section>, for embedding in a page."""
    pid = f"{anchor_prefix}playbook-{pb.rule_id}"
    out = [f'<section class="playbook" id="{html.escape(pid)}"><h{level}>{html.escape(pb.name)} <code>{html.escape(pb.rule_id)}</code></h{level}>']
    if pb.revoke_url:
        out.append(f"<p>Revoke at {inline_html(pb.revoke_url)}.</p>")
    for sec in pb.sections:
        out.append(f'<section id="{html.escape(pid)}-{sec.id}" data-section="{sec.id}"><h{level + 1}>{html.escape(sec.title)}</h{level + 1}>')
        out.extend(_html_block(b, level + 2) for b in sec.blocks)
        out.append("</section>")
    out.append("</section>")
    return "\n".join(out)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1f24}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f4f6f8;padding:.75rem;overflow-x:auto;border-radius:4px}
figure.snippet{margin:0 0 1rem 0} figcaption{font-weight:600;margin-bottom:.25rem}
table{border-collapse:collapse;margin-bottom:1rem} th,td{border:1px solid #ccd2d8;padding:.25rem .5rem;text-align:left;vertical-align:top}
.checklist{list-style:none;padding-left:1rem}
.sev-critical,.sev-high{color:#b3261e} .sev-medium{color:#8a5300} .sev-low{color:#225c8a}
.valid{color:#b3261e;font-weight:700} .warning{border-left:4px solid #b3261e;padding:.25rem .75rem;background:#fdf1f0}
nav ol{columns:2}
"""


def html_page(title: str, body: str) -> str:
    """A self-contained page: inline CSS, no scripts, a CSP that forbids loading anything."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def render_html(pb: Playbook) -> str:
    return html_page(f"{pb.name} — leakwarden playbook", render_html_fragment(pb, level=1))


def section_markdown(sec: Section, level: int, title: str | None = None) -> str:
    """One section with a heading of `level` (its subheadings one deeper)."""
    out = ["#" * level + " " + (title or sec.title), ""]
    for b in sec.blocks:
        out += _md_block(b, level)
    return "\n".join(out)


def section_html(sec: Section, level: int, anchor: str, title: str | None = None) -> str:
    out = [f'<section id="{html.escape(anchor)}" data-section="{sec.id}"><h{level}>{html.escape(title or sec.title)}</h{level}>']
    out.extend(_html_block(b, level + 1) for b in sec.blocks)
    out.append("</section>")
    return "\n".join(out)
