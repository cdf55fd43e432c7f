import base64
import os
import urllib.parse
import urllib.request


def %%PY_FUNC%%() -> str:
    """Fetch the %%RULE_NAME%% from CyberArk Conjur over its REST API.

    Uses the CONJUR_* variables of the Conjur CLI and SDKs: CONJUR_APPLIANCE_URL, CONJUR_ACCOUNT,
    CONJUR_AUTHN_LOGIN (e.g. host/myapp) and CONJUR_AUTHN_API_KEY.
    """
    url = os.environ["CONJUR_APPLIANCE_URL"].rstrip("/")
    account = urllib.parse.quote(os.environ["CONJUR_ACCOUNT"], safe="")
    login = urllib.parse.quote(os.environ["CONJUR_AUTHN_LOGIN"], safe="")
    variable = urllib.parse.quote(os.environ.get("%%ENV_VAR%%_CONJUR_ID", "%%SECRET_ID%%"), safe="")
    authenticate = urllib.request.Request(
        f"{url}/authn/{account}/{login}/authenticate",
        data=os.environ["CONJUR_AUTHN_API_KEY"].encode(),
        method="POST",
    )
    with urllib.request.urlopen(authenticate, timeout=10) as response:
        access_token = base64.b64encode(response.read()).decode()
    request = urllib.request.Request(
        f"{url}/secrets/{account}/variable/{variable}",
        headers={"Authorization": f'Token token="{access_token}"'},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()
