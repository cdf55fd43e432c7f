/** Reads the %%RULE_NAME%% from the environment variable %%ENV_VAR%%. */
public final class %%JAVA_CLASS%% {
    private %%JAVA_CLASS%%() {
    }

    public static String get() {
        String value = System.getenv("%%ENV_VAR%%");
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("%%ENV_VAR%% is not set (put it in .env locally, in the CI/secret store in production)");
        }
        return value;
    }
}
