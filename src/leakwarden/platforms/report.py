"""What a scan tells a platform: masked findings, a conclusion, a short summary.

Only redacted secrets, rule names, places and short fingerprints leave the service; `line`
(already masked by the detector) is not sent either, since a masked line may still carry a
neighbouring credential the rules did not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from leakwarden.models import Finding

MARKER = "<!-- leakwarden:report -->"


@dataclass(slots=True)
class Outcome:
    sha: str
    new: list[Finding] = field(default_factory=list)
    known: list[Finding] = field(default_factory=list)
    commits: int = 0
    blobs: int = 0

    @property
    def failed(self) -> bool:
        """Only findings not in the baseline/ignore list fail the check."""
        return bool(self.new)

    def title(self) -> str:
        if self.new:
            return f"{len(self.new)} new secret(s) found"
        if self.known:
            return f"no new secrets ({len(self.known)} already known)"
        return "no secrets found"

    def summary(self, limit: int = 50) -> str:
        lines = [MARKER, f"**leakwarden**: {self.title()} in {self.commits} commit(s), {self.blobs} new blob(s) scanned.", ""]
        if self.new:
            lines += ["| rule | where | secret | fingerprint |", "|---|---|---|---|"]
            for f in self.new[:limit]:
                m = masked(f)
                lines.append(f"| {m['rule']} | `{m['path']}:{m['line']}` @ {m['commit'][:12]} | `{m['secret']}` | `{m['fingerprint']}` |")
            if len(self.new) > limit:
                lines.append(f"| … {len(self.new) - limit} more | | | |")
            lines += ["", "Rotate each credential, then remove it from history; `leakwarden explain <rule>` shows how."]
        return "\n".join(lines)


def masked(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity.value,
        "path": f.location.path or "",
        "line": max(f.location.start_line, 1),
        "commit": f.location.commit or "",
        "secret": f.secret.redacted,
        "fingerprint": f.fingerprint[:16],
    }


def message(f: Finding) -> str:
    m = masked(f)
    return f"{m['rule_name']} ({m['rule']}): {m['secret']} — fingerprint {m['fingerprint']}. Rotate it; removing the commit is not enough."


class Reporter(Protocol):
    def git_auth(self, job: dict[str, Any]) -> dict[str, str]: ...

    def report(self, job: dict[str, Any], outcome: Outcome) -> None: ...

    def close(self) -> None: ...


def batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
