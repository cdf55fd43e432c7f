"""GitLab: a commit status per scanned commit and one merge-request note, updated in place.

The note is found again by a hidden marker (first line), so every update of the merge request
edits the same note instead of adding a new one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from leakwarden.platforms.config import PlatformConfig
from leakwarden.platforms.gitcache import auth_env
from leakwarden.platforms.http import ApiClient, Clock, RateState
from leakwarden.platforms.report import MARKER, Outcome


class GitLabReporter:
    def __init__(self, pc: PlatformConfig, clock: Clock | None = None, rate: RateState | None = None) -> None:
        self.pc = pc
        self.clock = clock or Clock()
        self.rate = rate or RateState()

    def git_auth(self, job: dict[str, Any]) -> dict[str, str]:
        return auth_env(self.pc.git_user or "oauth2", self.pc.token)

    def report(self, job: dict[str, Any], outcome: Outcome) -> None:
        if not self.pc.report:
            return
        client = ApiClient(self.pc.api_url, {"private-token": self.pc.token}, self.clock, self.rate)
        project = quote(str(job.get("project_id") or job["repo"]), safe="")
        try:
            client.request("POST", f"/projects/{project}/statuses/{outcome.sha}", json={
                "state": "failed" if outcome.failed else "success",
                "name": self.pc.check_name,
                "description": outcome.title()[:255],
            })
            if job.get("kind") == "pr" and job.get("pr"):
                self._note(client, project, int(job["pr"]), outcome.summary())
        finally:
            client.close()

    def _note(self, client: ApiClient, project: str, iid: int, body: str) -> None:
        path = f"/projects/{project}/merge_requests/{iid}/notes"
        for note in client.paginate(path, {"per_page": 100}):
            if isinstance(note, dict) and str(note.get("body", "")).startswith(MARKER):
                client.request("PUT", f"{path}/{int(note['id'])}", json={"body": body})
                return
        client.request("POST", path, json={"body": body})

    def close(self) -> None:
        pass
