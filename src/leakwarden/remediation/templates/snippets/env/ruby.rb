# Returns the %%RULE_NAME%% from the environment variable %%ENV_VAR%%.
def %%RUBY_METHOD%%
  value = ENV.fetch("%%ENV_VAR%%", "")
  raise KeyError, "%%ENV_VAR%% is not set (put it in .env locally, in the CI/secret store in production)" if value.empty?

  value
end
