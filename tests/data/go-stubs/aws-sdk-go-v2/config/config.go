// Package config is a type-checking stub of github.com/aws/aws-sdk-go-v2/config.
package config

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// LoadOptions are the options LoadDefaultConfig accepts.
type LoadOptions struct{}

// LoadDefaultConfig reads the shared config, environment and instance metadata.
func LoadDefaultConfig(ctx context.Context, optFns ...func(*LoadOptions) error) (cfg aws.Config, err error) {
	panic("stub")
}
