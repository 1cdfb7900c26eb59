# lib.sh - helpers shared by the shell integration tests (sourced, not run).
#
# Every test gets a private work directory (removed on exit), makes its own
# SoftHSM2 tokens there with softhsm-conf/mktoken, and runs the p11ca command
# with its PIN from a file or the environment, never from argv.
# Exit status: 0 pass, 1 fail, 77 skip (automake's convention).
set -eu

: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
: "${top_builddir:=.}"
: "${P11CA:=$top_builddir/p11ca}"
MODULE=${SOFTHSM_MODULE:-softhsm2}
# the tests must not depend on the caller's PIN or OpenSSL setup
unset P11CA_PIN P11CA_SO_PIN P11CA_NEW_PIN P11CA_PIN_FILE P11CA_MODULE P11CA_EMULATE_PSS
unset OPENSSL_CONF OPENSSL_ENGINES

. "$top_srcdir/tests/openssl-cnf.sh"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

. "$top_srcdir/tests/expect-lib.sh"

# skip REASON: the whole test does not run here (exit 77), unless
# $P11CA_EXPECT_RUN says it must
skip() {
	skip_check "$*"
	echo "SKIP: $*" >&2
	exit 77
}

# pass MESSAGE: the test's last line; SKIP (exit 77) when a part was skipped
pass() {
	if parts_skipped; then
		echo "SKIP: $* (skipped:$SKIPPED_PARTS)"
		exit 77
	fi
	echo "PASS: $*"
}

step() {
	echo "--- $*"
}

need_cmd() {
	for c in "$@"; do
		command -v "$c" > /dev/null 2>&1 || skip "$c is not installed"
	done
}

# lib_init NAME: the work directory $WORK, removed when the test exits.
lib_init() {
	[ -x "$P11CA" ] || fail "p11ca not built ($P11CA)"
	need_cmd openssl softhsm2-util
	if [ "$MODULE" != softhsm2 ] && [ ! -r "$MODULE" ]; then
		skip "SoftHSM2 module $MODULE not found"
	fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-$1.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	trap 'exit 1' HUP INT TERM
}

# new_token LABEL: a fresh token in its own SoftHSM2 configuration under
# $WORK/LABEL.  Sets SOFTHSM2_CONF (exported), TOKEN_DIR, TOKEN_URI,
# PIN_FILE and PIN.  Skips when SoftHSM2 is missing.
new_token() {
	_out=$("$top_srcdir/softhsm-conf/mktoken" --dir "$WORK/$1" --label "$1") || {
		_rc=$?
		[ $_rc -eq 77 ] && skip "SoftHSM2 is not installed"
		fail "mktoken exited $_rc"
	}
	eval "$_out"
	TOKEN_DIR=$P11CA_TOKEN_DIR
	TOKEN_URI=$P11CA_TOKEN_URI
	PIN_FILE=$P11CA_PIN_FILE
	PIN=$(cat "$PIN_FILE")
	unset P11CA_TOKEN_DIR P11CA_TOKEN_URI P11CA_PIN_FILE
	[ -n "$PIN" ] || fail "mktoken wrote no PIN"
}

# p11ca GROUP VERB ARGS...: the p11ca command on the test's module.
p11ca() {
	_g=$1 _v=$2
	shift 2
	"$P11CA" "$_g" "$_v" --module "$MODULE" "$@"
}

# run_ok CMD...: runs CMD, output in $WORK/out and $WORK/err; fails
# showing them when CMD does not exit 0.
run_ok() {
	_rc=0
	"$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	if [ $_rc -ne 0 ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "exit $_rc from: $*"
	fi
}

# expect_fail CODE REGEX CMD...: CMD must exit CODE with REGEX (grep -E) on
# stderr.  Output in $WORK/out and $WORK/err.
expect_fail() {
	_want=$1 _re=$2
	shift 2
	_rc=0
	"$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	if [ $_rc -ne "$_want" ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "exit $_rc (want $_want) from: $*"
	fi
	if ! grep -Eq -- "$_re" "$WORK/err"; then
		cat "$WORK/err" >&2
		fail "no '$_re' in the error output of: $*"
	fi
}

# one_line FILE: FILE holds exactly one line.
one_line() {
	[ "$(wc -l < "$1")" -eq 1 ] || {
		cat "$1" >&2
		fail "$1: expected a one-line message"
	}
}

# verify_sig KIND PUBKEY SIG MSG [DIGEST [PSS]]: checks a signature with the
# openssl command.  KIND is rsa, ec or ed25519; PSS: "pss" for RSA-PSS with a
# digest-sized salt.
verify_sig() {
	_kind=$1 _pub=$2 _sig=$3 _msg=$4 _md=${5:-sha256} _pad=${6:-}
	case "$_kind" in
	ed25519)
		openssl pkeyutl -verify -pubin -inkey "$_pub" -rawin -in "$_msg" \
			-sigfile "$_sig" > "$WORK/verify.out" 2>&1
		;;
	*)
		if [ "$_pad" = pss ]; then
			openssl dgst "-$_md" -verify "$_pub" -sigopt rsa_padding_mode:pss \
				-sigopt rsa_pss_saltlen:digest -signature "$_sig" "$_msg" \
				> "$WORK/verify.out" 2>&1
		else
			openssl dgst "-$_md" -verify "$_pub" -signature "$_sig" "$_msg" \
				> "$WORK/verify.out" 2>&1
		fi
		;;
	esac || {
		cat "$WORK/verify.out" >&2
		return 1
	}
	grep -q "Verified OK\|Signature Verified Successfully" "$WORK/verify.out"
}

# expect_verify ...: verify_sig, failing the test when it does not verify.
expect_verify() {
	verify_sig "$@" || fail "signature $3 over $4 does not verify with $2"
}

# expect_no_verify ...: verify_sig must reject the signature.
expect_no_verify() {
	if verify_sig "$@" 2> /dev/null; then
		fail "signature $3 verified over $4 with $2, but should not have"
	fi
}
