import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

/**
 * Fetches the %%RULE_NAME%% from CyberArk Conjur over its REST API (Java 11+), with the CONJUR_*
 * variables of the Conjur CLI: CONJUR_APPLIANCE_URL, CONJUR_ACCOUNT, CONJUR_AUTHN_LOGIN and
 * CONJUR_AUTHN_API_KEY. (The conjur-api-java SDK wraps the same calls.)
 */
public final class %%JAVA_CLASS%% {
    private %%JAVA_CLASS%%() {
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    public static String get() throws IOException, InterruptedException {
        String base = System.getenv("CONJUR_APPLIANCE_URL").replaceAll("/+$", "");
        String account = encode(System.getenv("CONJUR_ACCOUNT"));
        String login = encode(System.getenv("CONJUR_AUTHN_LOGIN"));
        String id = System.getenv().getOrDefault("%%ENV_VAR%%_CONJUR_ID", "%%SECRET_ID%%");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpRequest authenticate = HttpRequest.newBuilder(URI.create(base + "/authn/" + account + "/" + login + "/authenticate"))
                .POST(HttpRequest.BodyPublishers.ofString(System.getenv("CONJUR_AUTHN_API_KEY")))
                .build();
        HttpResponse<byte[]> auth = client.send(authenticate, HttpResponse.BodyHandlers.ofByteArray());
        if (auth.statusCode() != 200) {
            throw new IOException("Conjur authentication failed: HTTP " + auth.statusCode());
        }
        String accessToken = Base64.getEncoder().encodeToString(auth.body());
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/secrets/" + account + "/variable/" + encode(id)))
                .header("Authorization", "Token token=\"" + accessToken + "\"")
                .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("Conjur answered HTTP " + response.statusCode() + " for " + id);
        }
        return response.body();
    }
}
