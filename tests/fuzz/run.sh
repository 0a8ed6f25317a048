#!/bin/sh
# Run the libFuzzer targets (make fuzz) or replay the saved findings
# (make fuzz-regressions). Run from the top of the tree; make does.
#
#   sh tests/fuzz/run.sh fuzz BUILD SECONDS JOBS TARGET...
#   sh tests/fuzz/run.sh regressions BUILD TARGET...
#
# fuzz: each target runs SECONDS on its committed seeds
# (tests/fuzz/corpus/TARGET, never written to) plus a scratch corpus
# (BUILD/corpus/TARGET, where new inputs go and which later runs reuse),
# JOBS targets at a time. A crash, leak, sanitizer report, failed
# invariant or an input slower than FUZZ_TIMEOUT seconds fails the target;
# its input is saved under BUILD/artifacts/TARGET/ and its log is
# BUILD/logs/TARGET.log. One summary line per target; exit 1 when any
# failed.
#
# regressions: each file under tests/fuzz/regressions/TARGET/ (but
# .gitkeep and *.md) is run once through the target; exit 1 when any
# crashes.
#
# Nothing here uses the network or a port; it is safe as root.
set -u

here=tests/fuzz
timeout=${FUZZ_TIMEOUT:-25}

# Sanitizer reports must end the run with a non-zero status, leaks too.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

dict_for() {
	case $1 in
	jscan|*_webhook) echo "$here/dict/json.dict" ;;
	*) [ -f "$here/dict/$1.dict" ] && echo "$here/dict/$1.dict" ;;
	esac
}

# The last value of a libFuzzer status field ("cov: 123") in a log.
field() {
	grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s/.* $1: \([0-9]*\).*/\1/p"
}

stat_of() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# One target, run by xargs below: BUILD SECONDS TARGET.
run_one() {
	build=$1 secs=$2 t=$3
	bin=$build/bin/$t
	mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$build/logs"
	dict=$(dict_for "$t")
	"$bin" -max_total_time="$secs" -detect_leaks=1 -timeout="$timeout" \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$build/artifacts/$t/" ${dict:+-dict="$dict"} \
	    "$build/corpus/$t" "$here/corpus/$t" \
	    </dev/null >"$build/logs/$t.log" 2>&1
	echo $? >"$build/logs/$t.rc"
}

# A failed run's report: from its first line, the frames that are not
# libFuzzer's or libc's, at most 16 lines, and the SUMMARY line.
report() {
	awk '
	/^==[0-9]+==(ERROR|WARNING)|^fuzz invariant failed|ERROR: libFuzzer|runtime error:|^ALARM/ { on = 1 }
	/^SUMMARY:/ { print "    " $0; exit }
	on && n < 16 && !/fuzzer::|__sanitizer|libc_start|in _start|in main |libc\.so|pthread_kill|raise |in abort |rudimentary|Combine libFuzzer|^ *$/ {
		print "    " $0; n++
	}' "$1"
}

summary() {
	build=$1 t=$2
	log=$build/logs/$t.log
	rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 127)
	runs=$(stat_of number_of_executed_units "$log")
	eps=$(stat_of average_exec_per_sec "$log")
	rss=$(stat_of peak_rss_mb "$log")
	if [ "$rc" = 0 ]; then status=ok; else status=FAIL; fi
	printf '%-18s %-4s runs %10s  exec/s %7s  cov %5s  ft %6s  corpus %5s  rss %5s MB\n' \
	    "$t" "$status" "${runs:-?}" "${eps:-?}" "$(field cov "$log")" \
	    "$(field ft "$log")" "$(field corp "$log")" "${rss:-?}"
	if [ "$rc" != 0 ]; then
		unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "    exit $rc; input: ${unit:-none saved}; log: $log"
		report "$log"
		return 1
	fi
	return 0
}

mode=${1:-}
case $mode in
one)
	run_one "$2" "$3" "$4"
	;;
fuzz)
	build=$2 secs=$3 jobs=$4
	shift 4
	echo "fuzzing $# targets for ${secs}s each, $jobs at a time (logs in $build/logs)"
	for t in "$@"; do
		rm -f "$build/logs/$t.rc"
		[ -x "$build/bin/$t" ] || { echo "$build/bin/$t: not built"; exit 1; }
	done
	printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh "$0" one "$build" "$secs" {}
	failed=""
	for t in "$@"; do
		summary "$build" "$t" || failed="$failed $t"
	done
	if [ -n "$failed" ]; then
		echo "fuzz: failed:$failed (to keep an input as a regression test:" \
		    "tests/fuzz/README.md)"
		exit 1
	fi
	;;
regressions)
	build=$2
	shift 2
	failed=""
	mkdir -p "$build/logs"
	for t in "$@"; do
		bin=$build/bin/$t
		[ -x "$bin" ] || { echo "$bin: not built"; exit 1; }
		n=0 bad=0
		list=$(find "$here/regressions/$t" -type f ! -name .gitkeep \
		    ! -name '*.md' 2>/dev/null | LC_ALL=C sort)
		# one name a line (libFuzzer's names have no blanks anyway)
		set -f
		old_ifs=$IFS
		IFS='
'
		for f in $list; do
			IFS=$old_ifs
			n=$((n + 1))
			log=$build/logs/$t.regression.log
			if ! "$bin" -detect_leaks=1 -timeout="$timeout" "$f" \
			    </dev/null >"$log" 2>&1; then
				bad=$((bad + 1))
				echo "$t: $f crashes:"
				report "$log"
			fi
		done
		IFS=$old_ifs
		set +f
		if [ "$bad" -gt 0 ]; then
			printf '%-18s FAIL %d of %d saved input(s) crash\n' "$t" "$bad" "$n"
			failed="$failed $t"
		else
			printf '%-18s ok   %d saved input(s)\n' "$t" "$n"
		fi
	done
	if [ -n "$failed" ]; then
		echo "fuzz-regressions: failed:$failed"
		exit 1
	fi
	;;
*)
	sed -n '2,20s/^# \{0,1\}//p' "$0"
	exit 2
	;;
esac
