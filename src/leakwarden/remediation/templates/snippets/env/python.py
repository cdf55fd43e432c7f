import os


def %%PY_FUNC%%() -> str:
    """Return the %%RULE_NAME%% from the environment variable %%ENV_VAR%%."""
    value = os.environ.get("%%ENV_VAR%%", "")
    if not value:
        raise RuntimeError("%%ENV_VAR%% is not set (put it in .env locally, in the CI/secret store in production)")
    return value
