// Package aws is a type-checking stub of github.com/aws/aws-sdk-go-v2/aws.
package aws

// Config holds the resolved AWS configuration.
type Config struct{}

// String returns a pointer to the string value passed in.
func String(v string) *string { return &v }

// ToString returns the value of the string pointer, or "" if it is nil.
func ToString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
