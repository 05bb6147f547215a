#!/bin/sh
# Install Debian's PostgreSQL server binaries (initdb, pg_ctl), used by the production
# instance test (energy_platform_tests/test_deploy/test_postgres_instance.py), only when
# they are missing. The test starts its own throwaway cluster; no service is enabled here.
set -eu
for bin_dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin_dir/initdb" ] && [ -x "$bin_dir/pg_ctl" ]; then
        exit 0
    fi
done
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql
