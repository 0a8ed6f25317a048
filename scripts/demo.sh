#!/bin/sh
# make demo: previewd's main job on a throwaway PostgreSQL.
#
#   1. initdb + pg_ctl a PostgreSQL on a free loopback port (as the postgres
#      user when run as root), with an admin role that has only CREATEDB
#      and CREATEROLE, as in production;
#   2. start build/previewd against it with a warm pool of 2 databases and
#      a PgBouncer it runs (pooled URLs for the application, direct ones
#      for migrations);
#   3. send a signed GitHub "pull_request opened" webhook for acme/shop#42;
#   4. print the environment JSON and its DATABASE_URL (pooled) and
#      DIRECT_URL, the way CI gets them, and connect with both;
#   5. keep serving until Ctrl-C, then stop everything and delete the
#      temporary directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bin="$top/build/previewd"
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bin" ] || { echo "demo: build/previewd is missing (run make)" >&2; exit 1; }
[ -x "$bindir/initdb" ] || { echo "demo: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rand() { openssl rand -hex "$1"; }

dir=$(mktemp -d /tmp/previewd-demo.XXXXXX)
chmod 755 "$dir"
as_pg=""
if [ "$(id -u)" -eq 0 ]; then
	as_pg="runuser -u postgres --"
	chown postgres "$dir"
fi
pg_port=$(free_port)
http_port=$(free_port)
su_pw=$(rand 16)
admin_pw=$(rand 16)
previewd_pid=""

cleanup() {
	trap - EXIT INT TERM
	echo
	echo "demo: stopping previewd and PostgreSQL"
	[ -n "$previewd_pid" ] && kill "$previewd_pid" 2>/dev/null && wait "$previewd_pid" 2>/dev/null || true
	$as_pg "$bindir/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

echo "demo: starting PostgreSQL on 127.0.0.1:$pg_port (data in $dir/pg)"
printf '%s\n' "$su_pw" > "$dir/pwfile"
[ -n "$as_pg" ] && chown postgres "$dir/pwfile"
$as_pg "$bindir/initdb" -D "$dir/pg" -U postgres -A scram-sha-256 --pwfile="$dir/pwfile" \
	-E UTF8 --locale=C >/dev/null
$as_pg "$bindir/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
	-o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
PGPASSWORD=$su_pw psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
	-c "CREATE ROLE previewd LOGIN CREATEDB CREATEROLE PASSWORD '$admin_pw'"

secret=$(rand 16)
ci_token=$(rand 16)
pgb_port=$(free_port)
cat > "$dir/previewd.conf" <<EOF
[server]
listen = 127.0.0.1:$http_port
public_url = http://127.0.0.1:$http_port
state_path = $dir/state.db
secret_key = $(rand 32)
admin_token = $(rand 16)
ci_token = $ci_token
workers = 2

[postgres]
admin_url = postgresql://previewd:$admin_pw@127.0.0.1:$pg_port/postgres
pool_size = 2

[pgbouncer]
mode = managed
listen = 127.0.0.1:$pgb_port
config_dir = $dir/pgbouncer

[github]
webhook_secret = $secret

[repo:acme/shop]
ttl = 72h
EOF

echo "demo: starting previewd on http://127.0.0.1:$http_port (log: $dir/previewd.log)"
"$bin" serve --config "$dir/previewd.conf" >"$dir/previewd.log" 2>&1 &
previewd_pid=$!
i=0
until curl -fs "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$previewd_pid" 2>/dev/null; then
		echo "demo: previewd did not start:" >&2
		cat "$dir/previewd.log" >&2
		exit 1
	fi
	sleep 0.05
done

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(cat <<EOF
{"action":"opened","number":42,"pull_request":{"number":42,"state":"open","title":"Add checkout","updated_at":"$now","head":{"ref":"checkout","sha":"3f786850e387550fdab836ed7e6dc881de23001b","repo":{"full_name":"acme/shop"}},"base":{"ref":"main","repo":{"full_name":"acme/shop"}}},"repository":{"full_name":"acme/shop","private":true},"sender":{"login":"octocat"}}
EOF
)
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
echo
echo "demo: POST /webhooks/github  (pull_request opened, acme/shop#42, signed with the webhook secret)"
curl -sS -w '  -> HTTP %{http_code}\n' -X POST "http://127.0.0.1:$http_port/webhooks/github" \
	-H "Content-Type: application/json" -H "X-GitHub-Event: pull_request" \
	-H "X-GitHub-Delivery: demo-$(rand 8)" -H "X-Hub-Signature-256: sha256=$sig" \
	--data-binary "$body"

api="http://127.0.0.1:$http_port/api/v1/repos/acme/shop/pulls/42/environment"
echo
echo "demo: GET $api?wait=60"
curl -fsS -H "Authorization: Bearer $ci_token" "$api?wait=60" | python3 -m json.tool
echo
echo "demo: what a CI job appends to \$GITHUB_ENV (format=env):"
curl -fsS -H "Authorization: Bearer $ci_token" "$api?wait=60&format=env" | tee "$dir/env"
url=$(sed -n 's/^DATABASE_URL=//p' "$dir/env")
direct=$(sed -n 's/^DIRECT_URL=//p' "$dir/env")
echo
echo "demo: both URLs work: DATABASE_URL through PgBouncer (port $pgb_port), DIRECT_URL to PostgreSQL:"
psql "$url" -Atc "SELECT 'pooled: connected to ' || current_database() || ' as ' || current_user"
psql "$direct" -Atc "SELECT 'direct: connected to ' || current_database() || ' as ' || current_user"
cat <<EOF

Try it yourself while the demo runs:
  psql '$url'
  curl -H 'Authorization: Bearer $ci_token' '$api'
  tail -f $dir/previewd.log

previewd keeps serving; press Ctrl-C to stop it and remove everything.
EOF
wait "$previewd_pid"
