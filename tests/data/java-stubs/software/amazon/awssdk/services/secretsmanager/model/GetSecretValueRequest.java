package software.amazon.awssdk.services.secretsmanager.model;

public final class GetSecretValueRequest {
    public interface Builder {
        Builder secretId(String secretId);

        GetSecretValueRequest build();
    }

    public static Builder builder() {
        throw new UnsupportedOperationException("stub");
    }
}
