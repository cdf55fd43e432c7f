"""GitHub: check runs with annotations (App mode) or a commit status (token mode).

App mode signs an RS256 JWT with the App's private key (`cryptography`), trades it for an
installation token (cached until shortly before it expires), and uses that token both for the
API and for git. Check-run annotations go 50 per request (GitHub's limit): the first batch with
the create call, the rest as updates of the same run.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from leakwarden.platforms.config import PlatformConfig
from leakwarden.platforms.gitcache import auth_env
from leakwarden.platforms.http import ApiClient, ApiError, Clock, RateState
from leakwarden.platforms.report import Outcome, batches, masked, message

ANNOTATIONS_PER_CALL = 50
_LEVEL = {"critical": "failure", "high": "failure", "medium": "warning", "low": "notice", "info": "notice"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_jwt(app_id: str, private_key_pem: str, now: float) -> str:
    """The App's JWT: RS256, issued a minute in the past (clock drift), valid nine minutes."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("a GitHub App private key must be an RSA key")
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"iat": int(now) - 60, "exp": int(now) + 540, "iss": app_id}).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64(signature)}"


class GitHubReporter:
    def __init__(self, pc: PlatformConfig, clock: Clock | None = None, rate: RateState | None = None) -> None:
        self.pc = pc
        self.clock = clock or Clock()
        self.rate = rate or RateState()
        self._tokens: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.app_mode = bool(pc.app_id and pc.private_key)

    def _client(self, token: str, scheme: str = "token") -> ApiClient:
        return ApiClient(self.pc.api_url, {"authorization": f"{scheme} {token}", "accept": "application/vnd.github+json",
                                           "x-github-api-version": "2022-11-28"}, self.clock, self.rate)

    def token(self, job: dict[str, Any]) -> str:
        if not self.app_mode:
            return self.pc.token
        inst = job.get("installation")
        if not inst:
            raise ApiError("GitHub App mode needs the installation id in the delivery")
        with self._lock:
            cached = self._tokens.get(int(inst))
            if cached and cached[1] > self.clock.now() + 300:
                return cached[0]
        client = self._client(app_jwt(self.pc.app_id, self.pc.private_key, self.clock.now()), "Bearer")
        try:
            data = client.json("POST", f"/app/installations/{int(inst)}/access_tokens")
        finally:
            client.close()
        token = data["token"]
        expires = self.clock.now() + 3000  # tokens last an hour; without a parsable expiry assume 50 minutes
        try:
            from datetime import datetime

            expires = datetime.fromisoformat(str(data.get("expires_at")).replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
        with self._lock:
            self._tokens[int(inst)] = (token, expires)
        return token

    def git_auth(self, job: dict[str, Any]) -> dict[str, str]:
        token = self.token(job)
        return auth_env(self.pc.git_user or "x-access-token", token)

    def report(self, job: dict[str, Any], outcome: Outcome) -> None:
        if not self.pc.report:
            return
        client = self._client(self.token(job))
        try:
            if self.app_mode:
                self._check_run(client, job["repo"], outcome)
            else:
                client.request("POST", f"/repos/{job['repo']}/statuses/{outcome.sha}", json={
                    "state": "failure" if outcome.failed else "success",
                    "context": self.pc.check_name,
                    "description": outcome.title()[:140],
                })
        finally:
            client.close()

    def _check_run(self, client: ApiClient, repo: str, outcome: Outcome) -> None:
        annotations = [
            {
                "path": m["path"] or ".",
                "start_line": m["line"],
                "end_line": m["line"],
                "annotation_level": _LEVEL.get(m["severity"], "warning"),
                "title": m["rule_name"][:255],
                "message": message(f),
            }
            for f in outcome.new
            for m in [masked(f)]
        ]
        groups = batches(annotations, ANNOTATIONS_PER_CALL)
        output = {"title": outcome.title(), "summary": outcome.summary()[:65000]}
        run = client.json("POST", f"/repos/{repo}/check-runs", json={
            "name": self.pc.check_name,
            "head_sha": outcome.sha,
            "status": "completed",
            "conclusion": "failure" if outcome.failed else "success",
            "output": {**output, "annotations": groups[0]},
        })
        for group in groups[1:]:
            client.request("PATCH", f"/repos/{repo}/check-runs/{int(run['id'])}", json={"output": {**output, "annotations": group}})

    def replay_missed(self, known: set[str], since: float) -> int:
        """Ask GitHub to redeliver what the App sent while we were down (App mode only).

        Walks the App's delivery log (newest first) back to `since`; each delivery id (guid)
        we never received and whose last attempt failed is redelivered once.
        """
        if not self.app_mode:
            return 0
        from datetime import datetime

        client = self._client(app_jwt(self.pc.app_id, self.pc.private_key, self.clock.now()), "Bearer")
        asked: set[str] = set()
        ok: set[str] = set()
        failed: dict[str, int] = {}
        try:
            for d in client.paginate("/app/hook/deliveries", {"per_page": 100}):
                if not isinstance(d, dict) or "guid" not in d:
                    continue
                try:
                    when = datetime.fromisoformat(str(d.get("delivered_at")).replace("Z", "+00:00")).timestamp()
                except ValueError:
                    continue
                if when < since:
                    break
                guid = str(d["guid"])
                if d.get("status") == "OK" or 200 <= int(d.get("status_code") or 0) < 300:
                    ok.add(guid)
                elif guid not in failed:
                    failed[guid] = int(d["id"])
            for guid, delivery_id in failed.items():
                if guid in known or guid in ok or guid in asked:
                    continue
                client.request("POST", f"/app/hook/deliveries/{delivery_id}/attempts")
                asked.add(guid)
        finally:
            client.close()
        return len(asked)

    def close(self) -> None:
        pass
