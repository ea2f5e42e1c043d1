package invoke

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Per-RPC credentials (grpc.PerRPCCredentials) ride in the request
// envelope's metadata, so they cross whatever carries the Invoke request. A
// gRPC connection's transport credentials say whether it is secure; here the
// "connection" is the Invoker's endpoint:
//
//   - a *lambda.Client is secure when its endpoint is HTTPS: the AWS
//     default (no BaseEndpoint) is, an http:// BaseEndpoint (the emulator, a
//     local fake) or EndpointOptions.DisableHTTPS is not;
//   - any other Invoker is taken as secure, as grpc-go takes an in-process
//     connection with local credentials: the test doubles of lambdatest pass
//     the payload in memory. One that wraps a *lambda.Client and passes the
//     SDK options on is checked at the request itself, once the SDK has
//     resolved its endpoint (secureEndpointGuard); one that sends payloads
//     over plaintext by other means declares it with WithInsecure.
//
// Credentials whose RequireTransportSecurity is true are refused on an
// insecure one with grpc-go's status (http2Client.getCallAuthData), before
// they are asked for metadata and before anything is sent.

// errInsecureCredentials is grpc-go's refusal of secure credentials on an
// insecure connection.
var errInsecureCredentials = status.Error(codes.Unauthenticated, "transport: cannot send secure credentials on an insecure connection")

// authInfo describes the Invoke transport to per-RPC credentials, as a TLS
// handshake's AuthInfo describes a gRPC connection: credentials such as
// grpc/credentials/oauth check its security level
// (credentials.CheckSecurityLevel) before they hand out a token.
type authInfo struct {
	credentials.CommonAuthInfo
	authType string
}

// AuthType implements credentials.AuthInfo.
func (a authInfo) AuthType() string { return a.authType }

// transportAuthInfo is what the ClientConn knows of invoker's transport.
func transportAuthInfo(invoker Invoker, insecure bool) authInfo {
	switch c, ok := invoker.(*lambda.Client); {
	case insecure:
		return authInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}, "insecure"}
	case !ok:
		return authInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, "local"}
	case !endpointIsHTTPS(c.Options()):
		return authInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}, "insecure"}
	}
	return authInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, "tls"}
}

// endpointIsHTTPS says whether the SDK client's requests go out over HTTPS.
func endpointIsHTTPS(o lambda.Options) bool {
	if o.EndpointOptions.DisableHTTPS {
		return false
	}
	if o.BaseEndpoint == nil {
		return true // the AWS endpoint of the region
	}
	u, err := url.Parse(*o.BaseEndpoint)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

func (a authInfo) secure() bool { return a.SecurityLevel == credentials.PrivacyAndIntegrity }

// callCredentials returns the metadata of the call's per-RPC credentials
// (the last grpc.PerRPCCredentials call option, as on grpc-go), by
// grpc-go's rules (http2Client.getCallAuthData): refused on an insecure
// transport when they require security; given the method and the
// transport's AuthInfo (credentials.RequestInfo); their errors restricted to
// gRFC A54's codes; keys lower-cased and validated.
func (cc *ClientConn) callCredentials(ctx context.Context, method string, creds credentials.PerRPCCredentials) (map[string]string, error) {
	if creds.RequireTransportSecurity() && !cc.auth.secure() {
		return nil, errInsecureCredentials
	}
	ctx = credentials.NewContextWithRequestInfo(ctx, credentials.RequestInfo{Method: method, AuthInfo: cc.auth})
	kv, err := creds.GetRequestMetadata(ctx, "lambda:"+method)
	if err != nil {
		if st, ok := status.FromError(err); ok {
			switch st.Code() {
			case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange, codes.DataLoss:
				return nil, status.Errorf(codes.Internal, "transport: received per-RPC creds error with illegal status: %v", err)
			}
			return nil, err
		}
		return nil, status.Errorf(codes.Internal, "transport: per-RPC creds failed due to error: %v", err)
	}
	out := make(map[string]string, len(kv))
	for k, v := range kv {
		k = strings.ToLower(k)
		if err := validatePair(k, v); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		out[k] = v
	}
	return out, nil
}

// outgoingMetadata collects the context's outgoing metadata and the per-RPC
// credentials' metadata, validated by grpc-go's rules; reserved keys are
// dropped when the envelope is written, as grpc-go drops them.
func (cc *ClientConn) outgoingMetadata(ctx context.Context, method string, creds credentials.PerRPCCredentials) (metadata.MD, error) {
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	if err := validateMetadata(md); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if creds == nil {
		return md, nil
	}
	kv, err := cc.callCredentials(ctx, method, creds)
	if err != nil {
		return nil, err
	}
	if len(kv) > 0 && md == nil {
		md = make(metadata.MD, len(kv))
	}
	for k, v := range kv {
		md.Append(k, v)
	}
	return md, nil
}

// addSecureEndpointGuard installs secureEndpointGuard last in the Finalize
// step, after the SDK has resolved the endpoint (ResolveEndpointV2,
// disableHTTPS). It is part of the SDK options of a call whose credentials
// require transport security.
func addSecureEndpointGuard(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("protoc-gen-go-lambda/SecureCredentialsGuard", secureEndpointGuard), middleware.After)
}

// secureEndpointGuard refuses to send a request that carries secure
// credentials anywhere but to an HTTPS endpoint: the ClientConn's reading of
// its Invoker can be wrong (a wrapper around a *lambda.Client, a custom
// endpoint resolver); the request's URL cannot.
func secureEndpointGuard(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, errInsecureCredentials
	}
	return next.HandleFinalize(ctx, in)
}

// isInsecureCredentialsError says whether the SDK call failed in
// secureEndpointGuard.
func isInsecureCredentialsError(err error) bool {
	return errors.Is(err, errInsecureCredentials)
}
