#!/usr/bin/env bash
# Regenerates the checked-in protobuf code (event/apiwatch_event.pb.go) with
# pinned tools, so the output is reproducible: protoc from Debian's
# protobuf-compiler, protoc-gen-go at the version go.mod pins.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "generate: protoc missing; install it: apt-get install -y protobuf-compiler" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
bin="$(pwd)/bin/tools"
mkdir -p "$bin"
version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$version"

PATH="$bin:$PATH" protoc --proto_path=event --go_out=event --go_opt=paths=source_relative event/apiwatch_event.proto
echo "generate: event/apiwatch_event.pb.go (protoc $(protoc --version | cut -d' ' -f2), protoc-gen-go $version)"
