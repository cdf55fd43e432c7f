"use strict";

// npm install @aws-sdk/client-secrets-manager
const { SecretsManagerClient, GetSecretValueCommand } = require("@aws-sdk/client-secrets-manager");

const client = new SecretsManagerClient({});

// Fetches the %%RULE_NAME%% from AWS Secrets Manager (stored as a plaintext secret).
async function %%JS_FUNC%%() {
  const secretId = process.env["%%ENV_VAR%%_SECRET_ID"] || "%%SECRET_ID%%";
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  return response.SecretString;
}

module.exports = { %%JS_FUNC%% };
