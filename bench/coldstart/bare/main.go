// Command bare is the baseline for cold start and binary size comparisons:
// a plain aws-lambda-go function that returns its input unchanged. Build it
// exactly as example/function is built (see scripts/coldstart).
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		return in, nil
	})
}
