"""Named checks for what a declarative spec cannot say: request signing and token exchanges.

A rule selects one with `[rules.verify] kind = "custom"`, `check = "<name>"`, lists the hosts
the check may contact in `hosts`, and may pass `params`. Each function gets the secret, the
related values found near it, the verify block and the Exchange (which enforces hosts, limits
and retries), and returns a Validity. They never keep tokens they obtain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from leakwarden.errors import VerifyError
from leakwarden.models import Validity, ValidityState
from leakwarden.verifier.exchange import Exchange, Reply
from leakwarden.verifier.http import missing_values, outcome, unknown
from leakwarden.verifier.rsa import load_private_key, sign_rs256
from leakwarden.verifier.template import render_url

CustomCheck = Callable[[str, Mapping[str, str], Mapping[str, Any], Exchange], Awaitable[Validity]]


# --- AWS: SigV4-signed sts:GetCallerIdentity ---------------------------------------------------

def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_authorization(
    *,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
) -> str:
    """The `Authorization` header of AWS Signature Version 4 (headers must include x-amz-date)."""
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query))
    all_headers = {k.lower(): " ".join(v.split()) for k, v in {**headers, "host": host}.items()}
    names = sorted(all_headers)
    canonical_headers = "".join(f"{n}:{all_headers[n]}\n" for n in names)
    signed = ";".join(names)
    request = "\n".join([method, path or "/", canonical_query, canonical_headers, signed, hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


_AWS_KEY_ID = re.compile(r"^(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA)[A-Z2-7]{16}$")


def _xml_value(text: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>([^<]{{1,512}})</{tag}>", text)
    return m.group(1) if m else None


async def aws_sts(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """Secret access key + key id (either may be the finding; the other comes from `related`)."""
    if related.get("key_id"):
        key_id, secret_key = related["key_id"], secret
    elif related.get("secret_key"):
        key_id, secret_key = secret, related["secret_key"]
    else:
        return unknown("cannot check an AWS key without both the access key id and the secret access key near each other")
    if not _AWS_KEY_ID.match(key_id):
        return unknown("the access key id found near the secret is not an AWS key id")
    url = "https://sts.amazonaws.com/"
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "X-Amz-Date": amz_date}
    if related.get("session_token"):
        headers["X-Amz-Security-Token"] = related["session_token"]
    hosts = spec.get("hosts", ["sts.amazonaws.com"])
    headers["Authorization"] = sigv4_authorization(
        method="POST", host=ex.host_header(url, hosts), path="/", query=[], headers=headers, body=body,
        access_key=key_id, secret_key=secret_key, region="us-east-1", service="sts", amz_date=amz_date,
    )
    reply = await ex.send("POST", url, hosts=hosts, secrets=[secret_key, related.get("session_token", "")], headers=headers, content=body)
    if reply.status == 200 and _xml_value(reply.text, "Arn"):
        details = {k: v for k, v in (("arn", _xml_value(reply.text, "Arn")), ("account", _xml_value(reply.text, "Account")), ("user_id", _xml_value(reply.text, "UserId"))) if v}
        return outcome(ValidityState.VALID, "AWS accepted the key (sts:GetCallerIdentity)", details)
    code = _xml_value(reply.text, "Code") or ""
    dead = {
        "InvalidClientTokenId": "the access key id does not exist or was deleted",
        "SignatureDoesNotMatch": "the secret does not match the access key id (or the key was rotated)",
        "ExpiredToken": "the temporary credentials have expired",
        "InvalidAccessKeyId": "the access key id does not exist",
    }
    if reply.status in (400, 403) and code in dead:
        return outcome(ValidityState.INVALID, f"AWS rejected the key: {dead[code]} ({code})")
    return unknown(f"unexpected answer from AWS STS (HTTP {reply.status}{', ' + code if code else ''})")


# --- OAuth 2.0 token-endpoint probes ------------------------------------------------------------

def _oauth_error(reply: Reply) -> tuple[str, str]:
    data = reply.json()
    if not isinstance(data, dict):
        return "", ""
    error, desc = data.get("error", ""), data.get("error_description", "")
    return (error if isinstance(error, str) else ""), (desc if isinstance(desc, str) else "")


def _encode(fields: Mapping[str, str], fmt: str) -> tuple[bytes, str]:
    if fmt == "form":
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    return json.dumps(dict(fields)).encode(), "application/json"


async def oauth2_code_probe(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """Exchange a deliberately bogus authorization code with the client id and secret.

    Correct client credentials get past client authentication and fail on the code
    (`invalid_grant`); wrong ones fail client authentication. Nothing is granted either way.
    """
    params = {**_CODE_PROBE_DEFAULTS, **spec.get("params", {})}
    gap = missing_values(["client_id"], related)
    if gap is not None:
        return gap
    values = {**related, "secret": secret}
    url = render_url(params["token_url"], values)
    fields = {
        "grant_type": "authorization_code",
        "code": "leakwarden-validity-probe-not-a-real-code",
        "redirect_uri": params["redirect_uri"],
        "client_id": related["client_id"],
        "client_secret": secret,
    }
    body, ctype = _encode(fields, params["body_format"])
    reply = await ex.send("POST", url, hosts=spec.get("hosts", ()), secrets=[secret], headers={"Content-Type": ctype, "Accept": "application/json"}, content=body)
    error, _ = _oauth_error(reply)
    if error in params["valid_errors"]:
        return outcome(ValidityState.VALID, f"the client id and secret were accepted (only the bogus probe code was refused: {error})", {"client_id": related["client_id"]})
    if error in params["invalid_errors"] or reply.status in params["invalid_status"]:
        return outcome(ValidityState.INVALID, f"client authentication failed (HTTP {reply.status}{', ' + error if error else ''})")
    return unknown(f"unexpected answer from the token endpoint (HTTP {reply.status}{', ' + error if error else ''})")


_CODE_PROBE_DEFAULTS: dict[str, Any] = {
    "token_url": "https://auth.atlassian.com/oauth/token",
    "redirect_uri": "https://localhost/leakwarden-validity-probe",
    "body_format": "json",
    "valid_errors": ["invalid_grant"],
    "invalid_errors": ["invalid_client", "unauthorized_client", "access_denied"],
    "invalid_status": [401],
}


async def atlassian_oauth(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """Atlassian 3LO apps have no client-credentials grant: probe with a bogus code."""
    preset = {"token_url": "https://auth.atlassian.com/oauth/token", "body_format": "json"}
    return await oauth2_code_probe(secret, related, {**spec, "params": {**preset, **spec.get("params", {})}}, ex)


async def oauth2_client_credentials(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """A client-credentials grant; the access token obtained is dropped at once, never kept."""
    params = spec.get("params", {})
    gap = missing_values(["client_id", *spec.get("requires", ())], related)
    if gap is not None:
        return gap
    if "token_url" not in params:
        raise VerifyError("the rule's verify.params has no token_url")
    values = {**related, "secret": secret}
    url = render_url(params["token_url"], values)
    fields = {"grant_type": "client_credentials"}
    if params.get("scope"):
        fields["scope"] = params["scope"]
    headers = {"Accept": "application/json"}
    if params.get("client_auth", "basic") == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{quote(related['client_id'], safe='')}:{quote(secret, safe='')}".encode()).decode()
    else:
        fields.update(client_id=related["client_id"], client_secret=secret)
    body, ctype = _encode(fields, params.get("body_format", "form"))
    headers["Content-Type"] = ctype
    reply = await ex.send("POST", url, hosts=spec.get("hosts", ()), secrets=[secret], headers=headers, content=body)
    data = reply.json()
    if reply.status == 200 and isinstance(data, dict) and data.get("access_token"):
        details = {k: data[k] for k in ("token_type", "expires_in", "scope") if isinstance(data.get(k), str | int)}
        return outcome(ValidityState.VALID, "the token endpoint issued an access token (discarded)", details)
    error, _ = _oauth_error(reply)
    if error in ("invalid_client", "unauthorized_client") or reply.status == 401:
        return outcome(ValidityState.INVALID, f"client authentication failed (HTTP {reply.status}{', ' + error if error else ''})")
    return unknown(f"unexpected answer from the token endpoint (HTTP {reply.status}{', ' + error if error else ''})")


# --- CircleCI project tokens --------------------------------------------------------------------

_SLUG = re.compile(r"^(github|gh|bitbucket|bb|circleci)/([A-Za-z0-9_.-]{1,100})/([A-Za-z0-9_.-]{1,100})$")
_VCS = {"gh": "github", "bb": "bitbucket"}


async def circleci_project(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """Project tokens are not user-bound (`/me` cannot tell); ask for their own project."""
    slug = related.get("project", "").strip().strip("/")
    if not slug:
        return unknown("a CircleCI project token can only be checked against its project; no project slug (e.g. gh/org/repo) was found near it")
    m = _SLUG.match(slug)
    if not m or any(part in (".", "..") for part in m.groups()):
        return unknown("the project slug found near the token is not of the form vcs/org/repo")
    vcs, org, repo = _VCS.get(m.group(1), m.group(1)), m.group(2), m.group(3)
    url = f"https://circleci.com/api/v1.1/project/{vcs}/{quote(org, safe='')}/{quote(repo, safe='')}?limit=1"
    reply = await ex.send("GET", url, hosts=spec.get("hosts", ["circleci.com"]), secrets=[secret], headers={"Circle-Token": secret, "Accept": "application/json"})
    if reply.status == 200:
        return outcome(ValidityState.VALID, f"CircleCI returned the builds of {vcs}/{org}/{repo}", {"project": f"{vcs}/{org}/{repo}"})
    if reply.status == 401:
        return outcome(ValidityState.INVALID, "CircleCI rejected the token (HTTP 401)")
    if reply.status == 404:
        return unknown(f"CircleCI does not show {vcs}/{org}/{repo} to this token (HTTP 404): wrong project, or a token without access")
    return unknown(f"unexpected answer from CircleCI (HTTP {reply.status})")


# --- Google Cloud service-account keys ----------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _service_account(secret: str, related: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(PEM key, client e-mail, key id) from a key file's JSON or a PEM plus a related e-mail."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise VerifyError("the service-account key file is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("private_key"), str) or not isinstance(data.get("client_email"), str):
            raise VerifyError("the key file has no private_key or client_email")
        key_id = data.get("private_key_id")
        return data["private_key"], data["client_email"], key_id if isinstance(key_id, str) else None
    if not related.get("client_email"):
        raise VerifyError("cannot check a service-account private key without its client_email found near it")
    return text, related["client_email"], related.get("private_key_id")


async def gcp_service_account(secret: str, related: Mapping[str, str], spec: Mapping[str, Any], ex: Exchange) -> Validity:
    """Sign a JWT assertion with the key and exchange it at Google's token endpoint (RFC 7523)."""
    pem, email, key_id = _service_account(secret, related)
    if not re.fullmatch(r"[A-Za-z0-9._%+-]{1,128}@[A-Za-z0-9.-]{1,253}", email):
        return unknown("the client_email is not an e-mail address")
    key = load_private_key(pem)
    token_url = "https://oauth2.googleapis.com/token"
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", **({"kid": key_id} if key_id else {})}
    claims = {"iss": email, "scope": "https://www.googleapis.com/auth/userinfo.email", "aud": token_url, "iat": now, "exp": now + 300}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    assertion = f"{signing_input}.{_b64url(sign_rs256(signing_input.encode(), key))}"
    body = urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}).encode()
    reply = await ex.send(
        "POST", token_url, hosts=spec.get("hosts", ["oauth2.googleapis.com"]), secrets=[secret, pem, assertion],
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}, content=body,
    )
    data = reply.json()
    details = {"client_email": email, **({"private_key_id": key_id} if key_id else {})}
    if reply.status == 200 and isinstance(data, dict) and data.get("access_token"):
        return outcome(ValidityState.VALID, "Google issued an access token for the service account (discarded)", details)
    error, desc = _oauth_error(reply)
    lowered = desc.lower()
    if error == "invalid_grant" and ("signature" in lowered or "not found" in lowered or "disabled" in lowered):
        return outcome(ValidityState.INVALID, f"Google rejected the key: {desc[:120]}", details)
    if error in ("invalid_client", "unauthorized_client"):
        return outcome(ValidityState.INVALID, f"Google rejected the service account ({error})", details)
    return unknown(f"unexpected answer from Google's token endpoint (HTTP {reply.status}{', ' + error if error else ''})")


CUSTOM_CHECKS: dict[str, CustomCheck] = {
    "aws-sts": aws_sts,
    "atlassian-oauth": atlassian_oauth,
    "oauth2-code-probe": oauth2_code_probe,
    "oauth2-client-credentials": oauth2_client_credentials,
    "circleci-project": circleci_project,
    "gcp-service-account": gcp_service_account,
}
