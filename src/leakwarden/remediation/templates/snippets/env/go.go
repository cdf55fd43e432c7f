package secrets

import (
	"errors"
	"os"
)

// %%GO_FUNC%% returns the %%RULE_NAME%% from the environment variable %%ENV_VAR%%.
func %%GO_FUNC%%() (string, error) {
	value := os.Getenv("%%ENV_VAR%%")
	if value == "" {
		return "", errors.New("%%ENV_VAR%% is not set (put it in .env locally, in the CI/secret store in production)")
	}
	return value, nil
}
