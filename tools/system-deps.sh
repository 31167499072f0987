#!/bin/sh
# The system programs the tests run for real: Chromium (the app in a browser), nginx (the
# reverse proxy in front of the app and the connector) and redis-server (shared state).
# Installed with apt-get when missing and run as root; otherwise one line says what to do.
# Their services are never started: the tests start their own instances on free ports.
set -eu

missing=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have chromium || missing="$missing chromium fonts-dejavu-core"
have nginx || missing="$missing nginx"
have redis-server || missing="$missing redis-server"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing system packages:$missing; install them with: sudo apt-get install$missing" >&2
    exit 1
fi

# Debian starts a package's service on install unless policy-rc.d says no (exit 101).
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
[ -n "$made_policy" ] && rm -f "$policy"
exit 0
