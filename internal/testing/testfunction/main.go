// Command testfunction is TestService as a Lambda function, for the
// end-to-end tests under the Lambda Runtime Interface Emulator. Unlike the
// example, its Exit method really ends the process.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testpb"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/internal/testing/testserver"
)

func main() {
	lambda.Start(testpb.NewTestServiceLambdaHandler(&testserver.Server{ExitProcess: os.Exit}))
}
