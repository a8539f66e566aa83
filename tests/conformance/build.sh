#!/bin/sh
# Build the OCI distribution-spec conformance suite (v1.1.1) outside the project tree,
# over Debian's Go packages (GOPATH mode: no module download).
#
#   tests/conformance/build.sh DIST_SPEC_CLONE REGGIE_CLONE [OUT_DIR]
#
# DIST_SPEC_CLONE: a git clone of opencontainers/distribution-spec (tag v1.1.1 is
# checked out into the build folder); REGGIE_CLONE: one of bloodorangeio/reggie (tag
# v0.6.1), the suite's HTTP client, which Debian does not package. OUT_DIR defaults
# to ../ext/distribution-spec beside the repository; the binary is OUT_DIR/conformance.test,
# where tests/conformance/run.py looks for it (or set OCI_CONFORMANCE_BIN).
#
# Debian packages: golang-1.23-go (bookworm-backports), golang-github-onsi-ginkgo-v2-dev and
# golang-gomega-dev (bookworm-backports), golang-github-google-uuid-dev,
# golang-github-opencontainers-go-digest-dev, golang-github-go-resty-resty-dev,
# golang-github-asaskevich-govalidator-dev, golang-github-mitchellh-mapstructure-dev.
set -eu
spec=$(cd "$1" && pwd); reggie=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${3:-$here/../ext/distribution-spec}
mkdir -p "$out"; out=$(cd "$out" && pwd)
gopath=$out/gopath
rm -rf "$gopath"
mkdir -p "$gopath/src/github.com/opencontainers" "$gopath/src/github.com/bloodorangeio"
git clone -q "$spec" "$gopath/src/github.com/opencontainers/distribution-spec"
git -C "$gopath/src/github.com/opencontainers/distribution-spec" checkout -q v1.1.1
git clone -q "$reggie" "$gopath/src/github.com/bloodorangeio/reggie"
git -C "$gopath/src/github.com/bloodorangeio/reggie" checkout -q v0.6.1
go=/usr/lib/go-1.23/bin/go
[ -x "$go" ] || go=go
cd "$gopath/src/github.com/opencontainers/distribution-spec/conformance"
GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOCACHE="$out/gocache" \
    "$go" test -c -o "$out/conformance.test" .
echo "built $out/conformance.test"
