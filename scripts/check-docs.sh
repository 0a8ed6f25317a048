#!/bin/sh
# Every configuration key in the parser's table (lib/config.c) must be
# documented in README.md, under its section (pgbouncer's docs check is the
# model). Prints the missing ones and exits 1.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
readme="$top/README.md"
status=0

# Lines of the key table look like:  { "server", "listen", K_LISTEN, ...
keys=$(sed -n 's/^[[:space:]]*{ "\([a-z]*\)", "\([a-z_]*\)", K_.*/\1 \2/p' "$top/lib/config.c")
[ -n "$keys" ] || { echo "check-docs: no keys found in lib/config.c" >&2; exit 1; }

echo "$keys" | while read -r section key; do
	case $section in
	repo) heading='### `[repo:' ;;
	*) heading="### \`[$section]\`" ;;
	esac
	# The key must appear as a table row in its section: from the section's
	# heading to the next heading.
	if ! awk -v h="$heading" -v k="| \`$key\` |" '
		/^#/ { inside = (index($0, h) == 1) }
		inside && index($0, k) == 1 { found = 1 }
		END { exit !found }' "$readme"; then
		echo "check-docs: [$section] $key is not documented in README.md" >&2
		exit 1
	fi
done || status=1
[ $status -eq 0 ] && echo "check-docs: all $(echo "$keys" | wc -l) configuration keys documented"
exit $status
