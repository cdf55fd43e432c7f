import json
import os
import urllib.request


def %%PY_FUNC%%() -> str:
    """Read the %%RULE_NAME%% from HashiCorp Vault's KV v2 engine over its HTTP API.

    VAULT_ADDR and VAULT_TOKEN are the variables the Vault CLI uses (the token typically comes
    from Vault Agent or an auth method such as Kubernetes or AppRole). The `hvac` library works too.
    """
    addr = os.environ["VAULT_ADDR"].rstrip("/")
    path = os.environ.get("%%ENV_VAR%%_VAULT_PATH", "secret/data/%%SECRET_ID%%")
    headers = {"X-Vault-Token": os.environ["VAULT_TOKEN"]}
    if os.environ.get("VAULT_NAMESPACE"):
        headers["X-Vault-Namespace"] = os.environ["VAULT_NAMESPACE"]
    request = urllib.request.Request(f"{addr}/v1/{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    return body["data"]["data"]["%%ENV_VAR%%"]
