package secrets

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// %%GO_FUNC%% reads the %%RULE_NAME%% from HashiCorp Vault's KV v2 engine over its HTTP API.
// VAULT_ADDR and VAULT_TOKEN are the variables the Vault CLI uses.
func %%GO_FUNC%%() (string, error) {
	addr := strings.TrimRight(os.Getenv("VAULT_ADDR"), "/")
	path := os.Getenv("%%ENV_VAR%%_VAULT_PATH")
	if path == "" {
		path = "secret/data/%%SECRET_ID%%"
	}
	req, err := http.NewRequest(http.MethodGet, addr+"/v1/"+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Vault-Token", os.Getenv("VAULT_TOKEN"))
	if ns := os.Getenv("VAULT_NAMESPACE"); ns != "" {
		req.Header.Set("X-Vault-Namespace", ns)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("vault answered HTTP %d for %s", resp.StatusCode, path)
	}
	var body struct {
		Data struct {
			Data map[string]string `json:"data"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	value, ok := body.Data.Data["%%ENV_VAR%%"]
	if !ok {
		return "", fmt.Errorf("%s has no key %%ENV_VAR%%", path)
	}
	return value, nil
}
