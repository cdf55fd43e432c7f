// Package secretsmanager is a type-checking stub of github.com/aws/aws-sdk-go-v2/service/secretsmanager.
package secretsmanager

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Options configure a Client.
type Options struct{}

// Client calls AWS Secrets Manager.
type Client struct{}

// NewFromConfig returns a client built from an aws.Config.
func NewFromConfig(cfg aws.Config, optFns ...func(*Options)) *Client { panic("stub") }

// GetSecretValueInput names the secret to read.
type GetSecretValueInput struct {
	SecretId     *string
	VersionId    *string
	VersionStage *string
}

// GetSecretValueOutput holds the secret.
type GetSecretValueOutput struct {
	ARN          *string
	Name         *string
	SecretString *string
	SecretBinary []byte
}

// GetSecretValue reads a secret's value.
func (c *Client) GetSecretValue(ctx context.Context, params *GetSecretValueInput, optFns ...func(*Options)) (*GetSecretValueOutput, error) {
	panic("stub")
}
