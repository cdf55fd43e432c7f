package secrets

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// %%GO_FUNC%% fetches the %%RULE_NAME%% from CyberArk Conjur over its REST API, with the CONJUR_*
// variables of the Conjur CLI: CONJUR_APPLIANCE_URL, CONJUR_ACCOUNT, CONJUR_AUTHN_LOGIN and
// CONJUR_AUTHN_API_KEY. (github.com/cyberark/conjur-api-go wraps the same calls.)
func %%GO_FUNC%%() (string, error) {
	base := strings.TrimRight(os.Getenv("CONJUR_APPLIANCE_URL"), "/")
	account := url.PathEscape(os.Getenv("CONJUR_ACCOUNT"))
	login := url.PathEscape(os.Getenv("CONJUR_AUTHN_LOGIN"))
	id := os.Getenv("%%ENV_VAR%%_CONJUR_ID")
	if id == "" {
		id = "%%SECRET_ID%%"
	}
	client := &http.Client{Timeout: 10 * time.Second}
	auth, err := client.Post(base+"/authn/"+account+"/"+login+"/authenticate", "text/plain",
		strings.NewReader(os.Getenv("CONJUR_AUTHN_API_KEY")))
	if err != nil {
		return "", err
	}
	defer auth.Body.Close()
	if auth.StatusCode != http.StatusOK {
		return "", fmt.Errorf("conjur authentication failed: HTTP %d", auth.StatusCode)
	}
	rawToken, err := io.ReadAll(auth.Body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodGet, base+"/secrets/"+account+"/variable/"+url.PathEscape(id), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", `Token token="`+base64.StdEncoding.EncodeToString(rawToken)+`"`)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("conjur answered HTTP %d for %s", resp.StatusCode, id)
	}
	value, err := io.ReadAll(resp.Body)
	return string(value), err
}
