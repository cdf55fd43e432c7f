require "base64"
require "erb"
require "net/http"
require "uri"

# Fetches the %%RULE_NAME%% from CyberArk Conjur over its REST API (the conjur-api gem wraps the
# same calls), with the CONJUR_* variables of the Conjur CLI: CONJUR_APPLIANCE_URL,
# CONJUR_ACCOUNT, CONJUR_AUTHN_LOGIN and CONJUR_AUTHN_API_KEY.
def %%RUBY_METHOD%%
  base = ENV.fetch("CONJUR_APPLIANCE_URL").chomp("/")
  account = ERB::Util.url_encode(ENV.fetch("CONJUR_ACCOUNT"))
  login = ERB::Util.url_encode(ENV.fetch("CONJUR_AUTHN_LOGIN"))
  id = ENV.fetch("%%ENV_VAR%%_CONJUR_ID", "%%SECRET_ID%%")
  auth = Net::HTTP.post(URI("#{base}/authn/#{account}/#{login}/authenticate"), ENV.fetch("CONJUR_AUTHN_API_KEY"))
  raise "Conjur authentication failed: HTTP #{auth.code}" unless auth.is_a?(Net::HTTPSuccess)

  access_token = Base64.strict_encode64(auth.body)
  uri = URI("#{base}/secrets/#{account}/variable/#{ERB::Util.url_encode(id)}")
  request = Net::HTTP::Get.new(uri)
  request["Authorization"] = %(Token token="#{access_token}")
  response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == "https", read_timeout: 10) do |http|
    http.request(request)
  end
  raise "Conjur answered HTTP #{response.code} for #{id}" unless response.is_a?(Net::HTTPSuccess)

  response.body
end
