#!/bin/sh
# Install the Debian packages that building, testing, the demo and the
# benchmark need -- only those that are missing.
#
# Runs at the start of every `make test`, so the common case (everything
# installed) is one dpkg-query call, prints nothing and exits 0.
#
# Works unattended (CI=true, no stdin): apt-get runs non-interactively with
# stdin from /dev/null, and `apt-get update` runs only when something is
# missing.  A failed update+install is retried once (mirrors flap).
#
# Not root and something missing: prints the missing packages and the
# command to run, exits 1.
#
# Installing mariadb-server or postgresql may make Debian's postinst start a
# system server on the default port.  That is harmless: the integration tests
# start their own servers on free loopback ports and never use fixed ones, so
# system services are left alone.
#
# Not listed: node-pg.  Debian 12's node-pg needs node-libpq -> libnode108
# (Debian's Node 18), which cannot be installed next to the NodeSource nodejs
# this machine image ships; a Node client that needs `pg` gets it from npm.
set -u

PACKAGES="
pkg-config gcc make
libcivetweb-dev libcjson-dev libcurl4-openssl-dev libinih-dev libpq-dev
libsqlite3-dev libssl-dev libmariadb-dev libjwt-dev libcmocka-dev
clang libclang-rt-14-dev
python3-pytest python3-psycopg2 python3-pymysql python3-yaml
postgresql postgresql-client mariadb-server mariadb-client pgbouncer
curl jq openssl nodejs wrk chromium
"

# One dpkg-query for all packages; unknown ones print nothing (and make
# dpkg-query exit non-zero, which is expected).  A package counts as present
# only when fully installed ("install ok installed"); half-configured or
# removed-with-config-files ones are installed again.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PACKAGES 2>/dev/null |
	awk '$2 == "install" && $3 == "ok" && $4 == "installed" { printf " %s", $1 }
	     END { print " " }')

missing=""
for p in $PACKAGES; do
	case "$installed" in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done
missing=${missing# }

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends $missing"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: $missing" >&2
	echo "install-deps: run as root:" >&2
	echo "  apt-get update && DEBIAN_FRONTEND=noninteractive $cmd" >&2
	exit 1
fi

echo "install-deps: installing: $missing" >&2

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND
# Wait for a concurrent apt/dpkg (unattended-upgrades) instead of failing.
APT_OPTS="-q -o DPkg::Lock::Timeout=300"

try_install() {
	# shellcheck disable=SC2086
	apt-get $APT_OPTS update </dev/null &&
		apt-get $APT_OPTS install -y --no-install-recommends $missing </dev/null
}

if ! try_install; then
	echo "install-deps: apt-get failed; retrying once" >&2
	if ! try_install; then
		echo "install-deps: could not install: $missing" >&2
		exit 1
	fi
fi
exit 0
