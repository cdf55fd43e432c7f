require "aws-sdk-secretsmanager" # gem install aws-sdk-secretsmanager

# Fetches the %%RULE_NAME%% from AWS Secrets Manager (stored as a plaintext secret).
def %%RUBY_METHOD%%
  secret_id = ENV.fetch("%%ENV_VAR%%_SECRET_ID", "%%SECRET_ID%%")
  client = Aws::SecretsManager::Client.new
  client.get_secret_value(secret_id: secret_id).secret_string
end
