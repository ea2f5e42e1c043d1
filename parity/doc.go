// Package parity proves that a caller cannot tell the Lambda path from a
// grpc-go server.
//
// Its tests run one table of cases twice, with the same service
// implementation and the same interceptors: once through a real grpc-go
// server and client connected by bufconn, once through the generated Lambda
// client, invoke.ClientConn, lambdatest.Invoker and runtime.Server. The
// outcomes (response message, status with details, header and trailer
// metadata) must be equal, apart from the transport keys listed in
// transportKeys; a case that cannot be equal by design carries its reason and
// a check of the exact difference, and docs/compatibility.md lists them all.
//
// The same table also runs over HTTP (http_test.go: connect-go's Connect and
// gRPC-Web clients through lambdatest's stand-ins for every front end,
// against connect-go speaking gRPC to grpc-go), through the gRPC bridge
// (bridge_test.go), and with stats handlers and OpenTelemetry on both sides
// (stats_test.go); docs/compatibility.md, docs/bridge.md and
// docs/observability.md hold their generated tables. Server-streaming calls
// have their own table (stream_test.go, TestStreamParity: invoke's NewStream
// over lambdatest's InvokeWithResponseStream and runtime.Server.InvokeStream
// against grpc-go's stream, message by message).
//
// The package's non-test code is what the suite needs and other tests may
// reuse: Service, a TestService implementation whose methods are replaceable
// per case.
package parity
