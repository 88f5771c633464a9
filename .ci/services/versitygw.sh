#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# versitygw.sh starts a Versity S3 gateway (posix backend, SigV4 auth) on a
# free loopback port for the aws_s3 output integration tests in ./output.
#
# The gateway is a Go program: it is installed from the Go module proxy as a
# tool binary (it is not a go.mod dependency of duostream) into a cache
# directory that survives between runs, so only the first run pays for the
# build (about 45 s on 2 cores). The server runs in the background; its pid is
# written to "$DUOSTREAM_CI_TMP/versitygw.pid" and its log to
# "$DUOSTREAM_CI_TMP/versitygw/versitygw.log".
#
# Stdout carries only the export lines the tests read:
#   DUOSTREAM_TEST_S3_ENDPOINT, DUOSTREAM_TEST_S3_ACCESS_KEY,
#   DUOSTREAM_TEST_S3_SECRET_KEY, DUOSTREAM_TEST_S3_BUCKET
# Usage: eval "$(bash .ci/services/versitygw.sh)"
set -euo pipefail

VERSITYGW_VERSION="v1.8.0"

: "${DUOSTREAM_CI_TMP:?DUOSTREAM_CI_TMP must name a scratch directory}"
mkdir -p "$DUOSTREAM_CI_TMP"

tools_dir="${DUOSTREAM_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duostream/tools}/versitygw-${VERSITYGW_VERSION}"
bin="$tools_dir/versitygw"
if [ ! -x "$bin" ]; then
	mkdir -p "$tools_dir"
	echo "versitygw.sh: installing versitygw ${VERSITYGW_VERSION} into $tools_dir" >&2
	# Build outside any module so duostream's go.mod is neither read nor touched.
	(cd "$DUOSTREAM_CI_TMP" && GOFLAGS= GOBIN="$tools_dir" go install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}") >&2
fi

state_dir="$DUOSTREAM_CI_TMP/versitygw"
rm -rf "$state_dir"
mkdir -p "$state_dir/data" "$state_dir/sidecar"
log="$state_dir/versitygw.log"
pidfile="$DUOSTREAM_CI_TMP/versitygw.pid"

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
access_key="duostream$(rand_hex 6)"
secret_key="$(rand_hex 20)"
bucket="duostream-test"

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

start_versitygw() {
	# The credentials go through the environment, not argv, so they do not
	# show up in ps output.
	ROOT_ACCESS_KEY="$access_key" ROOT_SECRET_KEY="$secret_key" \
		nohup "$bin" --port "127.0.0.1:$1" --region us-east-1 --quiet \
		posix --sidecar "$state_dir/sidecar" "$state_dir/data" >"$log" 2>&1 </dev/null &
	pid=$!
}

if ! start_on_free_port start_versitygw port_in_use; then
	echo "versitygw.sh: versitygw did not start; log follows" >&2
	cat "$log" >&2 || true
	exit 1
fi
echo "$pid" >"$pidfile"
echo "versitygw.sh: versitygw ${VERSITYGW_VERSION} pid $pid listening on 127.0.0.1:$port" >&2

echo "export DUOSTREAM_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
echo "export DUOSTREAM_TEST_S3_ACCESS_KEY=$access_key"
echo "export DUOSTREAM_TEST_S3_SECRET_KEY=$secret_key"
echo "export DUOSTREAM_TEST_S3_BUCKET=$bucket"
