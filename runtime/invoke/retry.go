package invoke

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// RetryPolicy says how often the AWS SDK may retry one call's invocation.
//
// A call is never run twice by surprise. Whatever the policy, an attempt
// that may have reached the function (a broken connection, a 5xx from the
// service) is retried only when the method is marked idempotent in its proto
// definition (option idempotency_level = IDEMPOTENT or NO_SIDE_EFFECTS). An
// attempt the Lambda service refused before running the function
// (throttling, a function not ready yet, a refused connection) may be
// retried for any method. An invocation that ran and failed (the function
// crashed or timed out: a function error) is never retried; its failure is
// the call's outcome, as with Lambda's own synchronous invocations.
// docs/errors.md lists every case.
//
// Each attempt tells the function the time the caller has left when the
// attempt is sent, as grpc-go's grpc-timeout does; an attempt due after the
// caller's deadline is not sent (attempt.go).
type RetryPolicy struct {
	// MaxAttempts is the most attempts per call, the first included;
	// 1 turns retries off.
	MaxAttempts int
	// MaxBackoff caps the jittered exponential delay between attempts.
	MaxBackoff time.Duration
}

// DefaultRetryPolicy is the AWS SDK's standard: three attempts, at most 20
// seconds apart.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, MaxBackoff: 20 * time.Second}

// retryers holds the SDK options of a policy, made once per ClientConn: one
// per retryer (any method, or idempotent methods) and whether the call
// carries credentials that need transport security.
type retryers struct {
	opts [2][2]func(*lambda.Options) // [idempotent][secureCredentials]

	// byMethod caches each method's idempotency (full method name → bool),
	// but only for methods found in the registry of linked-in proto files:
	// method names are the caller's strings, and a cache of every one seen
	// would grow without bound. The registry bounds it.
	byMethod sync.Map

	files DescriptorResolver // where methods are looked up
}

func newRetryers(p RetryPolicy, files DescriptorResolver) *retryers {
	if p.MaxAttempts < 1 {
		p.MaxAttempts = 1
	}
	mk := func(retryables []retry.IsErrorRetryable) [2]func(*lambda.Options) {
		r := retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = p.MaxAttempts
			if p.MaxBackoff > 0 {
				o.MaxBackoff = p.MaxBackoff
			}
			o.Retryables = retryables
			// A client-wide token bucket would turn retries off under load
			// without saying so; the attempt count is the limit.
			o.RateLimiter = ratelimit.None
		})
		opt := func(apiOptions ...func(*middleware.Stack) error) func(*lambda.Options) {
			return func(o *lambda.Options) {
				o.Retryer = r
				o.APIOptions = append(o.APIOptions[:len(o.APIOptions):len(o.APIOptions)], apiOptions...)
			}
		}
		return [2]func(*lambda.Options){
			opt(addEmulatorFunctionErrors, addAttemptMiddleware),
			opt(addEmulatorFunctionErrors, addAttemptMiddleware, addSecureEndpointGuard),
		}
	}
	// An idempotent method is retried on whatever any method is retried on
	// (the SDK's defaults miss ResourceConflictException, for one), on an
	// answer cut off mid-way (the SDK's defaults retry a connection closed
	// then, not a body that ends early), and on the SDK's default rules.
	alsoRefused := retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
		if refusedBeforeRun(err) == aws.TrueTernary || errors.Is(err, io.ErrUnexpectedEOF) {
			return aws.TrueTernary
		}
		return aws.UnknownTernary
	})
	if files == nil {
		files = protoregistry.GlobalFiles
	}
	return &retryers{files: files, opts: [2][2]func(*lambda.Options){
		mk([]retry.IsErrorRetryable{retry.NoRetryCanceledError{}, retry.IsErrorRetryableFunc(refusedBeforeRun)}),
		mk(append([]retry.IsErrorRetryable{retry.NoRetryCanceledError{}, alsoRefused}, retry.DefaultRetryables...)),
	}}
}

// forMethod returns the SDK option for one call of method: the method's
// retryer, the reading of the emulator's function errors (errors.go) that
// it relies on not to retry a call that ran, the per-attempt request
// (attempt.go), and, when the call carries credentials that require
// transport security, the check that the request goes out over HTTPS.
func (r *retryers) forMethod(method string, secureCredentials bool) func(*lambda.Options) {
	return r.opts[b2i(r.idempotent(method))][b2i(secureCredentials)]
}

func (r *retryers) idempotent(method string) bool {
	if v, ok := r.byMethod.Load(method); ok {
		return v.(bool)
	}
	idempotent, known := methodIdempotency(r.files, method)
	if known {
		r.byMethod.Store(method, idempotent)
	}
	return idempotent
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DescriptorResolver finds descriptors by their full names;
// *protoregistry.Files is one.
type DescriptorResolver interface {
	FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error)
}

// methodIdempotency reads the method's idempotency_level from files (by
// default the registry of linked-in proto files, so it works for
// grpc-generated clients too). known is false for a method files do not
// have.
func methodIdempotency(files DescriptorResolver, method string) (idempotent, known bool) {
	sm, ok := strings.CutPrefix(method, "/")
	i := strings.LastIndex(sm, "/")
	if !ok || i < 0 {
		return false, false
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(sm[:i]))
	if err != nil {
		return false, false
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return false, false
	}
	md := sd.Methods().ByName(protoreflect.Name(sm[i+1:]))
	if md == nil {
		return false, false
	}
	opts, _ := md.Options().(*descriptorpb.MethodOptions)
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_IDEMPOTENT, descriptorpb.MethodOptions_NO_SIDE_EFFECTS:
		return true, true
	}
	return false, true
}

// refusedBeforeRun says whether an attempt's error proves the function did
// not run: the service refused the invocation, or no connection was made.
func refusedBeforeRun(err error) aws.Ternary {
	// HTTP 429 Too Many Requests refuses a request unprocessed, whoever
	// answers it (Lambda names it TooManyRequestsException; a proxy may not).
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() == 429 {
		return aws.TrueTernary
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "TooManyRequestsException", "ThrottlingException", "ResourceNotReadyException",
			"ResourceConflictException", "EC2ThrottledException", "SnapStartNotReadyException":
			return aws.TrueTernary
		}
		return aws.FalseTernary
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return aws.TrueTernary
	}
	return aws.FalseTernary
}
