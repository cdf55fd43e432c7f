"""Bitbucket Cloud and Data Center: a build status and a Code Insights report with annotations.

Cloud: `/2.0/repositories/{workspace}/{slug}/commit/{sha}/statuses/build` and
`.../reports/{id}` + `.../annotations` (at most 100 per call).
Data Center: `/rest/build-status/1.0/commits/{sha}` and
`/rest/insights/1.0/projects/{key}/repos/{slug}/commits/{sha}/reports/{id}` + annotations.
"""

from __future__ import annotations

from typing import Any

from leakwarden.platforms.config import PlatformConfig
from leakwarden.platforms.gitcache import auth_env
from leakwarden.platforms.http import ApiClient, Clock, RateState
from leakwarden.platforms.report import Outcome, batches, masked, message

REPORT_ID = "leakwarden"
CLOUD_ANNOTATIONS_PER_CALL = 100
DC_ANNOTATIONS_PER_CALL = 1000
_SEVERITY = {"critical": "CRITICAL", "high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "LOW"}


class BitbucketReporter:
    def __init__(self, pc: PlatformConfig, clock: Clock | None = None, rate: RateState | None = None) -> None:
        self.pc = pc
        self.clock = clock or Clock()
        self.rate = rate or RateState()
        self.dc = pc.name == "bitbucket-dc"

    def git_auth(self, job: dict[str, Any]) -> dict[str, str]:
        return auth_env(self.pc.git_user or "x-token-auth", self.pc.token)

    def report(self, job: dict[str, Any], outcome: Outcome) -> None:
        if not self.pc.report:
            return
        client = ApiClient(self.pc.api_url, {"authorization": f"Bearer {self.pc.token}"}, self.clock, self.rate)
        try:
            (self._dc if self.dc else self._cloud)(client, job, outcome)
        finally:
            client.close()

    def _cloud(self, client: ApiClient, job: dict[str, Any], o: Outcome) -> None:
        base = f"/repositories/{job['repo']}/commit/{o.sha}"
        client.request("POST", f"{base}/statuses/build", json={
            "key": self.pc.check_name, "name": self.pc.check_name,
            "state": "FAILED" if o.failed else "SUCCESSFUL",
            "description": o.title()[:255], "url": f"https://bitbucket.org/{job['repo']}/commits/{o.sha}",
        })
        client.request("PUT", f"{base}/reports/{REPORT_ID}", json={
            "title": "leakwarden secrets scan", "details": o.title(), "report_type": "SECURITY",
            "result": "FAILED" if o.failed else "PASSED", "reporter": "leakwarden",
            "data": [{"title": "New secrets", "type": "NUMBER", "value": len(o.new)}, {"title": "Known secrets", "type": "NUMBER", "value": len(o.known)}],
        })
        notes = [{
            "external_id": f"{m['fingerprint']}-{i}", "annotation_type": "VULNERABILITY", "summary": message(f)[:450],
            "path": m["path"], "line": m["line"], "severity": _SEVERITY.get(m["severity"], "MEDIUM"),
        } for i, f in enumerate(o.new) for m in [masked(f)]]
        for group in batches(notes, CLOUD_ANNOTATIONS_PER_CALL):
            if group:
                client.request("POST", f"{base}/reports/{REPORT_ID}/annotations", json=group)

    def _dc(self, client: ApiClient, job: dict[str, Any], o: Outcome) -> None:
        client.request("POST", f"/rest/build-status/1.0/commits/{o.sha}", json={
            "key": self.pc.check_name, "name": self.pc.check_name,
            "state": "FAILED" if o.failed else "SUCCESSFUL", "description": o.title()[:255], "url": self.pc.api_url,
        })
        base = f"/rest/insights/1.0/projects/{job['project_key']}/repos/{job['slug']}/commits/{o.sha}/reports/{REPORT_ID}"
        client.request("PUT", base, json={
            "title": "leakwarden secrets scan", "details": o.title(), "result": "FAIL" if o.failed else "PASS", "reporter": "leakwarden",
            "data": [{"title": "New secrets", "type": "NUMBER", "value": len(o.new)}],
        })
        client.request("DELETE", f"{base}/annotations")
        notes = [{"externalId": f"{m['fingerprint']}-{i}", "path": m["path"], "line": m["line"], "message": message(f)[:2000],
                  "severity": "HIGH" if m["severity"] in ("critical", "high") else "MEDIUM"} for i, f in enumerate(o.new) for m in [masked(f)]]
        for group in batches(notes, DC_ANNOTATIONS_PER_CALL):
            if group:
                client.request("POST", f"{base}/annotations", json={"annotations": group})

    def close(self) -> None:
        pass
