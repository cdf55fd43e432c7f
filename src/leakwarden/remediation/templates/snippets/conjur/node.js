"use strict";

// Fetches the %%RULE_NAME%% from CyberArk Conjur over its REST API (Node 18+ fetch), with the
// CONJUR_* variables of the Conjur CLI: CONJUR_APPLIANCE_URL, CONJUR_ACCOUNT,
// CONJUR_AUTHN_LOGIN (e.g. host/myapp) and CONJUR_AUTHN_API_KEY.
async function %%JS_FUNC%%() {
  const url = process.env.CONJUR_APPLIANCE_URL.replace(/\/+$/, "");
  const account = encodeURIComponent(process.env.CONJUR_ACCOUNT);
  const login = encodeURIComponent(process.env.CONJUR_AUTHN_LOGIN);
  const variable = encodeURIComponent(process.env["%%ENV_VAR%%_CONJUR_ID"] || "%%SECRET_ID%%");
  const auth = await fetch(`${url}/authn/${account}/${login}/authenticate`, {
    method: "POST",
    body: process.env.CONJUR_AUTHN_API_KEY,
  });
  if (!auth.ok) {
    throw new Error(`Conjur authentication failed: HTTP ${auth.status}`);
  }
  const accessToken = Buffer.from(await auth.arrayBuffer()).toString("base64");
  const response = await fetch(`${url}/secrets/${account}/variable/${variable}`, {
    headers: { Authorization: `Token token="${accessToken}"` },
  });
  if (!response.ok) {
    throw new Error(`Conjur answered HTTP ${response.status} for ${decodeURIComponent(variable)}`);
  }
  return response.text();
}

module.exports = { %%JS_FUNC%% };
