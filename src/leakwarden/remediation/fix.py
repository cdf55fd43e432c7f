"""Move hardcoded secrets out of source files: rewrite each literal into an environment lookup.

`plan_fixes` scans files, records each file's content hash and computes the rewrites; `apply_fixes`
writes the values into a git-ignored `.env` first (so no value is ever lost), adds placeholders
to `.env.example`, then replaces each source file atomically — unless it changed since the scan.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from leakwarden.models import Finding, ScanError, redact
from leakwarden.remediation.files import write_atomic

if TYPE_CHECKING:
    from leakwarden.candidates import Detector

ENV_FILE = ".env"
EXAMPLE_FILE = ".env.example"
_QUOTES = ("'", '"', "`")
_SAFE_ENV_VALUE = re.compile(r"^[A-Za-z0-9_\-.:/+=@,]*$")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


# --- languages ------------------------------------------------------------------------------------

def language_of(path: Path, head: str = "") -> str | None:
    """The rewrite flavour for a file, from its name (and shebang for scripts without a suffix)."""
    name = path.name
    lower = name.lower()
    suffix = path.suffix.lower()
    parts = path.as_posix().lower()
    if lower.startswith((".env",)):
        return "dotenv"
    if lower in ("dockerfile", "containerfile") or lower.startswith("dockerfile.") or suffix in (".dockerfile", ".containerfile"):
        return "dockerfile"
    if suffix == ".py":
        return "python"
    if suffix in (".js", ".mjs", ".cjs", ".jsx"):
        return "js"
    if suffix in (".ts", ".tsx", ".mts", ".cts"):
        return "ts"
    if suffix == ".go":
        return "go"
    if suffix == ".java":
        return "java"
    if suffix == ".rb" or lower in ("rakefile", "gemfile"):
        return "ruby"
    if suffix in (".sh", ".bash", ".zsh", ".ksh"):
        return "shell"
    if suffix in (".yml", ".yaml"):
        if "/.github/workflows/" in "/" + parts:
            return "yaml-github"
        if lower == ".gitlab-ci.yml" or lower.endswith(".gitlab-ci.yml"):
            return "yaml-gitlab"
        if "/.circleci/" in "/" + parts:
            return "yaml-circleci"
        if lower.startswith(("docker-compose", "compose")):
            return "yaml-compose"
        return "yaml"
    if not suffix and re.match(r"#!.*\b(?:ba|z|k|da)?sh\b", head):
        return "shell"
    return None


def _scan_literals(line: str, quotes: str, triple: bool = False) -> list[tuple[int, int, str]]:
    """(open index, close index, quote) of each quoted string on one line; escapes honoured."""
    out = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "#" and quotes != "`" and triple:  # a Python comment ends the code on this line
            break
        if ch in quotes:
            q = line[i : i + 3] if triple and line[i : i + 3] in ('"""', "'''") else ch
            j = i + len(q)
            while j < n:
                if line[j] == "\\" and q != "`":
                    j += 2
                    continue
                if line.startswith(q, j):
                    break
                j += 1
            if j >= n:
                out.append((i, n, q))  # unterminated on this line
                break
            out.append((i, j, q))
            i = j + len(q)
            continue
        i += 1
    return out


def _enclosing(line: str, start: int, end: int, quotes: str, triple: bool = False) -> tuple[int, int, str] | None:
    for o, c, q in _scan_literals(line, quotes, triple):
        if o + len(q) <= start and end <= c and c < len(line):
            return o, c, q
    return None


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Replace line[a:b] by `text`; `needs` names an import the file must have."""

    a: int
    b: int
    text: str
    needs: str | None = None
    note: str | None = None
    manual: str | None = None  # set: no rewrite is safe here, this says why


def _concat(prefix: str, q: str, expr: str, suffix: str, plus: str = " + ") -> str:
    parts = []
    if prefix:
        parts.append(f"{q}{prefix}{q}")
    parts.append(expr)
    if suffix:
        parts.append(f"{q}{suffix}{q}")
    return plus.join(parts)


def _grouped(line: str, a: int, b: int, text: str, joined: bool) -> str:
    """`text` (replacing line[a:b]; `joined`: a `+` concatenation) in parentheses when a
    neighbour binds tighter than `+`: in `"Bearer TOKEN".encode()` or `"{}/?key=TOKEN" % x`
    the call or operator must still apply to the whole string, not to its last part."""
    if not joined:
        return text
    after, before = line[b:].lstrip()[:1], line[:a].rstrip()[-1:]
    return f"({text})" if after in (".", "[", "%", "*") or before in ("%", "*") else text


_IMPLICIT_CONCAT = "part of an implicit string concatenation (\"a\" \"b\"): rewrite it by hand"


def _adjacent_literal(line: str, a: int, b: int) -> bool:
    """Python and Ruby join neighbouring literals (`"a" "b"`); replacing one by a call breaks that."""
    before, after = line[:a].rstrip(), line[b:].lstrip()
    return before[-1:] in ("'", '"') or re.match(r"""[rRbBfFuU]{0,2}['"]""", after) is not None


def _rewrite_c_like(line: str, s: int, e: int, expr: str, quotes: str = "\"'") -> Rewrite | None:
    lit = _enclosing(line, s, e, quotes)
    if lit is None:
        return None
    o, c, q = lit
    pre, post = line[o + len(q) : s], line[e:c]
    return Rewrite(o, c + len(q), _grouped(line, o, c + len(q), _concat(pre, q, expr, post), bool(pre or post)))


def _rw_python(line: str, s: int, e: int, name: str) -> Rewrite | None:
    lit = _enclosing(line, s, e, "\"'", triple=True)
    if lit is None:
        return None
    o, c, q = lit
    p = o
    while p > 0 and line[p - 1] in "rRbBfFuU" and o - p < 2:
        p -= 1
    prefix_letters = line[p:o].lower()
    if p > 0 and (line[p - 1].isalnum() or line[p - 1] == "_"):
        p, prefix_letters = o, ""
    pre, post = line[o + len(q) : s], line[e:c]
    in_fstring = "f" in prefix_letters and bool(pre or post)
    inner_q = ("'" if q[0] == '"' else '"') if in_fstring else '"'
    expr = f"os.environ[{inner_q}{name}{inner_q}]"
    if "b" in prefix_letters:
        expr = f"os.environb[b{inner_q}{name}{inner_q}]"
    if in_fstring:
        return Rewrite(s, e, "{" + expr + "}", needs="os")
    if "r" in prefix_letters or "b" in prefix_letters or "u" in prefix_letters:
        q = line[p:o] + q
    end = c + len(lit[2])
    if _adjacent_literal(line, p, end):
        return Rewrite(p, end, "", manual=_IMPLICIT_CONCAT)
    return Rewrite(p, end, _grouped(line, p, end, _concat(pre, q, expr, post), bool(pre or post)), needs="os")


def _rw_js(line: str, s: int, e: int, name: str, ts: bool = False) -> Rewrite | None:
    expr = f'process.env["{name}"]' if not re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", name) else f"process.env.{name}"
    if ts:
        expr = f'({expr} ?? "")'
    lit = _enclosing(line, s, e, "\"'`")
    if lit is None:
        return None
    if lit[2] == "`":
        return Rewrite(s, e, "${" + expr + "}")
    return _rewrite_c_like(line, s, e, expr)


def _rw_go(line: str, s: int, e: int, name: str) -> Rewrite | None:
    rw = _rewrite_c_like(line, s, e, f'os.Getenv("{name}")', "\"`")
    if rw is None:
        return None
    return Rewrite(rw.a, rw.b, rw.text, needs="os")


def _rw_java(line: str, s: int, e: int, name: str) -> Rewrite | None:
    return _rewrite_c_like(line, s, e, f'System.getenv("{name}")', '"')


def _rw_ruby(line: str, s: int, e: int, name: str) -> Rewrite | None:
    lit = _enclosing(line, s, e, "\"'")
    if lit is None:
        return None
    o, c, q = lit
    expr = f'ENV.fetch("{name}")'
    if q == '"' and (line[o + 1 : s] or line[e:c]):
        return Rewrite(s, e, "#{" + expr + "}")
    if _adjacent_literal(line, o, c + 1):
        return Rewrite(o, c + 1, "", manual=_IMPLICIT_CONCAT)
    pre, post = line[o + 1 : s], line[e:c]
    return Rewrite(o, c + 1, _grouped(line, o, c + 1, _concat(pre, q, expr, post), bool(pre or post)))


def _rw_shell(line: str, s: int, e: int, name: str) -> Rewrite | None:
    expansion = f"${{{name}:?{name} is not set}}"
    lit = _enclosing(line, s, e, "\"'")
    if lit is None:
        return Rewrite(s, e, f'"{expansion}"')
    o, c, q = lit
    if q == '"':
        return Rewrite(s, e, expansion)
    return Rewrite(o, c + 1, _concat(line[o + 1 : s], "'", f'"{expansion}"', line[e:c], plus=""))


_YAML_EXPR = {
    "yaml-github": ("${{{{ secrets.{name} }}}}", "GitHub Actions: add it as a repository or environment secret: `gh secret set {name}`."),
    "yaml-gitlab": ("${{{name}}}", "GitLab CI: add {name} as a masked, protected CI/CD variable (Settings → CI/CD → Variables)."),
    "yaml-circleci": ("${{{name}}}", "CircleCI: add {name} to the project's Environment Variables or a context. CircleCI does not expand variables inside `environment:` maps: delete such an entry once the variable exists."),
    "yaml-compose": ("${{{name}}}", "Docker Compose reads {name} from the .env file beside the compose file."),
    "yaml": ("${{{name}}}", "Make sure the tool reading this YAML expands environment variables (${{{name}}}), or template it at deploy time."),
}


def _rw_yaml(flavour: str) -> Callable[[str, int, int, str], Rewrite | None]:
    expr_t, note_t = _YAML_EXPR[flavour]

    def rewrite(line: str, s: int, e: int, name: str) -> Rewrite | None:
        return Rewrite(s, e, expr_t.format(name=name), note=note_t.format(name=name))

    return rewrite


REWRITERS: dict[str, Callable[[str, int, int, str], Rewrite | None]] = {
    "python": _rw_python,
    "js": _rw_js,
    "ts": lambda line, s, e, name: _rw_js(line, s, e, name, ts=True),
    "go": _rw_go,
    "java": _rw_java,
    "ruby": _rw_ruby,
    "shell": _rw_shell,
    **{k: _rw_yaml(k) for k in _YAML_EXPR},
}

DOCKERFILE_GUIDANCE = (
    "Dockerfile: values in ENV and ARG are stored in the image and its history. Remove the value and "
    "pass it at run time (`docker run --env-file .env` or the orchestrator's secrets); for a build "
    "step that needs it use a BuildKit secret: `RUN --mount=type=secret,id={lower},env={name} ...` "
    "built with `docker build --secret id={lower},env={name} .`"
)


def _add_import(text: str, lang: str) -> str:
    lines = text.splitlines(keepends=True)
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if lang == "python":
        lines = _python_lines(text)
        found = _python_import_slot(text)
        if found is not None:
            has_os, at = found
            return text if has_os else "".join(lines[:at] + [f"import os{nl}"] + lines[at:])
        if re.search(r"^import os\s*(?:#.*)?$|^import os\s*,|^import .*,\s*os\s*(?:#.*)?$", text, re.M):
            return text
        header = _after_python_header(lines)
        future = [i for i, ln in enumerate(lines) if ln.startswith("from __future__ import")]
        imports = [i for i, ln in enumerate(lines) if i >= header and re.match(r"(?:import|from)\s", ln)]
        if future:
            at = future[-1] + 1
        elif imports:
            at = imports[0]
        else:
            at = header
        return "".join(lines[:at] + [f"import os{nl}"] + lines[at:])
    if lang == "go":
        if re.search(r'^\s*(?:import\s+)?(?:\w+\s+)?"os"\s*$', text, re.M):
            return text
        block = re.search(r"^import \((?=\r?$)", text, re.M)  # CRLF files too
        if block:
            at = _go_import_slot(text, block.end(), nl)
            return text[:at] + f'{nl}\t"os"' + text[at:]
        single = re.search(r'^import (\w+ )?"[^"]+"\s*$', text, re.M)
        if single:
            return text[: single.start()] + f'import "os"{nl}' + text[single.start() :]
        pkg = re.search(r"^package \w+[^\r\n]*", text, re.M)
        if pkg:
            return text[: pkg.end()] + f'{nl}{nl}import "os"' + text[pkg.end() :]
    return text


def _go_import_slot(text: str, at: int, nl: str) -> int:
    """Where `"os"` goes in the import block opened just before `at` (a position before a line
    end): in path order within the first group of imports, as gofmt wants the group sorted."""
    line = re.compile(r'[ \t]*(?:[\w.]+[ \t]+)?"([^"]+)"[ \t]*(?=\r?$)', re.M)
    while text.startswith(nl, at):
        m = line.match(text, at + len(nl))
        if m is None or m.group(1) > "os":
            break
        at = m.end()
    return at


def _python_lines(text: str) -> list[str]:
    """Lines as Python's parser counts them (\\n, \\r\\n or \\r; a form feed is no line break)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def _python_import_slot(text: str) -> tuple[bool, int] | None:
    """(the module already imports `os`, the 0-based line for `import os`): after the docstring
    and `from __future__` imports, before the first other statement. None if it does not parse.

    NOTE: parsed, not matched line by line: a docstring line such as "from here on ..." is no
    import, and a module whose first import comes after code that now uses `os` needs it on top.
    """
    import ast

    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    has_os = any(
        isinstance(node, ast.Import) and any(a.name.split(".")[0] == "os" and a.asname in (None, "os") for a in node.names)
        for node in body
    )
    at, i = 0, 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        at, i = body[0].end_lineno or body[0].lineno, 1
    for node in body[i:]:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            at = node.end_lineno or node.lineno
            continue
        decorators = getattr(node, "decorator_list", [])
        at = min([node.lineno, *(d.lineno for d in decorators)]) - 1
        break
    return has_os, at


def _after_python_header(lines: list[str]) -> int:
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        i += 1
    if i < len(lines) and lines[i].lstrip().startswith(('"""', "'''", 'r"""')):
        q = '"""' if '"""' in lines[i] else "'''"
        if lines[i].count(q) >= 2:
            return i + 1
        j = i + 1
        while j < len(lines) and q not in lines[j]:
            j += 1
        return min(j + 1, len(lines))
    return i


def _in_go_const_block(lines: list[str], idx: int) -> bool:
    for j in range(idx - 1, -1, -1):
        stripped = lines[j].strip()
        if stripped.startswith("const ("):
            return True
        if stripped == ")" or stripped.startswith(("func ", "var (", "import (", "type ")):
            return False
    return False


# --- plans ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class SecretFix:
    rule_id: str
    env_var: str
    value: str
    line: int
    fixed: bool
    message: str = ""


@dataclass(slots=True)
class FilePlan:
    path: Path
    display: str
    sha256: str
    lang: str | None
    original: bytes
    new: bytes | None = None
    fixes: list[SecretFix] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # every secret value the scan found in the file, the ones the ignore file accepts too
    found: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new is not None and self.new != self.original

    def diff(self, secrets: Sequence[str] = (), show_secrets: bool = False) -> str:
        if not self.changed:
            return ""
        assert self.new is not None
        old = self.original.decode("utf-8", "surrogateescape")
        new = self.new.decode("utf-8", "surrogateescape")
        if not show_secrets:
            # masked before the diff: its context lines show what no fix touches (an accepted
            # secret, the body of a key left for a person), and a multi-line value is cut
            # into lines there
            for s in sorted({*secrets, *self.found}, key=len, reverse=True):
                old, new = old.replace(s, redact(s)), new.replace(s, redact(s))
        name = self.display.lstrip("/")
        return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"))


@dataclass(slots=True)
class FixPlan:
    root: Path
    files: list[FilePlan] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # name -> value to add to .env
    env_rules: dict[str, str] = field(default_factory=dict)  # name -> rule id (for .env.example)
    errors: list[ScanError] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        return [f.value for fp in self.files for f in fp.fixes]

    @property
    def unfixed(self) -> list[tuple[FilePlan, SecretFix]]:
        return [(fp, f) for fp in self.files for f in fp.fixes if not f.fixed]


def project_root(paths: Sequence[Path]) -> Path:
    """Where .env belongs: the git work tree of the first path, else that folder."""
    first = Path(paths[0]) if paths else Path(".")
    folder = first if first.is_dir() else first.parent
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=30)
        if top.returncode == 0 and top.stdout.strip():
            return Path(top.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return folder.resolve()


def read_env(path: Path) -> dict[str, str]:
    """NAME=value pairs of a .env file (quotes removed); enough to avoid duplicates and clashes."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        m = _ENV_LINE.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if line.split("=", 1)[1].strip().startswith('"'):
                value = re.sub(r'\\(["\\$`])', r"\1", value)
        out[m.group(1)] = value
    return out


def env_line(name: str, value: str) -> str:
    if _SAFE_ENV_VALUE.match(value):
        return f"{name}={value}"
    if "'" not in value and "\n" not in value:
        return f"{name}='{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`").replace("\n", "\\n")
    return f'{name}="{escaped}"'


def _choose_name(base: str, value: str, known: dict[str, str]) -> str:
    """The rule's variable name; a numbered one when that name already holds a different value."""
    name, n = base, 1
    while name in known and known[name] != value:
        n += 1
        name = f"{base}_{n}"
    return name


def plan_fixes(paths: Sequence[Path], detector: Detector | None = None, respect_gitignore: bool = True) -> FixPlan:
    """Scan `paths` and compute every rewrite, touching nothing."""
    from leakwarden import api
    from leakwarden.config import IGNORE_FILE, load_settings
    from leakwarden.sources.files import FileOptions, iter_files
    from leakwarden.triage.ignore import read_ignore_file

    root = project_root(paths)
    # The project's config and ignore file apply: an ignored fingerprint (a test fixture, a
    # false positive) is never rewritten.
    settings = load_settings(Path(paths[0]) if paths else root)
    det = detector or api.build_detector(settings)
    ruleset = det.ruleset
    ignored = set(read_ignore_file(settings.ignore_file or root / IGNORE_FILE))
    plan = FixPlan(root)
    known_in: dict[Path, dict[str, str]] = {}
    options = FileOptions(respect_gitignore=respect_gitignore, exclude=settings.exclude_paths, max_file_size=settings.max_file_size)
    for name, display, _size in iter_files([Path(p) for p in paths], options, plan.errors.append):
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            plan.errors.append(ScanError(display, "unreadable", exc.strerror or str(exc)))
            continue
        if b"\x00" in data[:8192]:
            continue
        every = api.scan_text(data, path=display, settings=settings, detector=det)
        findings = [f for f in every if f.fingerprint not in ignored]
        if not findings:
            continue
        text = data.decode("utf-8", "surrogateescape")
        fp = FilePlan(path, display, hashlib.sha256(data).hexdigest(), language_of(path, text[:200]), data)
        fp.found = [f.secret.reveal() for f in every] + [w for f in every if f.decoded and (w := _as_written(data, f))]
        plan.files.append(fp)
        folder = env_folder(root, fp)
        if folder not in known_in:
            known_in[folder] = read_env(folder / ENV_FILE)
        _plan_file(fp, text, findings, ruleset, known_in[folder], plan)
    return plan


def _as_written(data: bytes, f: Finding) -> str | None:
    """The text at a finding's location in the file: for a secret found decoded, its encoded
    form (offset to the end line and column)."""
    loc = f.location
    start = end = loc.offset
    for _ in range(loc.end_line - loc.start_line):
        end = data.find(b"\n", end) + 1
        if end == 0:
            return None
    end += loc.end_column - (loc.start_column if loc.end_line == loc.start_line else 1)
    return data[start:end].decode("utf-8", "surrogateescape") if start < end <= len(data) else None


def env_folder(root: Path, fp: FilePlan) -> Path:
    """Where the rewritten file's values are read from: Docker Compose reads the `.env` beside
    the compose file (a compose file in a subfolder would see its variables unset otherwise);
    everything else reads the project's `.env`."""
    if fp.lang == "yaml-compose":
        return fp.path.resolve().parent
    return root


def env_needs(plan: FixPlan, files: Sequence[FilePlan]) -> dict[Path, list[str]]:
    """The variables each `.env` folder must hold for these rewritten files, sorted."""
    needs: dict[Path, set[str]] = {}
    for fp in files:
        needs.setdefault(env_folder(plan.root, fp), set()).update(fx.env_var for fx in fp.fixes if fx.fixed)
    return {folder: sorted(names) for folder, names in needs.items() if names}


def _plan_file(fp: FilePlan, text: str, findings: list[Finding], ruleset: object, known: dict[str, str], plan: FixPlan) -> None:
    data = fp.original
    edits: list[tuple[int, int, str]] = []  # absolute text offsets
    needs: set[str] = set()
    seen: set[tuple[int, int]] = set()
    rewriter = REWRITERS.get(fp.lang or "")

    def attempt(s: int, e: int, value: str, rule_id: str, name: str, line_no: int) -> SecretFix:
        ls = text.rfind("\n", 0, s) + 1
        le = text.find("\n", e)
        le = len(text) if le < 0 else le
        if rewriter is None:
            return SecretFix(rule_id, name, value, line_no, False, "no rewriter")
        if "\n" in value or e > le:
            return SecretFix(rule_id, name, value, line_no, False, "a multi-line value: move it to a file outside the repository or a secret store by hand")
        rw = rewriter(text[ls:le], s - ls, e - ls, name)
        if rw is None:
            return SecretFix(rule_id, name, value, line_no, False, "not inside a string literal (a comment or documentation?): remove it by hand")
        if rw.manual:
            return SecretFix(rule_id, name, value, line_no, False, rw.manual)
        if any(not (ls + rw.b <= a or b <= ls + rw.a) for a, b, _ in edits):
            return SecretFix(rule_id, name, value, line_no, False, "another secret in the same string: rewrite it by hand")
        edits.append((ls + rw.a, ls + rw.b, rw.text))
        if rw.needs:
            needs.add(rw.needs)
        if rw.note and rw.note not in fp.notes:
            fp.notes.append(rw.note)
        if name not in known:
            plan.env[name] = value
            plan.env_rules[name] = rule_id
        return SecretFix(rule_id, name, value, line_no, True)

    for f in sorted(findings, key=lambda f: f.location.offset):
        rule = ruleset.by_id.get(f.rule_id)  # type: ignore[attr-defined]
        value = f.secret.reveal()
        raw = value.encode("utf-8", "surrogateescape")
        off = f.location.offset
        if data[off : off + len(raw)] != raw:
            found = data.find(raw)
            if found < 0:
                fp.fixes.append(SecretFix(f.rule_id, "", value, f.location.start_line, False, "the value is encoded in the file (e.g. base64); remove it by hand"))
                continue
            off = found
        s = len(data[:off].decode("utf-8", "surrogateescape"))
        e = s + len(value)
        if (s, e) in seen:
            continue
        seen.add((s, e))
        base = rule.env_var if rule is not None else f.rule_id.upper().replace("-", "_")
        name = _choose_name(base, value, {**known, **plan.env})
        line_no = f.location.start_line
        if fp.lang == "dotenv":
            fp.fixes.append(SecretFix(f.rule_id, name, value, line_no, False, f"{fp.display} is an environment file: keep it out of git (`.gitignore`, `git rm --cached {fp.display}`) rather than rewriting it"))
        elif fp.lang == "dockerfile":
            fp.fixes.append(SecretFix(f.rule_id, name, value, line_no, False, DOCKERFILE_GUIDANCE.format(name=name, lower=name.lower().replace("_", "-"))))
        elif rewriter is None:
            fp.fixes.append(SecretFix(f.rule_id, name, value, line_no, False, f"no automatic rewrite for this kind of file: move the value to .env as {name} and read it from the environment"))
        else:
            fp.fixes.append(attempt(s, e, value, f.rule_id, name, line_no))
    # The same value elsewhere in the file (a line the rule's context did not cover) goes too.
    for fx in [x for x in fp.fixes if x.fixed]:
        start = 0
        while (s := text.find(fx.value, start)) >= 0:
            start = s + len(fx.value)
            e = start
            if (s, e) in seen or any(a <= s < b for a, b, _ in edits):
                continue
            seen.add((s, e))
            extra = attempt(s, e, fx.value, fx.rule_id, fx.env_var, text.count("\n", 0, s) + 1)
            if extra.fixed:
                fp.fixes.append(extra)
            else:
                extra.message = f"the value also occurs here and was not rewritten ({extra.message})"
                fp.fixes.append(extra)
    if not edits:
        return
    new = text
    for a, b, repl in sorted(edits, reverse=True):
        new = new[:a] + repl + new[b:]
    if fp.lang == "go":
        # Edits never add newlines, so line numbers still match: fix each edited line's const.
        edited = {text.count("\n", 0, a) for a, _b, _r in edits}
        lines = new.split("\n")
        for idx in sorted(edited):
            m = re.match(r"(\s*)const(\s)", lines[idx])
            if m:
                lines[idx] = m.group(1) + "var" + lines[idx][m.end(1) + 5 :]
            elif _in_go_const_block(lines, idx):
                note = f"line {idx + 1} is inside a Go `const ( ... )` block: move that constant into a `var` declaration"
                fp.notes.append(note)
        new = "\n".join(lines)
    if "os" in needs and fp.lang in ("python", "go"):
        new = _add_import(new, fp.lang)
    fp.new = new.encode("utf-8", "surrogateescape")


# --- applying -------------------------------------------------------------------------------------

@dataclass(slots=True)
class ApplyResult:
    written: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def _is_ignored(root: Path, name: str) -> bool:
    import pathspec

    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return False
    return pathspec.GitIgnoreSpec.from_lines(lines).match_file(name)


def _append_lines(path: Path, lines: list[str], private: bool = False) -> None:
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    sep = b"" if not old or old.endswith(b"\n") else b"\n"
    data = old + sep + "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
    if private and not old:
        write_atomic(path, data, mode=0o600)
    else:
        write_atomic(path, data)


def _tracked(root: Path, name: str) -> bool:
    try:
        proc = subprocess.run(["git", "-C", str(root), "ls-files", "--error-unmatch", name], capture_output=True, timeout=30)
        return proc.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _write_env(plan: FixPlan, folder: Path, needed: list[str], existing: dict[str, str], result: ApplyResult) -> None:
    """Add the missing values to `folder`'s .env (which holds `existing`), placeholders to its
    .env.example, and make sure git ignores that .env."""
    env_path = folder / ENV_FILE
    new_env = [env_line(n, plan.env[n]) for n in needed if n in plan.env and n not in existing]
    # NOTE: the values go to .env before any source file loses them.
    if new_env:
        _append_lines(env_path, ["# added by leakwarden fix", *new_env], private=True)
        result.written.append(str(env_path))
    example = folder / EXAMPLE_FILE
    have = read_env(example)
    missing = [n for n in needed if n not in have]
    if missing:
        lines = []
        for n in missing:
            rid = plan.env_rules.get(n)
            if rid:
                lines.append(f"# {rid}: see `leakwarden explain {rid}`")
            lines.append(f"{n}=")
        _append_lines(example, lines)
        result.written.append(str(example))
    root = plan.root if folder.is_relative_to(plan.root) else folder
    rel = env_path.relative_to(root).as_posix()
    if not _is_ignored(root, rel):
        _append_lines(root / ".gitignore", ["# local secrets (leakwarden fix)", ENV_FILE])
        result.written.append(str(root / ".gitignore"))
    if _tracked(root, rel):
        result.messages.append(f"{env_path} is tracked by git: run `git rm --cached {rel}` so it stays local")


def apply_fixes(plan: FixPlan) -> ApplyResult:
    """Write .env, .env.example and .gitignore, then the rewritten files (each only if unchanged)."""
    result = ApplyResult()
    todo: list[FilePlan] = []
    for fp in plan.files:
        if not fp.changed:
            continue
        try:
            current = fp.path.read_bytes()
        except OSError as exc:
            result.refused.append(fp.display)
            result.messages.append(f"{fp.display}: cannot read it again ({exc.strerror}); left alone")
            continue
        if hashlib.sha256(current).hexdigest() != fp.sha256:
            result.refused.append(fp.display)
            result.messages.append(f"{fp.display}: changed since it was scanned; left alone (run `leakwarden fix` again)")
            continue
        todo.append(fp)
    if not todo:
        return result
    needs = env_needs(plan, todo)
    existing = {folder: read_env(folder / ENV_FILE) for folder in needs}
    for folder, needed in needs.items():
        clashes = [n for n in needed if n in existing[folder] and n in plan.env and existing[folder][n] != plan.env[n]]
        if clashes:
            for fp in todo:
                result.refused.append(fp.display)
            result.messages.append(f"{folder / ENV_FILE}: {', '.join(clashes)} changed since the scan; nothing written (run `leakwarden fix` again)")
            return result
    for folder, needed in needs.items():
        _write_env(plan, folder, needed, existing[folder], result)
    for fp in todo:
        assert fp.new is not None
        if hashlib.sha256(fp.path.read_bytes()).hexdigest() != fp.sha256:
            result.refused.append(fp.display)
            result.messages.append(f"{fp.display}: changed since it was scanned; left alone (run `leakwarden fix` again)")
            continue
        write_atomic(fp.path, fp.new)
        result.written.append(fp.display)
    return result

