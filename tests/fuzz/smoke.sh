#!/bin/sh
# smoke.sh - `make check`'s short run of each libFuzzer target (tests/fuzz.am)
# over its committed seed corpus: FUZZ_RUNS runs (2000) or at most
# FUZZ_TIME seconds (60) each.  New inputs go to a scratch directory, never
# into the source tree.  Passes without the fuzzers only when configure
# found no clang (or was told --disable-fuzzers); a clang that cannot link
# -fsanitize=fuzzer is a failure.  Longer runs: tests/fuzz/README.md.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
runs=${FUZZ_RUNS:-2000}
maxtime=${FUZZ_TIME:-60}

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
fail=0
for f in csr crl index; do
	bin="$top_builddir/tests/fuzz/${f}_fuzzer"
	if [ ! -x "$bin" ]; then
		echo "FAIL: $bin is missing"
		fail=1
		continue
	fi
	mkdir "$tmp/$f"
	# `make check` asks ASan for slow full unwinding (tests/Makefile.am): not needed here
	ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=1 \
		"$bin" -runs="$runs" -max_total_time="$maxtime" -max_len=4096 \
		-artifact_prefix="$tmp/$f-" "$tmp/$f" "$top_srcdir/tests/fuzz/corpus/$f" \
		> "$tmp/$f.log" 2>&1
	rc=$?
	done_line=$(grep -E '^Done [0-9]+ runs' "$tmp/$f.log" | tail -1)
	if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
		echo "PASS: ${f}_fuzzer: $done_line; $(grep -E "^${f}_fuzzer: " "$tmp/$f.log" | tail -1)"
	else
		echo "FAIL: ${f}_fuzzer (exit status $rc):"
		tail -40 "$tmp/$f.log"
		for a in "$tmp/$f-"*; do
			[ -f "$a" ] && echo "input: $(od -An -tx1 "$a" | head -20)"
		done
		fail=1
	fi
done
exit $fail
