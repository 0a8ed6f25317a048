#!/bin/sh
# previewd-wait.sh: get a database from previewd in a CI job.
#
#   previewd-wait.sh pr REPO NUMBER [--provider github|gitlab] [--sha SHA]
#   previewd-wait.sh create NAME [--engine E] [--ttl T] [--blueprint B]
#                               [--key IDEMPOTENCY_KEY] [--id-file FILE]
#   previewd-wait.sh delete ID
#
# Options for all: [--timeout SECONDS] [--output FILE] [--format env|shell]
# [--mask].
#
# pr      waits for the pull request's (merge request's) own database and
#         prints DATABASE_URL=... . With --sha, waits until previewd has
#         applied that commit (its migrations included): an answer about
#         an older commit is not the one this job tests.
# create  creates a database for this CI run (POST /api/v1/databases) and
#         prints DATABASE_URL=... and PREVIEWD_DATABASE_ID=... . The same
#         --key with the same request gets the same database back (for 24
#         hours), so a retried job step does not make a second one; without
#         --key a random one is used, which makes this script's own retries
#         safe. --id-file FILE gets the id as soon as previewd answers, ready
#         or not, for a cleanup step.
# delete  asks previewd to drop a database made by create.
#
# --output FILE   append the lines to FILE (e.g. "$GITHUB_ENV") instead of
#                 printing them
# --format shell  print  export NAME='value'  lines, for eval
# --mask          print GitHub Actions' ::add-mask:: commands for the
#                 password and the URL (needs --output: stdout is the log)
# --timeout S     give up after S seconds in all (default 120)
#
# Environment: PREVIEWD_URL (or PREVIEWD), e.g. https://previewd.example.com;
# PREVIEWD_TOKEN (or PREVIEWD_CI_TOKEN): previewd's ci_token (a repository's
# own ci_token works for pr only).
#
# Exit 0 with the lines printed; otherwise 1 (2 for a usage error) with the
# reason on stderr. The token is never printed, and is not on curl's
# command line either (other users of the machine can read that); the
# password only appears in the DATABASE_URL line. Needs curl; uses jq when
# it is installed and awk otherwise.
set -eu
LC_ALL=C
export LC_ALL
umask 077

prog=previewd-wait
MAX_WAIT=300            # previewd's longest ?wait=
ATTEMPTS=5              # tries per request when previewd cannot be reached

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

usage() {
	cat >&2 <<'EOF'
usage: previewd-wait.sh pr REPO NUMBER [--provider github|gitlab] [--sha SHA]
       previewd-wait.sh create NAME [--engine E] [--ttl T] [--blueprint B]
                                    [--key KEY] [--id-file FILE]
       previewd-wait.sh delete ID
options: [--timeout SECONDS] [--output FILE] [--format env|shell] [--mask]
environment: PREVIEWD_URL, PREVIEWD_TOKEN (or PREVIEWD_CI_TOKEN)
EOF
	exit 2
}

bad_usage() {
	printf '%s: %s\n' "$prog" "$*" >&2
	usage
}

now() {
	date +%s
}

# --- JSON -------------------------------------------------------------------

# jget FILE PATH: the string or number at PATH (keys joined with dots, e.g.
# data.status) of the JSON in FILE; empty when absent, null, another type,
# or when FILE is not JSON.
if command -v jq >/dev/null 2>&1; then
	jget() {
		jq -r --arg p "$2" 'getpath($p | split(".")) |
		    select(type == "string" or type == "number")' "$1" \
		    2>/dev/null | head -n 1 || true
	}
else
	# A small JSON reader: walks the whole document, so a key is only
	# found where it is (not inside a string, not at another depth).
	jget() {
		awk -v want="$2" '
		{ buf = buf $0 "\n" }
		END {
			n = length(buf); pos = 1; found = 0
			if (!value("")) exit 0
		}
		function ws(   c) {
			while (pos <= n) {
				c = substr(buf, pos, 1)
				if (c != " " && c != "\t" && c != "\n" && c != "\r")
					break
				pos++
			}
		}
		function put(path, v) {
			if (path == want && !found) {
				printf "%s\n", v
				found = 1
			}
		}
		function value(path,   c, k, i, lit) {
			ws()
			if (pos > n)
				return 0
			c = substr(buf, pos, 1)
			if (c == "{" || c == "[") {
				pos++
				ws()
				if (substr(buf, pos, 1) == (c == "{" ? "}" : "]")) {
					pos++
					return 1
				}
				for (i = 0; ; i++) {
					if (c == "{") {
						ws()
						if (substr(buf, pos, 1) != "\"" || !str())
							return 0
						k = s
						ws()
						if (substr(buf, pos, 1) != ":")
							return 0
						pos++
					} else
						k = i
					if (!value(path == "" ? k : path "." k))
						return 0
					ws()
					lit = substr(buf, pos, 1)
					pos++
					if (lit == (c == "{" ? "}" : "]"))
						return 1
					if (lit != ",")
						return 0
				}
			}
			if (c == "\"") {
				if (!str())
					return 0
				put(path, s)
				return 1
			}
			lit = ""
			while (pos <= n && index("+-.0123456789Eaeflnrstu",
			    substr(buf, pos, 1)) > 0) {
				lit = lit substr(buf, pos, 1)
				pos++
			}
			if (lit == "")
				return 0
			if (lit ~ /^-?[0-9]/)
				put(path, lit)
			return 1
		}
		# The string at pos (its opening quote), decoded, into s.
		function str(   c, e) {
			pos++
			s = ""
			while (pos <= n) {
				c = substr(buf, pos, 1)
				pos++
				if (c == "\"")
					return 1
				if (c != "\\") {
					s = s c
					continue
				}
				e = substr(buf, pos, 1)
				pos++
				if (e == "n") s = s "\n"
				else if (e == "t") s = s "\t"
				else if (e == "r") s = s "\r"
				else if (e == "b") s = s "\b"
				else if (e == "f") s = s "\f"
				else if (e == "u") {
					s = s uchar(substr(buf, pos, 4))
					pos += 4
				} else
					s = s e
			}
			return 0
		}
		# \uXXXX: ASCII as itself; anything else stays escaped.
		function uchar(h,   i, v, d) {
			v = 0
			for (i = 1; i <= 4; i++) {
				d = index("0123456789abcdef", tolower(substr(h, i, 1)))
				if (d == 0)
					return "\\u" h
				v = v * 16 + d - 1
			}
			if (v >= 1 && v < 128)
				return sprintf("%c", v)
			return "\\u" h
		}
		' "$1" 2>/dev/null || true
	}
fi

# The API's error message ("code: message"), or the start of whatever
# else the body holds (a proxy's error page).
api_message() {
	m=$(jget "$tmp/body" error.message)
	c=$(jget "$tmp/body" error.code)
	if [ -n "$m" ]; then
		printf '%s%s' "${c:+$c: }" "$m"
	elif [ -s "$tmp/body" ]; then
		printf '%s' "$(dd bs=200 count=1 <"$tmp/body" 2>/dev/null |
		    tr -c '[:print:]' ' ')"
	else
		printf '(empty answer)'
	fi
}

# A JSON string literal for a value from the command line (checked for
# control characters by the caller).
json_string() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# --- HTTP -------------------------------------------------------------------

# request METHOD PATH MAX_TIME [BODY_FILE]: sets code (the HTTP status) and
# leaves the answer in $tmp/body. Connection failures and 502/503/504 are
# retried (ATTEMPTS times, within the deadline); anything else is returned.
request() {
	r_try=0
	r_delay=1
	while :; do
		r_try=$((r_try + 1))
		r_rc=0
		if [ $# -ge 4 ]; then
			code=$(curl -sS -X "$1" -o "$tmp/body" -w '%{http_code}' \
			    -H "@$tmp/headers" -H 'Content-Type: application/json' \
			    --data-binary "@$4" --connect-timeout 10 \
			    --max-time "$3" "$base$2" 2>"$tmp/err") || r_rc=$?
		else
			code=$(curl -sS -X "$1" -o "$tmp/body" -w '%{http_code}' \
			    -H "@$tmp/headers" --connect-timeout 10 \
			    --max-time "$3" "$base$2" 2>"$tmp/err") || r_rc=$?
		fi
		if [ "$r_rc" -eq 0 ]; then
			case $code in
			502|503|504) r_why="previewd answered $code: $(api_message)" ;;
			*) return 0 ;;
			esac
		else
			case $r_rc in
			5|6|7|28|35|52|55|56)
				r_why=$(sed -n '1s/^curl: //p' "$tmp/err") ;;
			*)
				die "curl failed (exit $r_rc): $(sed -n '1s/^curl: //p' "$tmp/err")" ;;
			esac
		fi
		if [ "$r_try" -ge "$ATTEMPTS" ] ||
		    [ $(($(now) + r_delay)) -ge "$deadline" ]; then
			die "cannot reach previewd at $base after $r_try attempt(s): $r_why"
		fi
		printf '%s: %s; retrying in %ss\n' "$prog" "$r_why" "$r_delay" >&2
		sleep "$r_delay"
		r_delay=$((r_delay * 2))
	done
}

# How long the next long poll may last: what is left, at most MAX_WAIT.
wait_left() {
	w=$((deadline - $(now)))
	[ "$w" -gt "$MAX_WAIT" ] && w=$MAX_WAIT
	[ "$w" -lt 0 ] && w=0
	return 0
}

refused() {
	case $code in
	401) die "previewd refused the token (401): check PREVIEWD_TOKEN or PREVIEWD_CI_TOKEN" ;;
	*) die "previewd answered $code: $(api_message)" ;;
	esac
}

# --- output -----------------------------------------------------------------

# emit NAME=VALUE...: the result lines, to --output or stdout.
emit() {
	for kv in "$@"; do
		v=${kv#*=}
		case $v in
		*[[:space:]\'\"\\]*) die "unexpected characters in ${kv%%=*} from previewd" ;;
		esac
	done
	if [ -n "$mask" ]; then
		# Before anything else is written: GitHub masks from then on.
		pw=${url#*://}
		pw=${pw%%@*}
		case $pw in
		*:*) printf '::add-mask::%s\n' "${pw#*:}" ;;
		esac
		printf '::add-mask::%s\n' "$url"
	fi
	for kv in "$@"; do
		if [ "$format" = shell ]; then
			printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
		else
			printf '%s\n' "$kv"
		fi
	done >"$tmp/out"
	if [ -n "$output" ]; then
		cat "$tmp/out" >>"$output"
	else
		cat "$tmp/out"
	fi
}

# --- commands ---------------------------------------------------------------

cmd_pr() {
	what="$repo#$number"
	[ "$provider" = gitlab ] && what="$repo!$number"
	path="/api/v1/repos/$repo/pulls/$number/environment?provider=$provider"
	last=''
	while :; do
		wait_left
		# At least one request, however short the timeout.
		if [ "$w" -le 0 ] && [ -n "$last" ]; then
			die "gave up after ${timeout}s: $last"
		fi
		request GET "$path&wait=$w" $((w + 30))
		case $code in
		200) ;;
		404)
			last="$(api_message) (did previewd get the webhook? does it have a [repo:$repo] section?)"
			continue ;;
		*) refused ;;
		esac
		status=$(jget "$tmp/body" status)
		head=$(jget "$tmp/body" head_sha)
		err=$(jget "$tmp/body" error)
		name=$(jget "$tmp/body" name)
		at_sha=
		case $head in
		"$sha"*) at_sha=1 ;;
		esac
		if [ -n "$at_sha" ]; then
			# A delete asked for but not done yet: still "ready",
			# with no expiry. Its URL would not work for long.
			if [ "$status" = ready ] &&
			    [ -z "$(jget "$tmp/body" expires_at)" ]; then
				die "$what: environment $name is being deleted${err:+: $err}"
			fi
			case $status in
			ready)
				url=$(jget "$tmp/body" database_url)
				[ -n "$url" ] || die "previewd said ready without a database_url"
				printf '%s: %s: %s is ready (database %s on %s:%s%s)\n' \
				    "$prog" "$what" "$name" "$(jget "$tmp/body" database)" \
				    "$(jget "$tmp/body" host)" "$(jget "$tmp/body" port)" \
				    "${head:+, commit $head}" >&2
				emit "DATABASE_URL=$url"
				return 0 ;;
			failed|deleted)
				die "$what: environment $name is $status${err:+: $err}" ;;
			esac
			last="$what: environment $name is still $status${err:+ ($err)}"
		else
			last="$what: environment $name is $status at ${head:-no commit yet}, not yet at $sha"
			case $status in
			ready|failed|deleted)
				# Settled at another commit: the long poll would
				# answer at once, so wait for the push between polls.
				[ $((deadline - $(now))) -gt 1 ] && sleep 1 ;;
			esac
		fi
	done
}

# db_answer: after a 200/201 with a database, decide; 0 when ready.
db_answer() {
	id=$(jget "$tmp/body" data.id)
	status=$(jget "$tmp/body" data.status)
	err=$(jget "$tmp/body" data.error)
	case $id in
	''|*[!A-Za-z0-9_-]*) die "unexpected answer from previewd ($code): $(api_message)" ;;
	esac
	if [ -n "$id_file" ] && [ -z "$id_saved" ]; then
		printf '%s\n' "$id" >"$id_file" ||
		    die "cannot write the id to $id_file"
		id_saved=1
	fi
	if [ "$status" = ready ] && [ -z "$(jget "$tmp/body" data.expires_at)" ]; then
		status="being deleted"      # asked for, not done yet
	fi
	case $status in
	ready)
		url=$(jget "$tmp/body" data.connection_string)
		[ -n "$url" ] || die "previewd said ready without a connection_string"
		printf '%s: database %s (%s) is ready (database %s on %s:%s, expires %s)\n' \
		    "$prog" "$name" "$id" "$(jget "$tmp/body" data.database)" \
		    "$(jget "$tmp/body" data.host)" "$(jget "$tmp/body" data.port)" \
		    "$(jget "$tmp/body" data.expires_at)" >&2
		emit "DATABASE_URL=$url" "PREVIEWD_DATABASE_ID=$id"
		return 0 ;;
	failed|deleted|deleting|"being deleted")
		hint=
		if [ "$code" = 200 ] && [ -n "$key" ] && [ "$status" != failed ]; then
			hint=" (previewd answered for an earlier request with this Idempotency-Key; a new run needs a new key)"
		fi
		die "database $name ($id) is $status${err:+: $err}$hint" ;;
	esac
	last="database $name ($id) is still $status${err:+ ($err)}; delete it with: previewd-wait.sh delete $id"
	return 1
}

cmd_create() {
	if [ -z "$key" ]; then
		# This script's own retries must not make a second database.
		gen_key=previewd-wait-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	fi
	{
		printf '{"name":%s' "$(json_string "$name" name)"
		[ -n "$engine" ] && printf ',"engine":%s' "$(json_string "$engine" engine)"
		[ -n "$ttl" ] && printf ',"ttl":%s' "$(json_string "$ttl" ttl)"
		[ -n "$blueprint" ] && printf ',"blueprint":%s' "$(json_string "$blueprint" blueprint)"
		printf '}'
	} >"$tmp/request"
	printf 'Idempotency-Key: %s\n' "${key:-$gen_key}" >>"$tmp/headers"
	id_saved=
	wait_left
	request POST "/api/v1/databases?wait=$w" $((w + 30)) "$tmp/request"
	case $code in
	200|201) ;;
	400|404|409|422|429) die "previewd refused the request ($code): $(api_message)" ;;
	*) refused ;;
	esac
	db_answer && return 0
	while :; do
		wait_left
		[ "$w" -gt 0 ] || die "gave up after ${timeout}s: $last"
		request GET "/api/v1/databases/$id?wait=$w" $((w + 30))
		case $code in
		200) ;;
		*) refused ;;
		esac
		db_answer && return 0
	done
}

cmd_delete() {
	request DELETE "/api/v1/databases/$id" 60
	case $code in
	202) printf '%s: database %s: deletion requested\n' "$prog" "$id" >&2 ;;
	404) die "no database $id on previewd: $(api_message)" ;;
	*) refused ;;
	esac
}

# --- main -------------------------------------------------------------------

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
pr)
	[ $# -ge 2 ] || bad_usage "pr needs REPO and NUMBER"
	repo=$1 number=$2
	shift 2 ;;
create)
	[ $# -ge 1 ] || bad_usage "create needs a NAME"
	name=$1
	shift ;;
delete)
	[ $# -ge 1 ] || bad_usage "delete needs an ID"
	id=$1
	shift ;;
-h|--help|help)
	usage ;;
*)
	bad_usage "unknown command: $cmd" ;;
esac

provider=github sha='' engine='' ttl='' blueprint='' key='' id_file=''
timeout=120 output='' format=env mask=''
while [ $# -gt 0 ]; do
	opt=$1
	case $opt in
	--mask) mask=1; shift; continue ;;
	--*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
	--*) [ $# -ge 2 ] || bad_usage "$opt needs a value"; val=$2; shift 2 ;;
	*) bad_usage "unexpected argument: $opt" ;;
	esac
	case $cmd:$opt in
	*:--timeout) timeout=$val ;;
	*:--output) output=$val ;;
	*:--format) format=$val ;;
	pr:--provider) provider=$val ;;
	pr:--sha) sha=$(printf '%s' "$val" | tr 'A-F' 'a-f') ;;
	create:--engine) engine=$val ;;
	create:--ttl) ttl=$val ;;
	create:--blueprint) blueprint=$val ;;
	create:--key) key=$val ;;
	create:--id-file) id_file=$val ;;
	*) bad_usage "unknown option for $cmd: $opt" ;;
	esac
done
case $timeout in
''|*[!0-9]*) bad_usage "--timeout must be a number of seconds" ;;
esac
[ "$timeout" -ge 1 ] || bad_usage "--timeout must be at least 1"
case $format in
env|shell) ;;
*) bad_usage "--format must be env or shell" ;;
esac
if [ -n "$mask" ] && [ -z "$output" ]; then
	bad_usage "--mask needs --output (stdout is the job's log)"
fi

case $cmd in
pr)
	case $repo in
	''|/*|*/|*//*|*[!A-Za-z0-9._/-]*|.|..|./*|../*|*/.|*/..|*/./*|*/../*)
		bad_usage "bad repository: $repo" ;;
	*/*) ;;
	*) bad_usage "repository must be OWNER/NAME (or a GitLab project path): $repo" ;;
	esac
	case $number in
	''|*[!0-9]*|0) bad_usage "bad pull request number: $number" ;;
	esac
	case $sha in
	*[!0-9a-f]*) bad_usage "--sha must be a commit id (hexadecimal)" ;;
	esac
	case $provider in
	github|gitlab) ;;
	*) bad_usage "provider must be github or gitlab" ;;
	esac ;;
create)
	case $key in
	*[!!-~]*) bad_usage "--key must be printable characters without spaces" ;;
	esac
	for v in "$name" "$engine" "$ttl" "$blueprint"; do
		case $v in
		*[[:cntrl:]]*) bad_usage "control characters are not allowed in values" ;;
		esac
	done ;;
delete)
	case $id in
	''|*[!A-Za-z0-9_-]*) bad_usage "bad database id: $id" ;;
	esac ;;
esac

base=${PREVIEWD_URL:-${PREVIEWD:-}}
base=${base%/}
token=${PREVIEWD_TOKEN:-${PREVIEWD_CI_TOKEN:-}}
[ -n "$base" ] || die "PREVIEWD_URL is not set (previewd's address, e.g. https://previewd.example.com)"
[ -n "$token" ] || die "PREVIEWD_TOKEN (or PREVIEWD_CI_TOKEN) is not set or empty (in GitHub Actions, secrets are not given to workflows of pull requests from forks)"
case $token in
*[[:cntrl:]]*) die "the token contains control characters" ;;
esac
command -v curl >/dev/null 2>&1 || die "curl is not installed"

deadline=$(($(now) + timeout))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/previewd-wait.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# The token goes to curl in a file: never on a command line.
printf 'Authorization: Bearer %s\n' "$token" >"$tmp/headers"

case $cmd in
pr) cmd_pr ;;
create) cmd_create ;;
delete) cmd_delete ;;
esac
