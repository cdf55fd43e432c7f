"use strict";

// Reads the %%RULE_NAME%% from HashiCorp Vault's KV v2 engine over its HTTP API (Node 18+ fetch).
// VAULT_ADDR and VAULT_TOKEN are the variables the Vault CLI uses.
async function %%JS_FUNC%%() {
  const addr = process.env.VAULT_ADDR.replace(/\/+$/, "");
  const path = process.env["%%ENV_VAR%%_VAULT_PATH"] || "secret/data/%%SECRET_ID%%";
  const headers = { "X-Vault-Token": process.env.VAULT_TOKEN };
  if (process.env.VAULT_NAMESPACE) {
    headers["X-Vault-Namespace"] = process.env.VAULT_NAMESPACE;
  }
  const response = await fetch(`${addr}/v1/${path}`, { headers });
  if (!response.ok) {
    throw new Error(`Vault answered HTTP ${response.status} for ${path}`);
  }
  const body = await response.json();
  return body.data.data["%%ENV_VAR%%"];
}

module.exports = { %%JS_FUNC%% };
