package secrets

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// %%GO_FUNC%% fetches the %%RULE_NAME%% from AWS Secrets Manager (stored as a plaintext secret).
func %%GO_FUNC%%(ctx context.Context) (string, error) {
	secretID := os.Getenv("%%ENV_VAR%%_SECRET_ID")
	if secretID == "" {
		secretID = "%%SECRET_ID%%"
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(secretID),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.SecretString), nil
}
