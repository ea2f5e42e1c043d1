package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/protoc-gen-go-lambda/protoc-gen-go-lambda/runtime/internal/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file is the one table from Lambda and SDK failures to gRPC codes.
// docs/errors.md documents it row by row; keep the two in step.

// apiErrorCodes maps Invoke API error codes (X-Amzn-ErrorType) to gRPC codes
// where the code says more than the HTTP status does.
var apiErrorCodes = map[string]codes.Code{
	// Refused before the function ran: retrying later can succeed.
	"TooManyRequestsException":  codes.Unavailable,
	"ThrottlingException":       codes.Unavailable,
	"ServiceException":          codes.Unavailable,
	"ResourceConflictException": codes.Unavailable,
	"ResourceNotReadyException": codes.Unavailable,
	// A SnapStart function still initialising: ResourceNotReadyException's
	// twin, but HTTP 409, which grpc's mapping leaves UNKNOWN.
	"SnapStartNotReadyException": codes.Unavailable,
	// The function (or its version or alias) does not exist: as a gRPC server
	// without the service, UNIMPLEMENTED (grpc's mapping of HTTP 404).
	"ResourceNotFoundException": codes.Unimplemented,
	// The request is too big for Lambda.
	"RequestTooLargeException":                 codes.ResourceExhausted,
	"SerializedRequestEntityTooLargeException": codes.ResourceExhausted,
	// The caller's identity.
	"AccessDeniedException":               codes.PermissionDenied,
	"UnrecognizedClientException":         codes.Unauthenticated,
	"InvalidSignatureException":           codes.Unauthenticated,
	"IncompleteSignature":                 codes.Unauthenticated,
	"MissingAuthenticationTokenException": codes.Unauthenticated,
	"ExpiredTokenException":               codes.Unauthenticated,
	"InvalidClientTokenId":                codes.Unauthenticated,
}

// httpStatusCode is grpc's HTTP to gRPC status mapping
// (doc/http-grpc-status-mapping.md), plus 413, which gRPC reports as
// RESOURCE_EXHAUSTED for an oversize message.
func httpStatusCode(httpStatus int) codes.Code {
	switch httpStatus {
	case 400:
		return codes.Internal
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.Unimplemented
	case 413:
		return codes.ResourceExhausted
	case 429, 502, 503, 504:
		return codes.Unavailable
	}
	return codes.Unknown
}

// invokeErrorStatus maps an error returned by the Invoke call itself: the
// Lambda service refused the request, it never reached the service, or its
// answer was lost on the way back.
func invokeErrorStatus(err error) *status.Status {
	code := codes.Unknown
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	httpStatus := 0
	if errors.As(err, &respErr) {
		// (The SDK reports a request that got no answer as a response error
		// with status 0, and an answer it could not read as one with the
		// answer's status, 200 for a lost response.)
		httpStatus = respErr.HTTPStatusCode()
	}
	switch {
	case errors.As(err, &apiErr) && apiErrorCodes[apiErr.ErrorCode()] != codes.OK:
		code = apiErrorCodes[apiErr.ErrorCode()]
	case httpStatus != 0 && (httpStatus < 200 || httpStatus > 299):
		code = httpStatusCode(httpStatus)
	case isTransportFailure(err):
		// No answer, or the connection failed while the answer was read: as
		// grpc-go when the connection breaks before or during a response.
		code = codes.Unavailable
	}
	return status.New(code, "lambda: invoke failed: "+err.Error())
}

// isTransportFailure says whether err is the connection's failure rather
// than an answer's: a network error (refused, reset, closed, timed out), or
// a response body that ended before its Content-Length.
func isTransportFailure(err error) bool {
	var netErr net.Error
	var conErr interface{ ConnectionError() bool }
	return errors.As(err, &netErr) || errors.As(err, &conErr) && conErr.ConnectionError() ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Function error types that Lambda (or the emulator) reports in the
// errorType field when the invocation failed outside the handler's control.
const (
	timeoutMessage = "Task timed out after"
)

// functionErrorStatus maps a failed invocation: Lambda ran the function but
// it did not produce a response (X-Amz-Function-Error, or the emulator's
// error document). kind is the X-Amz-Function-Error value, if any.
func functionErrorStatus(kind string, env *wire.Response, payload []byte) *status.Status {
	var fe wire.FunctionError
	if env != nil && env.FunctionError != nil {
		fe = *env.FunctionError
	} else {
		fe.Message = truncate(payload)
	}
	desc := fe.Type
	if desc == "" {
		desc = "function error"
	}
	if kind != "" {
		desc += " (" + kind + ")"
	}
	msg := fmt.Sprintf("lambda: invocation failed: %s: %s", desc, fe.Message)
	return status.New(functionErrorCode(fe), msg)
}

func functionErrorCode(fe wire.FunctionError) codes.Code {
	switch {
	case fe.Type == "Sandbox.Timedout" || strings.Contains(fe.Message, timeoutMessage):
		// The function ran out of time: as a call past its deadline.
		return codes.DeadlineExceeded
	case fe.Type == "Runtime.OutOfMemory" || fe.Type == "Function.ResponseSizeTooLarge":
		return codes.ResourceExhausted
	case strings.HasPrefix(fe.Type, "Runtime.") || strings.HasPrefix(fe.Type, "Sandbox."):
		// The process crashed or could not start: as grpc-go when the server
		// goes away mid-call.
		return codes.Unavailable
	}
	// A handler that is not a protoc-gen-go-lambda Server returned an error.
	return codes.Unknown
}

// addEmulatorFunctionErrors installs emulatorFunctionErrors in an Invoke
// call's SDK middleware stack, innermost, so that it sees the raw response
// before the SDK decodes it.
func addEmulatorFunctionErrors(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("protoc-gen-go-lambda/EmulatorFunctionErrors", emulatorFunctionErrors), middleware.After)
}

// emulatorFunctionErrors reads the Lambda Runtime Interface Emulator's report
// of a failed invocation as real Lambda's. Lambda answers an invocation whose
// runtime crashed with HTTP 200, X-Amz-Function-Error and an error document
// ({"errorType":"Runtime.ExitError","errorMessage":...}); the emulator sends
// the same document with HTTP 502 and no X-Amz-Function-Error. Left alone,
// the SDK decodes that as an API error named "UnknownError", dropping the
// document, and an idempotent method's retryer would run the call again.
// The Lambda API's own 502 errors always name themselves in X-Amzn-ErrorType,
// so they are left alone.
func emulatorFunctionErrors(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode != http.StatusBadGateway || resp.Body == nil ||
		resp.Header.Get("X-Amzn-ErrorType") != "" || resp.Header.Get("X-Amz-Function-Error") != "" {
		return out, md, err
	}
	// Error documents are small; read a little more than the largest one the
	// emulator writes, and hand anything else on unchanged.
	const maxDocument = 64 << 10
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if env, perr := wire.ParseResponse(body); rerr == nil && len(body) <= maxDocument && perr == nil && env.FunctionError != nil && env.FunctionError.Type != "" {
		resp.Body.Close()
		resp.StatusCode = http.StatusOK
		resp.Header.Set("X-Amz-Function-Error", "Unhandled")
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return out, md, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	return out, md, err
}

// nonEnvelopeStatus maps a successful invocation whose payload is not a
// response envelope. The emulator reports a timeout this way, as plain text.
func nonEnvelopeStatus(payload []byte) *status.Status {
	if strings.HasPrefix(strings.TrimSpace(string(payload)), timeoutMessage) {
		return status.New(codes.DeadlineExceeded, "lambda: invocation failed: "+truncate(payload))
	}
	return status.New(codes.Internal, "lambda: the function's response is not a protoc-gen-go-lambda envelope: "+truncate(payload))
}

// truncate quotes the start of a payload for an error message.
func truncate(b []byte) string {
	const max = 256
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
