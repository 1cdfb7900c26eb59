#!/bin/sh
# ocsp.sh - OCSP against `openssl ocsp` as a live responder: a CA made by
# p11ca on a throwaway token (`ca init`, `ca sign`, one `ca revoke`d), its
# index from `ca export-index`, a delegated OCSP-signing responder issued
# by the CA (`ca sign --profile ocsp`, a software key) and one issued with
# --profile server (no OCSPSigning: not authorised).
#
# Offline first: the exported index answers `openssl ocsp -reqin` (good,
# revoked, unknown) and the answers verify with `openssl ocsp -respin`.
# Then the live part, in a network namespace of its own (`openssl ocsp
# -port` binds every interface): the responder, a second one signing with
# the unauthorised certificate, a third with the CA's own key on the token
# (through the p11ca provider), and a python3 server replaying a saved
# response.  Each answer is checked with the openssl client, then through
# the client library itself (tests/ocsp-ask, rev_ocsp_check with its HTTP
# POST), and through `p11ca verify CERT --trust ca.pem --revocation ocsp
# --json`: good, revoked (keyCompromise), unknown, unauthorised, stale (--at
# after nextUpdate), unreachable under each --fallback, nonce (a replayed
# response).
. "$top_srcdir/tests/ca-lib.sh"

# randport: a port in 20000-39999
randport() {
	echo $((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
}

# wait_port PORT PID: PORT accepts connections (bounded: 10 s), PID alive.
# Not for `openssl ocsp -port`: a connection without a request stalls it.
wait_port() {
	_i=0
	while [ $_i -lt 100 ]; do
		kill -0 "$2" 2> /dev/null || return 1
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" \
			"$1" 2> /dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# wait_log FILE TEXT PID: FILE holds TEXT (bounded: 10 s), PID alive
wait_log() {
	_i=0
	while [ $_i -lt 100 ]; do
		kill -0 "$3" 2> /dev/null || return 1
		grep -q "$2" "$1" 2> /dev/null && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ossl_ask CERT URL: the openssl client's answer for CERT from URL in $WORK/ossl.out
ossl_ask() {
	openssl ocsp -issuer "$D/ca.pem" -cert "$1" -url "$2" -CAfile "$D/ca.pem" -timeout 5 \
		> "$WORK/ossl.out" 2>&1 || true
}

# jget EXPR: EXPR (python, over d) of the JSON in $WORK/out
jget() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/out" "$1"
}

# pverify WANT_EXIT CERT ARGS...: p11ca verify --json, exit WANT_EXIT, JSON in $WORK/out
pverify() {
	_want=$1 _c=$2
	shift 2
	_rc=0
	"$P11CA" verify "$_c" --trust "$D/ca.pem" --crl-store "$WORK/crls" --revocation ocsp \
		--json "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	if [ $_rc -ne "$_want" ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "p11ca verify $_c $*: exit $_rc, want $_want"
	fi
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$WORK/out" ||
		fail "p11ca verify $_c $*: not JSON on stdout"
}

# expect_rev STATE WHY_OR_REASON: the leaf's revocation in the JSON
expect_rev() {
	_st=$(jget 'd["chain"][0]["revocation"]["state"]')
	[ "$_st" = "$1" ] || fail "leaf revocation state '$_st', want '$1': $(cat "$WORK/out")"
	case "$1" in
	revoked) _k=reason ;;
	undetermined) _k=why ;;
	*) return 0 ;;
	esac
	_got=$(jget "d['chain'][0]['revocation']['$_k']")
	[ "$_got" = "$2" ] || fail "leaf revocation $_k '$_got', want '$2': $(cat "$WORK/out")"
}

# ---------------------------------------------------------------------
# the live part, run by the outer test inside `unshare -n`
if [ -n "${OCSP_LIVE_WORK:-}" ]; then
	WORK=$OCSP_LIVE_WORK
	D=$WORK/ca
	PIDS=""
	trap 'for _p in $PIDS; do kill "$_p" 2> /dev/null || true; done' EXIT
	PORT=$(cat "$WORK/port")

	# responder PORT SIGNER [KEY]: openssl ocsp on PORT signing with $SW/SIGNER.pem
	# and $SW/SIGNER.key (or KEY, through the p11ca provider's configuration)
	responder() {
		openssl ocsp -port "$1" -index "$WORK/index.txt" -CA "$D/ca.pem" \
			-rsigner "$SW/$2.pem" -rkey "${3:-$SW/$2.key}" -ndays 1 -ignore_err -timeout 5 \
			> "$WORK/responder-$1.log" 2>&1 &
		PIDS="$PIDS $!"
		wait_log "$WORK/responder-$1.log" "waiting for OCSP client connections" $! || {
			cat "$WORK/responder-$1.log" >&2
			fail "openssl ocsp did not listen on port $1"
		}
	}

	step "live responder (delegate), answers seen by the openssl client"
	responder "$PORT" resp
	URL=http://127.0.0.1:$PORT/
	ossl_ask "$OUT/good.pem" "$URL"
	grep -q "Response verify OK" "$WORK/ossl.out" || fail "responder: $(cat "$WORK/ossl.out")"
	grep -q "good.pem: good" "$WORK/ossl.out" || fail "good: $(cat "$WORK/ossl.out")"
	ossl_ask "$OUT/revoked.pem" "$URL"
	grep -q "revoked.pem: revoked" "$WORK/ossl.out" || fail "revoked: $(cat "$WORK/ossl.out")"
	grep -q "Reason: keyCompromise" "$WORK/ossl.out" || fail "reason: $(cat "$WORK/ossl.out")"
	ossl_ask "$OUT/unknown.pem" "$URL"
	grep -q "unknown.pem: unknown" "$WORK/ossl.out" || fail "unknown: $(cat "$WORK/ossl.out")"

	step "a responder signing with a certificate without OCSPSigning"
	PORT2=$((PORT + 1))
	responder "$PORT2" noeku
	ossl_ask "$OUT/good.pem" "http://127.0.0.1:$PORT2/"
	grep -q "Response Verify Failure" "$WORK/ossl.out" ||
		fail "openssl accepted the unauthorised responder: $(cat "$WORK/ossl.out")"

	step "a server replaying a saved response (nonce)"
	openssl ocsp -issuer "$D/ca.pem" -cert "$OUT/good.pem" -url "$URL" -CAfile "$D/ca.pem" \
		-respout "$WORK/saved.der" -timeout 5 > "$WORK/ossl.out" 2>&1 ||
		fail "saving a response: $(cat "$WORK/ossl.out")"
	PORT3=$((PORT + 2))
	python3 -c '
import sys, http.server
body = open(sys.argv[2], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$PORT3" "$WORK/saved.der" > "$WORK/replay.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_port "$PORT3" $! || fail "the replay server did not start: $(cat "$WORK/replay.log")"
	ossl_ask "$OUT/good.pem" "http://127.0.0.1:$PORT3/"
	grep -qi "nonce verify error" "$WORK/ossl.out" ||
		fail "openssl accepted a replayed nonce: $(cat "$WORK/ossl.out")"
	DEAD=$((PORT + 3)) # nothing listens there

	step "the client library (tests/ocsp-ask: rev_ocsp_check) against the same servers"
	# ask WANT CERT [URL|- [AT|- [no-nonce]]]: "STATUS WHY" of rev_ocsp_check is WANT
	ask() {
		_w=$1 _c=$2
		shift 2
		_rc=0
		"$top_builddir/tests/ocsp-ask" "$_c" "$D/ca.pem" "$@" > "$WORK/ask.out" 2> "$WORK/ask.err" ||
			_rc=$?
		[ $_rc -eq 0 ] || fail "ocsp-ask $_c $*: exit $_rc: $(cat "$WORK/ask.err")"
		_got=$(cut -d' ' -f1,2 "$WORK/ask.out")
		[ "$_got" = "$_w" ] || fail "ocsp-ask $_c $*: '$(cat "$WORK/ask.out" "$WORK/ask.err")', want '$_w'"
	}
	ask "good none" "$OUT/good.pem"
	grep -q "^good none -1 1 /CN=OCSP Responder$" "$WORK/ask.out" ||
		fail "good: not from the delegate: $(cat "$WORK/ask.out")"
	ask "revoked none" "$OUT/revoked.pem"
	grep -q "^revoked none 1 " "$WORK/ask.out" || fail "revoked: reason $(cat "$WORK/ask.out")"
	ask "unknown none" "$OUT/unknown.pem"
	ask "undetermined unauthorised" "$OUT/good.pem" "http://127.0.0.1:$PORT2/"
	ask "undetermined stale" "$OUT/good.pem" - "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)"
	ask "undetermined unreachable" "$OUT/good.pem" "http://127.0.0.1:$DEAD/"
	ask "undetermined nonce" "$OUT/good.pem" "http://127.0.0.1:$PORT3/"
	ask "good none" "$OUT/good.pem" "http://127.0.0.1:$PORT3/" - no-nonce

	step "the CA's own key on the token signs the answers (openssl through the p11ca provider)"
	PORT4=$((PORT + 4))
	cp "$D/ca.pem" "$SW/caself.pem"
	OPENSSL_CONF=$WORK/provider.cnf responder "$PORT4" caself "pkcs11:token=ca;object=ocspca;type=private"
	ossl_ask "$OUT/revoked.pem" "http://127.0.0.1:$PORT4/"
	grep -q "Response verify OK" "$WORK/ossl.out" || fail "CA-signed: $(cat "$WORK/ossl.out")"
	grep -q "revoked.pem: revoked" "$WORK/ossl.out" || fail "CA-signed: $(cat "$WORK/ossl.out")"
	ask "revoked none" "$OUT/revoked.pem" "http://127.0.0.1:$PORT4/"
	grep -q "^revoked none 1 0 /O=p11ca tests/CN=OCSP Test CA$" "$WORK/ask.out" ||
		fail "CA-signed: not from the CA itself: $(cat "$WORK/ask.out")"

	if [ "${OCSP_HAVE_VERIFY:-0}" = 1 ]; then
		mkdir -p "$WORK/crls"
		step "p11ca verify --revocation ocsp: good, revoked, unknown (AIA URL)"
		pverify 0 "$OUT/good.pem"
		expect_rev good
		jget 'd["chain"][0]["revocation"]["decided_by"]' | grep -q "OCSP" ||
			fail "good: decided_by does not name OCSP: $(cat "$WORK/out")"
		[ "$(jget 'd["fit"]')" = True ] || fail "good: not fit"
		pverify 1 "$OUT/revoked.pem"
		expect_rev revoked keyCompromise
		jget 'd["chain"][0]["revocation"]["revoked_at"]' | grep -q "^20" ||
			fail "revoked: no revocation date: $(cat "$WORK/out")"
		pverify 0 "$OUT/unknown.pem" --fallback not-revoked
		expect_rev undetermined unknown
		pverify 1 "$OUT/unknown.pem" --fallback revoked
		expect_rev undetermined unknown

		step "p11ca verify: unauthorised responder, stale answer, unreachable, nonce"
		pverify 1 "$OUT/good.pem" --ocsp-url "http://127.0.0.1:$PORT2/" --fallback revoked
		expect_rev undetermined unauthorised
		pverify 1 "$OUT/good.pem" --at "$(date -u -d '+2 days' +%Y-%m-%dT%H:%M:%SZ)" \
			--fallback revoked
		expect_rev undetermined stale
		pverify 1 "$OUT/good.pem" --ocsp-url "http://127.0.0.1:$DEAD/" --fallback revoked
		expect_rev undetermined unreachable
		pverify 0 "$OUT/good.pem" --ocsp-url "http://127.0.0.1:$DEAD/" --fallback not-revoked
		expect_rev undetermined unreachable
		[ "$(jget 'd["fallback_used"]')" = True ] || fail "unreachable: fallback_used false"
		pverify 1 "$OUT/good.pem" --ocsp-url "http://127.0.0.1:$PORT3/" --fallback revoked
		expect_rev undetermined nonce
		# without a nonce the replayed (fresh, signed) answer is acceptable
		pverify 0 "$OUT/good.pem" --ocsp-url "http://127.0.0.1:$PORT3/" --no-nonce
		expect_rev good
		# the text form
		_rc=0
		"$P11CA" verify "$OUT/revoked.pem" --trust "$D/ca.pem" --crl-store "$WORK/crls" \
			--revocation ocsp > "$WORK/out" 2> "$WORK/err" || _rc=$?
		[ $_rc -eq 1 ] || fail "verify revoked (text): exit $_rc"
		grep -q "revoked.pem: not fit" "$WORK/out" || fail "text: $(cat "$WORK/out")"
		grep -q "revocation revoked (keyCompromise" "$WORK/out" || fail "text: $(cat "$WORK/out")"
	fi
	echo "live part done"
	exit 0
fi

# ---------------------------------------------------------------------
ca_lib_init ocsp
mkdir -p "$WORK/crls"
D=$WORK/ca
PORT=$(randport)
echo "$PORT" > "$WORK/port"

step "a CA on the token, leaves, a delegated responder, a revocation"
run_ok ca init --dir "$D" --new-key ec:p256 --token "$TOK" --label ocspca \
	--subject "/O=p11ca tests/CN=OCSP Test CA" --ocsp-url "http://127.0.0.1:$PORT/"
for n in good revoked unknown; do
	swcsr "$n" "/CN=$n.example.com" -addext "subjectAltName=DNS:$n.example.com"
done
for n in good revoked; do
	run_ok ca sign --dir "$D" --profile server --out "$OUT/$n.pem" "$SW/$n.csr"
	verify_ok "$D/ca.pem" "$OUT/$n.pem"
done
openssl x509 -in "$OUT/good.pem" -noout -ocsp_uri | grep -qx "http://127.0.0.1:$PORT/" ||
	fail "the leaf's AIA does not name the responder"
swcsr resp "/CN=OCSP Responder"
run_ok ca sign --dir "$D" --profile ocsp --out "$SW/resp.pem" "$SW/resp.csr"
expect_ext "$SW/resp.pem" extendedKeyUsage "OCSP Signing"
swcsr noeku "/CN=Not A Responder" -addext "subjectAltName=DNS:noeku.example.com"
run_ok ca sign --dir "$D" --profile server --out "$SW/noeku.pem" "$SW/noeku.csr"
run_ok ca revoke --dir "$D" --cert "$OUT/revoked.pem" --reason keyCompromise
# the index is a snapshot: a certificate issued after it is unknown to the responder
run_ok ca export-index --dir "$D" --out "$WORK/index.txt"
run_ok ca sign --dir "$D" --profile server --out "$OUT/unknown.pem" "$SW/unknown.csr"
verify_ok "$D/ca.pem" "$OUT/unknown.pem"
grep -q "$(serial_of "$OUT/unknown.pem")" "$WORK/index.txt" && fail "unknown.pem is in the index"

step "offline: the exported index answers openssl ocsp -reqin"
# offline_status CERT: openssl ocsp's status line for CERT, answered by the delegate
offline_status() {
	openssl ocsp -issuer "$D/ca.pem" -cert "$1" -reqout "$WORK/req.der" > /dev/null 2>&1 ||
		fail "openssl ocsp: no request for $1"
	openssl ocsp -index "$WORK/index.txt" -CA "$D/ca.pem" -rsigner "$SW/resp.pem" \
		-rkey "$SW/resp.key" -reqin "$WORK/req.der" -respout "$WORK/resp.der" -ndays 1 \
		> /dev/null 2>&1 || fail "openssl ocsp did not answer for $1"
	openssl ocsp -respin "$WORK/resp.der" -issuer "$D/ca.pem" -cert "$1" -CAfile "$D/ca.pem" \
		-no_nonce > "$WORK/ossl.out" 2>&1 || fail "$1: $(cat "$WORK/ossl.out")"
	grep -q "Response verify OK" "$WORK/ossl.out" || fail "$1: $(cat "$WORK/ossl.out")"
	grep "^$1: " "$WORK/ossl.out" | sed "s|^$1: ||"
}
[ "$(offline_status "$OUT/good.pem")" = good ] || fail "good.pem is not good"
[ "$(offline_status "$OUT/revoked.pem")" = revoked ] || fail "revoked.pem is not revoked"
[ "$(offline_status "$OUT/unknown.pem")" = unknown ] || fail "unknown.pem is not unknown"

openssl_cnf_provider "$top_builddir/.libs/p11ca.so" "$MODULE" "$PIN_FILE" > "$WORK/provider.cnf"

HAVE_VERIFY=1

step "live: inside a network namespace of the test's own"
if unshare -n true 2> /dev/null; then
	_rc=0
	OCSP_LIVE_WORK=$WORK OCSP_HAVE_VERIFY=$HAVE_VERIFY SW=$SW OUT=$OUT MODULE=$MODULE \
		unshare -n sh -c 'ip link set lo up && exec sh "$1"' sh "$top_srcdir/tests/ocsp.sh" ||
		_rc=$?
	[ $_rc -eq 0 ] || fail "the live part failed (exit $_rc)"
else
	skip_part live "unshare -n is not permitted here (root needed for a network namespace)"
fi

pass "ocsp"
