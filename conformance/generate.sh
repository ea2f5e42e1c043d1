#!/usr/bin/env bash
# Regenerates conformance/gen from the protos of the connectrpc.com/conformance
# module at CONNECT_CONFORMANCE_VERSION (tools.env), with buf and the pinned
# protoc-gen-go and protoc-gen-go-grpc (scripts/install-tools) and this
# checkout's protoc-gen-go-lambda. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
# shellcheck source=../tools.env
. ./tools.env

# The module's source, from the Go module cache (downloaded outside this
# module, so that go.mod does not change).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$(cd "$tmp" && go mod download -json "connectrpc.com/conformance@${CONNECT_CONFORMANCE_VERSION}" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src/proto" ] || { echo "generate.sh: no proto/ in connectrpc.com/conformance@${CONNECT_CONFORMANCE_VERSION} ($src)" >&2; exit 1; }

rm -rf conformance/gen
# Only what the server under test needs: the service, and the messages the
# test runner and the server exchange on stdin and stdout.
buf generate --template conformance/buf.gen.yaml "$src/proto" \
	--path "$src/proto/connectrpc/conformance/v1/service.proto" \
	--path "$src/proto/connectrpc/conformance/v1/config.proto" \
	--path "$src/proto/connectrpc/conformance/v1/server_compat.proto"
