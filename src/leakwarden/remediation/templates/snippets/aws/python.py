import os

import boto3  # pip install boto3


def %%PY_FUNC%%() -> str:
    """Fetch the %%RULE_NAME%% from AWS Secrets Manager (stored as a plaintext secret).

    Credentials and region come from the usual AWS chain (instance/task role, AWS_PROFILE...).
    """
    secret_id = os.environ.get("%%ENV_VAR%%_SECRET_ID", "%%SECRET_ID%%")
    client = boto3.client("secretsmanager")
    response = client.get_secret_value(SecretId=secret_id)
    return response["SecretString"]
