# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# lib.sh holds what the scripts under .ci/services share; source it, do not run it.

# port_in_use PORT succeeds when something accepts connections on
# 127.0.0.1:PORT.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_on_free_port START READY starts a server on a random free loopback
# port, trying up to ten ports in case another process takes one first.
# START PORT must start the server in the background and set $pid; READY
# PORT must succeed once the server answers. On success $port and $pid name
# the running server; on failure the last attempt was stopped and it returns 1.
start_on_free_port() {
	local start=$1 ready=$2 attempt
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		if port_in_use "$port"; then
			continue
		fi
		"$start" "$port"
		for _ in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if "$ready" "$port"; then
				return 0
			fi
			sleep 0.1
		done
		# Lost a race for the port, or failed to start: try another port.
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	return 1
}

# debian_binary NAME PACKAGE FILE prints the path of FILE (such as
# ./usr/bin/promtool) taken out of Debian's PACKAGE into a cache directory
# that survives between runs, downloading the package only when the cached
# binary is missing or does not run. The package is fetched alone with
# apt-get download, neither installed (which could start a service) nor
# with its dependencies; the binaries taken this way need only libc.
# Progress goes to stderr.
debian_binary() {
	local name=$1 package=$2 file=$3
	local dir="${DUOSTREAM_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/duostream/tools}/$name"
	local bin="$dir/$(basename "$file")"
	if [ ! -x "$bin" ] || ! "$bin" --version >/dev/null 2>&1; then
		echo "$name: taking $file out of Debian's $package package into $dir" >&2
		mkdir -p "$dir"
		local dl="$DUOSTREAM_CI_TMP/$name-deb"
		rm -rf "$dl"
		mkdir -p "$dl"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		# The scratch directory is root's alone, so apt's _apt user could
		# not write there.
		(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$package") >&2
		dpkg-deb --fsys-tarfile "$dl/${package}"_*.deb | tar -x -O "$file" >"$bin.new"
		chmod +x "$bin.new"
		mv "$bin.new" "$bin"
		rm -rf "$dl"
	fi
	echo "$bin"
}
