package software.amazon.awssdk.services.secretsmanager.model;

public final class GetSecretValueResponse {
    public String secretString() {
        throw new UnsupportedOperationException("stub");
    }
}
