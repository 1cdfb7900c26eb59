# provider-lib.sh - sourced by tests/provider-*.sh (issue 3, section 6).
#
# Gives each test a temporary directory, a fresh SoftHSM2 token, an
# openssl.cnf loading the default and p11ca providers, and helpers.  Every
# output is checked with OpenSSL's default provider only (OPENSSL_CONF=/dev/null).
# The PIN reaches p11ca through p11ca-pin-file or P11CA_PIN, never argv.
#
# Set P11CA_TEST_KEEP=1 to keep the directory of a failed test.
set -eu
: "${top_srcdir:?run through make check}" "${P11CA:?}" "${P11CA_PROVIDER:?}"

test_name=$(basename "$0" .sh)
dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-$test_name.XXXXXX")
bg_pids=""
test_ok=0

cleanup() {
	for p in $bg_pids; do
		kill "$p" 2> /dev/null || true
		wait "$p" 2> /dev/null || true
	done
	if [ "$test_ok" = 1 ] || [ -z "${P11CA_TEST_KEEP:-}" ]; then
		rm -rf "$dir"
	else
		echo "kept $dir" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
. "$top_srcdir/tests/expect-lib.sh"
skip() {
	skip_check "$*"
	echo "SKIP: $*"
	test_ok=1
	exit 77
}
ok() {
	echo "ok - $*"
}
# the last line: all passed, or SKIP (exit 77) when a part was skipped
done_ok() {
	test_ok=1
	if parts_skipped; then
		echo "SKIP: $test_name: skipped:$SKIPPED_PARTS"
		exit 77
	fi
	echo "$test_name: all passed"
}

command -v openssl > /dev/null 2>&1 || skip "no openssl command"
[ -f "$P11CA_PROVIDER" ] || fail "the provider module $P11CA_PROVIDER is not built"
[ -x "$P11CA" ] || fail "the p11ca tool $P11CA is not built"

# The module p11ca and the provider load: the SoftHSM2 path configure found,
# else its p11-kit registry name.
module=${SOFTHSM_MODULE:-softhsm2}

# ---- the token ----
token_env=$("$top_srcdir/softhsm-conf/mktoken" --dir "$dir/token" --label "$test_name") || exit $?
eval "$token_env"
: "${SOFTHSM2_CONF:?}" "${P11CA_TOKEN_URI:?}" "${P11CA_PIN_FILE:?}"
tok=$P11CA_TOKEN_URI
pin_file=$P11CA_PIN_FILE

# ---- openssl configurations ----
. "$top_srcdir/tests/openssl-cnf.sh"
# write_cnf FILE [pin-file|env]: default + p11ca; with "env" the PIN comes
# from P11CA_PIN (exported by the caller) instead of p11ca-pin-file.
write_cnf() {
	_pf=$pin_file
	[ "${2:-pin-file}" != env ] || _pf=""
	openssl_cnf_provider "$P11CA_PROVIDER" "$module" "$_pf" > "$1"
}
cnf=$dir/p11ca.cnf
write_cnf "$cnf"
# the provider must not find its configuration elsewhere
unset P11CA_MODULE P11CA_PIN_FILE P11CA_PIN 2> /dev/null || true

# openssl with the p11ca provider loaded
p11() {
	OPENSSL_CONF=$cnf openssl "$@"
}
# openssl with the default provider only: the independent checker
plain() {
	OPENSSL_CONF=/dev/null openssl "$@"
}

# run WHAT CMD...: CMD must succeed; its output goes to $dir/out (shown on failure)
run() {
	_what=$1
	shift
	if ! "$@" > "$dir/out" 2>&1; then
		sed 's/^/  | /' "$dir/out" >&2
		fail "$_what"
	fi
}
# run_fails WHAT CMD...: CMD must fail; its output goes to $dir/out
run_fails() {
	_what=$1
	shift
	if "$@" > "$dir/out" 2>&1; then
		sed 's/^/  | /' "$dir/out" >&2
		fail "$_what: succeeded but should have failed"
	fi
}
# expect_in FILE PATTERN WHAT: grep -E PATTERN must match in FILE
expect_in() {
	if ! grep -Eq -- "$2" "$1"; then
		sed 's/^/  | /' "$1" >&2
		fail "$3 (no '$2' in the output)"
	fi
}

# csr_verify CSR WHAT: the CSR's self-signature verifies (openssl 3.0's
# req -verify exits 0 even when it does not: the message decides)
csr_verify() {
	run "req -verify: $2" plain req -verify -noout -in "$1"
	expect_in "$dir/out" "self-signature verify OK" "$2: CSR self-signature"
}

# ---- keys ----
# keygen LABEL TYPE [--decrypt]: a key pair on the token; the public key
# p11ca writes is $dir/LABEL.pub, its URI $dir/LABEL.uri
keygen() {
	run "p11ca key gen $1 $2" "$P11CA" key gen --module "$module" --token "$tok" \
		--pin-file "$pin_file" --label "$1" --type "$2" ${3:-} --pubout "$dir/$1.pub"
	cp "$dir/out" "$dir/$1.uri"
	[ -s "$dir/$1.pub" ] || fail "key gen $1 wrote no public key"
}
# key LABEL: the pkcs11: URI of a private key by label
key() {
	echo "$tok;object=$1"
}

# same_pubkey CERT PUBPEM WHAT: the certificate's key is that public key
same_pubkey() {
	plain x509 -in "$1" -noout -pubkey > "$dir/cert.pub" 2> "$dir/out" || fail "$3: cannot read $1"
	plain pkey -pubin -in "$2" -pubout > "$dir/want.pub" 2> "$dir/out" || fail "$3: cannot read $2"
	cmp -s "$dir/cert.pub" "$dir/want.pub" || fail "$3: the certificate's public key is not the token key's"
}

# selfsign LABEL CN [req options...]: $dir/LABEL.crt, a CA certificate made
# with the token key (keyUsage $ku, if set, else CA and signing); checked
# with the default provider
selfsign() {
	_l=$1
	_cn=$2
	shift 2
	run "req -x509 with $_l" p11 req -new -x509 -days 2 -key "$(key "$_l")" -subj "/CN=$_cn" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext "keyUsage=critical,${ku:-keyCertSign,cRLSign,digitalSignature}" "$@" \
		-out "$dir/$_l.crt"
	run "verify the self-signed $_l certificate" plain verify -x509_strict -CAfile "$dir/$_l.crt" \
		"$dir/$_l.crt"
	same_pubkey "$dir/$_l.crt" "$dir/$_l.pub" "req -x509 with $_l"
}

# ---- TLS ----
# serve CONF ARGS...: openssl s_server (one connection, -www) on a free port;
# sets $port and $srv_pid.  CONF is an OPENSSL_CONF path.
serve() {
	_cnf=$1
	shift
	: > "$dir/srv.log"
	OPENSSL_CONF=$_cnf timeout 60 openssl s_server -accept 127.0.0.1:0 -naccept 1 -www "$@" \
		> "$dir/srv.log" 2>&1 &
	srv_pid=$!
	bg_pids="$bg_pids $srv_pid"
	port=""
	_i=0
	# up to 30 s: a token key under ASan on a loaded machine took over 10
	while [ $_i -lt 300 ]; do
		port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$dir/srv.log" 2> /dev/null || true)
		[ -n "$port" ] && return 0
		kill -0 "$srv_pid" 2> /dev/null || break
		sleep 0.1
		_i=$((_i + 1))
	done
	sed 's/^/  | /' "$dir/srv.log" >&2
	fail "s_server did not start ($*)"
}
# fetch CONF WHAT ARGS...: s_client to $port, GET /, output in $dir/cli.log;
# the server's exit status and log are checked too
fetch() {
	_cnf=$1
	_what=$2
	shift 2
	_rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=$_cnf timeout 30 openssl s_client \
		-connect "127.0.0.1:$port" -verify_return_error -ign_eof "$@" > "$dir/cli.log" 2>&1 || _rc=$?
	_src=0
	wait "$srv_pid" || _src=$?
	if [ $_rc != 0 ] || [ $_src != 0 ]; then
		echo "  s_client (exit $_rc):" >&2
		sed 's/^/  | /' "$dir/cli.log" >&2
		echo "  s_server (exit $_src):" >&2
		sed 's/^/  | /' "$dir/srv.log" >&2
		fail "$_what: TLS failed"
	fi
}
# tls_check WHAT PROTOCOL [CIPHER]: the handshake completed with PROTOCOL
# (and CIPHER), the certificate verified, and the server's page came back
tls_check() {
	expect_in "$dir/cli.log" 'Verify return code: 0 \(ok\)' "$1: certificate verification"
	expect_in "$dir/cli.log" "HTTP/1.0 200 ok" "$1: no page from s_server"
	# the page s_server -www sends describes the server's session
	expect_in "$dir/cli.log" "^ +Protocol +: $2\$" "$1: protocol"
	[ -z "${3:-}" ] || expect_in "$dir/cli.log" "^ +Cipher +: $3\$" "$1: cipher"
}
