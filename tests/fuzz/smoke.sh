#!/bin/sh
# smoke.sh - `make check`'s short run of each libFuzzer target (tests/fuzz.am)
# over its committed seed corpus: FUZZ_RUNS runs (2000) or at most
# FUZZ_TIME seconds (60) each.  New inputs go to a scratch directory, never
# into the source tree.  Passes without the fuzzers only when configure
# found no clang (or was told --disable-fuzzers); a clang that cannot link
# -fsanitize=fuzzer is a failure.  Longer runs: tests/fuzz/README.md.
#
# FUZZ_TARGETS: the targets (tests/fuzz.am sets them all).  `make fuzz`
# runs this with FUZZ_RUNS=-1 (no limit), FUZZ_TIME per target,
# FUZZ_WORK (a directory kept for new inputs and crashes) and FUZZ_NICE.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
runs=${FUZZ_RUNS:-2000}
maxtime=${FUZZ_TIME:-60}
targets=${FUZZ_TARGETS:-csr crl cert bundle uri conf index}

case "${FUZZ_STATUS:-}" in
yes) ;;
no-clang)
	echo "PASS: note: configure found no clang, the libFuzzer targets are not built"
	exit 0 ;;
disabled)
	echo "PASS: note: configured with --disable-fuzzers, the libFuzzer targets are not built"
	exit 0 ;;
*)
	echo "FAIL: the libFuzzer targets are not built (configure: '${FUZZ_STATUS:-unknown}'; see config.log)"
	exit 1 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
work=$tmp
if [ -n "${FUZZ_WORK:-}" ]; then
	mkdir -p "$FUZZ_WORK" && work=$(cd "$FUZZ_WORK" && pwd) || exit 1
fi
fail=0
for f in $targets; do
	bin="$top_builddir/tests/fuzz/${f}_fuzzer"
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin is missing"
		fail=1
		continue
	fi
	mkdir -p "$work/$f"
	case $f in cert|bundle) maxlen=16384 ;; uri) maxlen=1024 ;; *) maxlen=4096 ;; esac
	start=$(date +%s)
	# `make check` asks ASan for slow full unwinding (tests/Makefile.am): not needed here
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=1 \
		nice -n "${FUZZ_NICE:-0}" "$bin" -runs="$runs" -max_total_time="$maxtime" \
		-max_len="$maxlen" -artifact_prefix="$work/$f-" -print_final_stats=1 \
		"$work/$f" "$top_srcdir/tests/fuzz/corpus/$f" > "$tmp/$f.log" 2>&1
	rc=$?
	[ -n "${FUZZ_WORK:-}" ] && cp "$tmp/$f.log" "$work/$f.log"
	done_line=$(grep -E '^Done [0-9]+ runs' "$tmp/$f.log" | tail -1)
	if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
		echo "PASS: ${f}_fuzzer: $done_line ($(($(date +%s) - start)) s wall);" \
			"$(grep -E "^${f}_fuzzer: " "$tmp/$f.log" | tail -1)"
	else
		echo "FAIL: ${f}_fuzzer (exit status $rc):"
		tail -40 "$tmp/$f.log"
		for a in "$work/$f-"*; do
			[ -f "$a" ] && echo "input: $(od -An -tx1 "$a" | head -20)"
		done
		fail=1
	fi
done
exit $fail
