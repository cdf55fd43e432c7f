require "json"
require "net/http"
require "uri"

# Reads the %%RULE_NAME%% from HashiCorp Vault's KV v2 engine over its HTTP API
# (the `vault` gem works too). VAULT_ADDR and VAULT_TOKEN are the variables the Vault CLI uses.
def %%RUBY_METHOD%%
  addr = ENV.fetch("VAULT_ADDR").chomp("/")
  path = ENV.fetch("%%ENV_VAR%%_VAULT_PATH", "secret/data/%%SECRET_ID%%")
  uri = URI("#{addr}/v1/#{path}")
  request = Net::HTTP::Get.new(uri)
  request["X-Vault-Token"] = ENV.fetch("VAULT_TOKEN")
  request["X-Vault-Namespace"] = ENV["VAULT_NAMESPACE"] if ENV["VAULT_NAMESPACE"]
  response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https", read_timeout: 10) do |http|
    http.request(request)
  end
  raise "Vault answered HTTP #{response.code} for #{path}" unless response.is_a?(Net::HTTPSuccess)

  JSON.parse(response.body).fetch("data").fetch("data").fetch("%%ENV_VAR%%")
end
