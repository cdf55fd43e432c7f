import software.amazon.awssdk.services.secretsmanager.SecretsManagerClient;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;

/** Fetches the %%RULE_NAME%% from AWS Secrets Manager (AWS SDK for Java 2.x, plaintext secret). */
public final class %%JAVA_CLASS%% {
    private %%JAVA_CLASS%%() {
    }

    public static String get() {
        String secretId = System.getenv().getOrDefault("%%ENV_VAR%%_SECRET_ID", "%%SECRET_ID%%");
        try (SecretsManagerClient client = SecretsManagerClient.create()) {
            GetSecretValueRequest request = GetSecretValueRequest.builder().secretId(secretId).build();
            return client.getSecretValue(request).secretString();
        }
    }
}
