import com.bettercloud.vault.Vault;
import com.bettercloud.vault.VaultConfig;
import com.bettercloud.vault.VaultException;

/** Reads the %%RULE_NAME%% from HashiCorp Vault's KV v2 engine (com.bettercloud:vault-java-driver). */
public final class %%JAVA_CLASS%% {
    private %%JAVA_CLASS%%() {
    }

    public static String get() throws VaultException {
        VaultConfig config = new VaultConfig()
                .address(System.getenv("VAULT_ADDR"))
                .token(System.getenv("VAULT_TOKEN"))
                .engineVersion(2)
                .build();
        String path = System.getenv().getOrDefault("%%ENV_VAR%%_VAULT_PATH", "secret/%%SECRET_ID%%");
        return new Vault(config).logical().read(path).getData().get("%%ENV_VAR%%");
    }
}
