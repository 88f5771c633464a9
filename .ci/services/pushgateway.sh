#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# pushgateway.sh starts a throwaway Prometheus Pushgateway on a free loopback
# port for the push tests of the prometheus metrics exporter in ./metrics.
#
# The binary comes from Debian's prometheus-pushgateway package. Only the
# binary is taken out of it (installing the package would start a service),
# and it is kept in a cache directory that survives between runs, so only the
# first run downloads the package (about 4 MB).
#
# The gateway asks for HTTP basic authentication, as a locked-down one does:
# user "duostream", password "duostream-push-test" (its bcrypt hash is below;
# both exist only for these tests). It keeps its metrics in memory. Its pid is
# written to "$DUOSTREAM_CI_TMP/pushgateway.pid", its log to
# "$DUOSTREAM_CI_TMP/pushgateway/pushgateway.log".
#
# Stdout carries only the export lines the tests read:
#   DUOSTREAM_TEST_PUSHGATEWAY_URL       http://127.0.0.1:<port>
#   DUOSTREAM_TEST_PUSHGATEWAY_USER      the basic auth user
#   DUOSTREAM_TEST_PUSHGATEWAY_PASSWORD  its password
# Usage: eval "$(bash .ci/services/pushgateway.sh)"
set -euo pipefail

: "${DUOSTREAM_CI_TMP:?DUOSTREAM_CI_TMP must name a scratch directory}"
mkdir -p "$DUOSTREAM_CI_TMP"

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

bin=$(debian_binary pushgateway prometheus-pushgateway ./usr/bin/prometheus-pushgateway)

state_dir="$DUOSTREAM_CI_TMP/pushgateway"
rm -rf "$state_dir"
mkdir -p "$state_dir"
log="$state_dir/pushgateway.log"
user=duostream
password=duostream-push-test
cat >"$state_dir/web.yml" <<'EOF'
basic_auth_users:
  duostream: $2a$10$0/fiF6cazrUXnfErUQzqzuiJLcZweaJF/ouNBz5okZJRumjMC81/e
EOF

start_pushgateway() {
	nohup "$bin" --web.listen-address="127.0.0.1:$1" --web.config.file="$state_dir/web.yml" \
		</dev/null >"$log" 2>&1 &
	pid=$!
}
# Any HTTP answer, 401 included, means it is up.
pushgateway_ready() { curl -s -o /dev/null "http://127.0.0.1:$1/-/ready"; }

if ! start_on_free_port start_pushgateway pushgateway_ready; then
	echo "pushgateway.sh: the Pushgateway did not start; last log lines:" >&2
	tail -n 20 "$log" >&2 || true
	exit 1
fi
if [ "$(curl -s -o /dev/null -w '%{http_code}' -u "$user:$password" "http://127.0.0.1:$port/-/ready")" != 200 ]; then
	echo "pushgateway.sh: the Pushgateway does not accept the test credentials; last log lines:" >&2
	tail -n 20 "$log" >&2 || true
	exit 1
fi

echo "$pid" >"$DUOSTREAM_CI_TMP/pushgateway.pid"
echo "pushgateway.sh: $("$bin" --version 2>&1 | head -n 1) pid $pid on 127.0.0.1:$port" >&2
echo "export DUOSTREAM_TEST_PUSHGATEWAY_URL=http://127.0.0.1:$port"
echo "export DUOSTREAM_TEST_PUSHGATEWAY_USER=$user"
echo "export DUOSTREAM_TEST_PUSHGATEWAY_PASSWORD=$password"
