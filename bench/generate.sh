#!/usr/bin/env bash
# Regenerates gen/ from proto/ with plain protoc and the pinned plugins.
# Needs protoc (Debian: apt-get install protobuf-compiler, which also ships the
# well-known types under /usr/include) and Go. Run from anywhere.
set -euo pipefail

PROTOC_INCLUDE=${PROTOC_INCLUDE:-/usr/include}

cd "$(dirname "$0")"
# Every pinned version lives in the repository's tools.env.
# shellcheck source=../tools.env
. ../tools.env

# Install the plugins into a throw-away directory so that exactly these
# versions are used, whatever else is on PATH.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
GOBIN=$bin go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
GOBIN=$bin go install "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@${PROTOC_GEN_GRPC_GATEWAY_VERSION}"
GOBIN=$bin go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@${PROTOC_GEN_CONNECT_GO_VERSION}"
# protoc-gen-go-lambda itself, from this checkout.
(cd .. && GOBIN=$bin go install ./cmd/protoc-gen-go-lambda)

rm -rf gen
mkdir gen
PATH="$bin:$PATH" protoc \
  -I proto -I "$PROTOC_INCLUDE" \
  --go_out=gen --go_opt=paths=source_relative \
  --go-grpc_out=gen --go-grpc_opt=paths=source_relative \
  --grpc-gateway_out=gen --grpc-gateway_opt=paths=source_relative \
  --connect-go_out=gen --connect-go_opt=paths=source_relative,simple=true \
  --go-lambda_out=gen --go-lambda_opt=paths=source_relative \
  proto/bench/v1/bench.proto
