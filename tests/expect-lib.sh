# expect-lib.sh - skips that are seen, and that CI refuses where they must
# not happen (sourced by tests/lib.sh and tests/provider-lib.sh, after their
# fail()).
#
# A test skipped as a whole exits 77 (automake's SKIP).  A part of a test
# that cannot run here (a tool missing) calls skip_part: the rest runs, and
# the test ends SKIP (exit 77) rather than PASS, so that the summary counts
# it.  P11CA_EXPECT_RUN names a file (.ci/run sets tests/expected-to-run)
# listing, one a line, the tests ("cert") and parts ("cert/json") that must
# run: skipping one of those fails instead.
TEST_NAME=$(basename "$0" .sh)
SKIPPED_PARTS=""

# expected_to_run NAME: NAME is listed in $P11CA_EXPECT_RUN
expected_to_run() {
	[ -n "${P11CA_EXPECT_RUN:-}" ] || return 1
	[ -r "$P11CA_EXPECT_RUN" ] || fail "P11CA_EXPECT_RUN: cannot read $P11CA_EXPECT_RUN"
	grep -qxF -- "$1" "$P11CA_EXPECT_RUN"
}

# skip_check REASON: fails when this test may not be skipped (before exit 77)
skip_check() {
	if expected_to_run "$TEST_NAME"; then
		fail "$TEST_NAME was skipped ($*), but $P11CA_EXPECT_RUN expects it to run"
	fi
	return 0
}

# skip_part PART REASON: PART of this test does not run; the test goes on
skip_part() {
	if expected_to_run "$TEST_NAME/$1"; then
		fail "$TEST_NAME/$1 was skipped ($2), but $P11CA_EXPECT_RUN expects it to run"
	fi
	echo "SKIP: $TEST_NAME/$1: $2" >&2
	SKIPPED_PARTS="$SKIPPED_PARTS $1"
}

# parts_skipped: whether a part was skipped (the test then ends with 77)
parts_skipped() {
	[ -n "$SKIPPED_PARTS" ]
}
