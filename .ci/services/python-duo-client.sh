#!/usr/bin/env bash
# Copyright 2026 The duostream authors. Licensed under the MIT licence.
#
# python-duo-client.sh installs Duo's official Python client (Debian package
# python3-duo-client), against which duoapi's signatures are cross-checked.
# Stdout carries only the export line the tests read:
#   DUOSTREAM_TEST_PYTHON  the Python interpreter that imports duo_client
set -euo pipefail

py=/usr/bin/python3
if ! "$py" -c 'import duo_client' >/dev/null 2>&1; then
	echo "python-duo-client.sh: installing python3-duo-client" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends python3-duo-client >&2
fi
echo "python-duo-client.sh: duo_client $("$py" -c 'import duo_client; print(duo_client.__version__)')" >&2
echo "export DUOSTREAM_TEST_PYTHON=$py"
