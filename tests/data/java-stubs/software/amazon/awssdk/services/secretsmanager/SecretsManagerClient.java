package software.amazon.awssdk.services.secretsmanager;

import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueRequest;
import software.amazon.awssdk.services.secretsmanager.model.GetSecretValueResponse;

public interface SecretsManagerClient extends AutoCloseable {
    static SecretsManagerClient create() {
        throw new UnsupportedOperationException("stub");
    }

    GetSecretValueResponse getSecretValue(GetSecretValueRequest request);

    @Override
    void close();
}
