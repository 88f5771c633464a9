#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# redis-sentinel.sh starts two throwaway Redis topologies on free loopback
# ports for the redis cache's failover and cluster integration tests in
# ./cache (cache_redis_failover_test.go):
#
#   - a master (requirepass) with one replica (replicaof, masterauth),
#     watched by three sentinels (quorum 2, down-after-milliseconds 1000,
#     failover-timeout 3000, auth-pass); the sentinels need no password;
#   - a Redis Cluster of three masters without replicas, password protected.
#
# redis-server and redis-sentinel come from Debian's packages (installed
# once, idempotently). Nothing is kept on disk beyond the scratch directory
# "$DUOSTREAM_CI_TMP/redis-sentinel" (no RDB snapshots, no AOF; the nodes'
# config files, which the sentinels rewrite, and logs live there). Every
# process runs in the background with its pid in
# "$DUOSTREAM_CI_TMP/redis-sentinel-<role>-<port>.pid"; a node's config file
# names that pid file too, so a node the tests restart writes it again. A
# second run stops the processes of the first before starting afresh.
#
# Stdout carries only the export lines the tests read:
#   DUOSTREAM_TEST_SENTINEL_URL           the sentinels, as Redpanda Connect
#                                         writes them: a comma-separated list
#                                         redis://:<master password>@127.0.0.1:<port>/0,...
#   DUOSTREAM_TEST_SENTINEL_MASTER        the master set's name (mymaster)
#   DUOSTREAM_TEST_REDIS_MASTER_PASSWORD  the password of the master, the
#                                         replica and the cluster nodes
#   DUOSTREAM_TEST_REDIS_CLUSTER_URL      the cluster nodes, as a
#                                         comma-separated list of redis:// URLs
# The tests find the current master through the sentinels and its pid,
# config file and executable through INFO server, so nothing else is needed
# to kill it and start it again as a replica.
#
# Usage: eval "$(bash .ci/services/redis-sentinel.sh)"
set -euo pipefail

: "${DUOSTREAM_CI_TMP:?DUOSTREAM_CI_TMP must name a scratch directory}"
mkdir -p "$DUOSTREAM_CI_TMP"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-sentinel >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "redis-sentinel.sh: installing redis-server and redis-sentinel" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends redis-server redis-sentinel >&2
fi

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

# Stop what an earlier run in the same scratch directory left running.
for f in "$DUOSTREAM_CI_TMP"/redis-sentinel-*.pid; do
	[ -e "$f" ] || continue
	kill "$(cat "$f")" 2>/dev/null || true
	rm -f "$f"
done

state_dir="$DUOSTREAM_CI_TMP/redis-sentinel"
rm -rf "$state_dir"
mkdir -p "$state_dir"

master_name=mymaster
password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export REDISCLI_AUTH="$password" # redis-cli reads it instead of a -a warning

# Absolute paths, so that a node's INFO server names an executable the tests
# can start it again with.
redis_server=$(command -v redis-server)
redis_sentinel=$(command -v redis-sentinel)

pidfile_of() { echo "$DUOSTREAM_CI_TMP/redis-sentinel-$1-$2.pid"; }

# write_node_conf ROLE PORT [EXTRA...] writes a node's config file and sets
# $conf and $log.
write_node_conf() {
	local role=$1 p=$2 dir="$state_dir/$1-$2"
	shift 2
	mkdir -p "$dir"
	conf="$dir/redis.conf"
	log="$dir/redis.log"
	{
		echo "bind 127.0.0.1"
		echo "port $p"
		echo "protected-mode yes"
		echo 'save ""'
		echo "appendonly no"
		echo "dir $dir"
		echo "daemonize no"
		echo "logfile $log"
		echo "pidfile $(pidfile_of "$role" "$p")"
		echo "requirepass $password"
		echo "masterauth $password"
		printf '%s\n' "$@"
	} >"$conf"
}

run_bg() {
	nohup "$@" </dev/null >/dev/null 2>&1 &
	pid=$!
}

start_master() {
	write_node_conf node "$1"
	run_bg "$redis_server" "$conf"
}
start_replica() {
	write_node_conf node "$1" "replicaof 127.0.0.1 $master_port"
	run_bg "$redis_server" "$conf"
}
start_cluster_node() {
	# The cluster bus listens on PORT+10000; a port above 55535 fails to
	# start and start_on_free_port tries another.
	write_node_conf cluster "$1" "cluster-enabled yes" "cluster-config-file $state_dir/cluster-$1/nodes.conf" "cluster-node-timeout 5000"
	run_bg "$redis_server" "$conf"
}
start_sentinel() {
	local dir="$state_dir/sentinel-$1"
	mkdir -p "$dir"
	conf="$dir/sentinel.conf"
	log="$dir/sentinel.log"
	cat >"$conf" <<EOF
bind 127.0.0.1
port $1
daemonize no
dir $dir
logfile $log
pidfile $(pidfile_of sentinel "$1")
sentinel monitor $master_name 127.0.0.1 $master_port 2
sentinel auth-pass $master_name $password
sentinel down-after-milliseconds $master_name 1000
sentinel failover-timeout $master_name 3000
sentinel parallel-syncs $master_name 1
EOF
	run_bg "$redis_sentinel" "$conf"
}

node_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }
sentinel_ready() { [ "$(REDISCLI_AUTH='' redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

# start ROLE START READY starts one process and records its pid.
start() {
	local role=$1
	if ! start_on_free_port "$2" "$3"; then
		echo "redis-sentinel.sh: a $role did not start; last log lines:" >&2
		tail -n 20 "$log" >&2 || true
		exit 1
	fi
	echo "$pid" >"$(pidfile_of "$role" "$port")"
	echo "redis-sentinel.sh: $role pid $pid on 127.0.0.1:$port" >&2
}

# wait_for WHAT CMD... retries CMD for up to 30 seconds.
wait_for() {
	local what=$1
	shift
	for _ in $(seq 1 300); do
		if "$@"; then
			return 0
		fi
		sleep 0.1
	done
	echo "redis-sentinel.sh: timed out waiting for $what" >&2
	exit 1
}

info_field() { redis-cli -h 127.0.0.1 -p "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"; }

# The master, its replica and the sentinels.
start node start_master node_ready
master_port=$port
start node start_replica node_ready
replica_port=$port
replica_synced() { [ "$(info_field "$replica_port" replication master_link_status)" = up ]; }
wait_for "the replica to sync" replica_synced

sentinel_ports=()
for _ in 1 2 3; do
	start sentinel start_sentinel sentinel_ready
	sentinel_ports+=("$port")
done
sentinels_agree() {
	local p fields
	for p in "${sentinel_ports[@]}"; do
		fields=$(REDISCLI_AUTH='' redis-cli -h 127.0.0.1 -p "$p" sentinel master "$master_name" 2>/dev/null | tr -d '\r' | paste -sd' ')
		case " $fields " in *" num-slaves 1 "*) ;; *) return 1 ;; esac
		case " $fields " in *" num-other-sentinels 2 "*) ;; *) return 1 ;; esac
	done
}
wait_for "the sentinels to find the replica and each other" sentinels_agree

# The cluster.
cluster_ports=()
for _ in 1 2 3; do
	start cluster start_cluster_node node_ready
	cluster_ports+=("$port")
done
redis-cli --cluster create "${cluster_ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >&2
cluster_ok() {
	local p
	for p in "${cluster_ports[@]}"; do
		[ "$(redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ] || return 1
	done
}
wait_for "the cluster to be ok" cluster_ok

join_urls() {
	local out="" p
	for p in "$@"; do
		out+="${out:+,}redis://:$password@127.0.0.1:$p/0"
	done
	echo "$out"
}

echo "redis-sentinel.sh: redis $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/'): master 127.0.0.1:$master_port, replica 127.0.0.1:$replica_port, sentinels ${sentinel_ports[*]}, cluster ${cluster_ports[*]}" >&2
echo "export DUOSTREAM_TEST_SENTINEL_URL=$(join_urls "${sentinel_ports[@]}")"
echo "export DUOSTREAM_TEST_SENTINEL_MASTER=$master_name"
echo "export DUOSTREAM_TEST_REDIS_MASTER_PASSWORD=$password"
echo "export DUOSTREAM_TEST_REDIS_CLUSTER_URL=$(join_urls "${cluster_ports[@]}")"
