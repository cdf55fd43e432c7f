"""Named checks (request signing, token exchanges) against local servers imitating the providers."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from leakwarden.models import ValidityState
from leakwarden.rules import load_ruleset
from leakwarden.verifier import verify_findings
from leakwarden.verifier.custom import sigv4_authorization
from tests.verifier.conftest import finding, settings_for
from tests.verifier.provider import Request

ATOA = "ATOAh_ImB_LK777pzNk8cL6j5IXAAjlsHUqJoUD-_Ydua_5ZMs1SWOpQaPRYpzbLGViYB676CE45"
CLIENT_ID = "bicBTW5ZE9LFaez7770H2DCpYgojjHRg"
CCIPRJ = "CCIPRJ_2fAT4n4CSVznyMo86BNDCi_e19cbae530282bd36cb9d21f6be6abf0d7c1c1e2"
AWS_ID = "AKIAZ7EXAMPLEQ5W3VHK"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY1"


def one(f, settings, ruleset=None):
    [out] = verify_findings([f], settings, ruleset)
    return out.validity


def test_sigv4_matches_the_documented_aws_example():
    # The worked example of AWS's "Signature Version 4 signing process" documentation (IAM ListUsers).
    auth = sigv4_authorization(
        method="GET", host="iam.amazonaws.com", path="/", query=[("Action", "ListUsers"), ("Version", "2010-05-08")],
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "X-Amz-Date": "20150830T123600Z"},
        body=b"", access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1", service="iam", amz_date="20150830T123600Z",
    )
    assert auth.endswith("Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    assert "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request" in auth


# --- Atlassian OAuth 2.0 (3LO): a token request with a bogus code ---------------------------------

def atlassian_token(req: Request):
    if req.path != "/oauth/token" or req.method != "POST":
        return 404, {}, ""
    body = req.json()
    if body.get("client_id") == CLIENT_ID and body.get("client_secret") == ATOA:
        assert body["grant_type"] == "authorization_code" and body["code"]
        return 403, {}, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
    return 401, {}, {"error": "access_denied", "error_description": "Unauthorized"}


@pytest.mark.parametrize("client_id,secret,state", [
    (CLIENT_ID, ATOA, ValidityState.VALID),
    (CLIENT_ID, ATOA[:-8] + "00000000", ValidityState.INVALID),
    ("x" * 32, ATOA, ValidityState.INVALID),
])
def test_atlassian_oauth_probe(provider, client_id, secret, state):
    provider.handler = atlassian_token
    v = one(finding("atlassian-oauth-client-secret", secret, {"client_id": client_id}), settings_for({"auth.atlassian.com": provider.base_url}))
    assert v.state is state, v.reason
    assert len(provider.requests) == 1


def test_atlassian_oauth_needs_client_id(provider):
    provider.handler = atlassian_token
    v = one(finding("atlassian-oauth-client-secret", ATOA), settings_for({"auth.atlassian.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "client id" in v.reason and provider.requests == []


@pytest.mark.parametrize("reply,expect", [
    ((429, {"Retry-After": "0"}, {"error": "rate_limited"}), "rate limited"),
    ((502, {}, "bad gateway"), "HTTP 502"),
    ((400, {}, {"error": "invalid_request"}), "unexpected answer"),
])
def test_atlassian_oauth_indeterminate(provider, reply, expect):
    provider.handler = lambda req: reply
    v = one(finding("atlassian-oauth-client-secret", ATOA, {"client_id": CLIENT_ID}), settings_for({"auth.atlassian.com": provider.base_url}, retries=1))
    assert v.state is ValidityState.UNKNOWN and expect in v.reason


def test_atlassian_oauth_redirect_and_slow(provider, other_provider):
    provider.handler = lambda req: (302, {"Location": other_provider.base_url + "/oauth/token"}, "")
    v = one(finding("atlassian-oauth-client-secret", ATOA, {"client_id": CLIENT_ID}), settings_for({"auth.atlassian.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and other_provider.requests == []
    provider.handler = lambda req: (time.sleep(1.5), (403, {}, {"error": "invalid_grant"}))[1]
    v = one(finding("atlassian-oauth-client-secret", ATOA, {"client_id": CLIENT_ID}), settings_for({"auth.atlassian.com": provider.base_url}, timeout=0.3, retries=0))
    assert v.state is ValidityState.UNKNOWN and "timed out" in v.reason


# --- CircleCI project token: its own project, v1.1 ------------------------------------------------

def circleci_project(req: Request):
    if req.header("Circle-Token") != CCIPRJ:
        return 401, {}, {"message": "You must log in first."}
    if req.path.startswith("/api/v1.1/project/github/acme/api"):
        return 200, {}, [{"build_num": 41, "status": "success"}]
    return 404, {}, {"message": "Project not found"}


def test_circleci_project_token(provider):
    provider.handler = circleci_project
    settings = settings_for({"circleci.com": provider.base_url})
    v = one(finding("circleci-project-token", CCIPRJ, {"project": "gh/acme/api"}), settings)
    assert v.state is ValidityState.VALID and v.details["project"] == "github/acme/api"
    assert provider.requests[-1].path == "/api/v1.1/project/github/acme/api?limit=1"
    v = one(finding("circleci-project-token", CCIPRJ[:-2] + "00", {"project": "github/acme/api"}), settings)
    assert v.state is ValidityState.INVALID
    v = one(finding("circleci-project-token", CCIPRJ, {"project": "github/acme/other"}), settings)
    assert v.state is ValidityState.UNKNOWN and "404" in v.reason


def test_circleci_project_token_without_slug_says_so(provider):
    provider.handler = circleci_project
    v = one(finding("circleci-project-token", CCIPRJ), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and "project slug" in v.reason and provider.requests == []


@pytest.mark.parametrize("slug", ["github/../../admin", "github/acme", "https://evil.example/x/y", "github/acme/api/../../x"])
def test_circleci_project_slug_is_constrained(provider, slug):
    provider.handler = circleci_project
    v = one(finding("circleci-project-token", CCIPRJ, {"project": slug}), settings_for({"circleci.com": provider.base_url}))
    assert v.state is ValidityState.UNKNOWN and provider.requests == []


def test_circleci_project_rate_limit_5xx_slow(provider):
    settings = settings_for({"circleci.com": provider.base_url}, retries=0, timeout=0.3)
    for handler, expect in [
        (lambda req: (429, {}, ""), "rate limited"),
        (lambda req: (500, {}, ""), "HTTP 500"),
        (lambda req: (time.sleep(1.5), (200, {}, []))[1], "timed out"),
    ]:
        provider.handler = handler
        v = one(finding("circleci-project-token", CCIPRJ, {"project": "gh/acme/api"}), settings)
        assert v.state is ValidityState.UNKNOWN and expect in v.reason


# --- AWS: sts:GetCallerIdentity signed with SigV4 -------------------------------------------------

def _aws_rules():
    """The AWS rules ship on another branch; test the named check through a rule built here."""
    base = load_ruleset().by_id["circleci-project-token"]
    rule = replace(base, id="aws-secret-access-key", verify={"kind": "custom", "check": "aws-sts", "hosts": ["sts.amazonaws.com"], "requires": ["key_id"]})
    return type("RS", (), {"by_id": {rule.id: rule}})()


def sts(req: Request):
    auth = req.header("Authorization") or ""
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/(\d{8})/us-east-1/sts/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$", auth)
    if not m:
        return 400, {}, "<ErrorResponse><Error><Code>IncompleteSignature</Code></Error></ErrorResponse>"
    if m.group(1) != AWS_ID:
        return 403, {}, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>"
    signed = {h: req.header(h) for h in m.group(3).split(";")}
    expected = sigv4_authorization(
        method=req.method, host=signed.pop("host"), path="/", query=[], headers=signed, body=req.body,
        access_key=AWS_ID, secret_key=AWS_SECRET, region="us-east-1", service="sts", amz_date=req.header("X-Amz-Date"),
    )
    if expected != auth or parse_qs(req.body.decode()) != {"Action": ["GetCallerIdentity"], "Version": ["2011-06-15"]}:
        return 403, {}, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"
    return 200, {"Content-Type": "text/xml"}, (
        "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/ci-deploy</Arn>"
        "<UserId>AIDAZ7EXAMPLEUSERID01</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
    )


@pytest.mark.parametrize("key_id,secret,state,word", [
    (AWS_ID, AWS_SECRET, ValidityState.VALID, "accepted"),
    (AWS_ID, AWS_SECRET[:-1] + "X", ValidityState.INVALID, "SignatureDoesNotMatch"),
    ("AKIAZ7EXAMPLEQ5W3VHQ", AWS_SECRET, ValidityState.INVALID, "InvalidClientTokenId"),
])
def test_aws_sts(provider, key_id, secret, state, word):
    provider.handler = sts
    v = one(finding("aws-secret-access-key", secret, {"key_id": key_id}), settings_for({"sts.amazonaws.com": provider.base_url}), _aws_rules())
    assert v.state is state and word in v.reason
    if state is ValidityState.VALID:
        assert v.details == {"arn": "arn:aws:iam::123456789012:user/ci-deploy", "account": "123456789012", "user_id": "AIDAZ7EXAMPLEUSERID01"}


def test_aws_needs_both_halves_and_handles_throttling(provider):
    provider.handler = sts
    settings = settings_for({"sts.amazonaws.com": provider.base_url}, retries=0, timeout=0.3)
    v = one(finding("aws-secret-access-key", AWS_SECRET), settings, _aws_rules())
    assert v.state is ValidityState.UNKNOWN and "access key id" in v.reason and provider.requests == []
    for handler, expect in [
        (lambda req: (429, {}, "<Code>Throttling</Code>"), "rate limited"),
        (lambda req: (503, {}, ""), "HTTP 503"),
        (lambda req: (time.sleep(1.5), (200, {}, ""))[1], "timed out"),
    ]:
        provider.handler = handler
        v = one(finding("aws-secret-access-key", AWS_SECRET, {"key_id": AWS_ID}), settings, _aws_rules())
        assert v.state is ValidityState.UNKNOWN and expect in v.reason
    assert AWS_SECRET not in v.reason


# --- GCP service account: RS256 JWT assertion exchanged at the token endpoint --------------------

@pytest.fixture(scope="module")
def gcp_key(tmp_path_factory):
    from tests.tooling import require_tool

    require_tool("openssl")
    folder = tmp_path_factory.mktemp("gcp")
    key, pub = folder / "key.pem", folder / "pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    return key.read_text(), pub, folder


def google_token(pub: Path, folder: Path, email: str):
    """Verify the assertion's RS256 signature with openssl, as Google would with the public key."""

    def handler(req: Request):
        form = parse_qs(req.body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {}, {"error": "unsupported_grant_type"}
        head, claims, sig = form["assertion"][0].split(".")
        payload = json.loads(base64.urlsafe_b64decode(claims + "=="))
        if payload["iss"] != email:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"}
        (folder / "msg").write_bytes(f"{head}.{claims}".encode())
        (folder / "sig").write_bytes(base64.urlsafe_b64decode(sig + "=="))
        ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(folder / "sig"), str(folder / "msg")], capture_output=True)
        if ok.returncode != 0:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        assert payload["aud"].endswith("/token") and payload["exp"] - payload["iat"] <= 3600
        return 200, {}, {"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"}

    return handler


def _gcp_rules():
    base = load_ruleset().by_id["circleci-project-token"]
    rule = replace(base, id="gcp-service-account-key", verify={"kind": "custom", "check": "gcp-service-account", "hosts": ["oauth2.googleapis.com"]})
    return type("RS", (), {"by_id": {rule.id: rule}})()


def test_gcp_service_account(provider, gcp_key, tmp_path):
    pem, pub, folder = gcp_key
    email = "deployer@acme-prod.iam.gserviceaccount.com"
    provider.handler = google_token(pub, folder, email)
    settings = settings_for({"oauth2.googleapis.com": provider.base_url})
    key_file = json.dumps({"type": "service_account", "project_id": "acme-prod", "private_key_id": "a" * 40, "private_key": pem, "client_email": email})
    v = one(finding("gcp-service-account-key", key_file), settings, _gcp_rules())
    assert v.state is ValidityState.VALID and v.details["client_email"] == email
    assert "ya29" not in json.dumps(v.details)
    # the PEM alone, with the e-mail found nearby
    v = one(finding("gcp-service-account-key", pem, {"client_email": email}), settings, _gcp_rules())
    assert v.state is ValidityState.VALID
    # a different key for the same account: the signature does not verify
    other = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], check=True, capture_output=True, text=True).stdout
    v = one(finding("gcp-service-account-key", other, {"client_email": email}), settings, _gcp_rules())
    assert v.state is ValidityState.INVALID and "Signature" in v.reason
    v = one(finding("gcp-service-account-key", pem, {"client_email": "gone@acme-prod.iam.gserviceaccount.com"}), settings, _gcp_rules())
    assert v.state is ValidityState.INVALID
    # no e-mail: say so, send nothing
    n = len(provider.requests)
    v = one(finding("gcp-service-account-key", pem), settings, _gcp_rules())
    assert v.state is ValidityState.UNKNOWN and "client_email" in v.reason and len(provider.requests) == n
    provider.handler = lambda req: (503, {}, "")
    v = one(finding("gcp-service-account-key", key_file), settings_for({"oauth2.googleapis.com": provider.base_url}, retries=0), _gcp_rules())
    assert v.state is ValidityState.UNKNOWN and "HTTP 503" in v.reason


# --- generic OAuth2 client credentials -------------------------------------------------------------

def test_oauth2_client_credentials(provider):
    base = load_ruleset().by_id["circleci-project-token"]
    rule = replace(base, id="entra-client-secret", verify={
        "kind": "custom", "check": "oauth2-client-credentials", "hosts": ["login.microsoftonline.com"], "requires": ["tenant"],
        "params": {"token_url": "https://login.microsoftonline.com/{{ tenant }}/oauth2/v2.0/token", "scope": "https://graph.microsoft.com/.default", "client_auth": "body"},
    })
    rules = type("RS", (), {"by_id": {rule.id: rule}})()

    def handler(req: Request):
        form = parse_qs(req.body.decode())
        assert req.path == "/contoso.onmicrosoft.com/oauth2/v2.0/token"
        if form.get("client_secret") == ["abc8Q~goodsecret"] and form.get("client_id") == ["app-1"]:
            return 200, {}, {"access_token": "eyJ.secret.token", "token_type": "Bearer", "expires_in": 3599}
        return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}

    provider.handler = handler
    settings = settings_for({"login.microsoftonline.com": provider.base_url})
    related = {"client_id": "app-1", "tenant": "contoso.onmicrosoft.com"}
    v = one(finding("entra-client-secret", "abc8Q~goodsecret", related), settings, rules)
    assert v.state is ValidityState.VALID and "eyJ" not in json.dumps(v.details)
    v = one(finding("entra-client-secret", "abc8Q~badsecret", related), settings, rules)
    assert v.state is ValidityState.INVALID
    v = one(finding("entra-client-secret", "abc8Q~goodsecret", {"client_id": "app-1", "tenant": "evil.com/x"}), settings, rules)
    assert v.state is ValidityState.UNKNOWN
