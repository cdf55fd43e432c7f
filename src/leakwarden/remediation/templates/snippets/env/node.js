"use strict";

// Returns the %%RULE_NAME%% from the environment variable %%ENV_VAR%%.
function %%JS_FUNC%%() {
  const value = process.env["%%ENV_VAR%%"];
  if (!value) {
    throw new Error("%%ENV_VAR%% is not set (put it in .env locally, in the CI/secret store in production)");
  }
  return value;
}

module.exports = { %%JS_FUNC%% };
