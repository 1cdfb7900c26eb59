#!/bin/sh
# serve.sh - `p11ca serve` (issue 11, section 2), every answer checked by a
# tool of its own: openssl ocsp (POST, and -respin of what curl or
# tests/serve-client.py fetched by GET), openssl crl/verify -crl_download,
# p11ca verify, raw status bytes (tests/serve-client.py).
#
# Two CAs on one throwaway token served by one process: ca1 (EC) signs its
# answers with a delegated responder (`ca responder --new-key ec:p256`) and
# names its distribution point in its certificates; ca2 (RSA) signs with
# its CA key and has no crl_url (/crl/ca2.crl).  A third CA (software, not
# served) asks for `unauthorized`.  Then: GET pitfalls ('+', '%2F', '//'),
# SHA-1 and SHA-256 CertIDs, several certificates in one request, the
# nonce (ignore, echo), a malformed corpus, 200 concurrent clients,
# revoke -> revoked within 2 s and in the next CRL, kill -9 and a restart
# with the token unplugged (tests/fault-module.c's switch) answering from
# the stored responses, the token unplugged while serving (never "good" for
# a certificate revoked meanwhile; signed once it is back), SIGHUP, a
# second serve on the same directory, SIGTERM.  Servers listen on
# 127.0.0.1 only, on a free port chosen before the CAs are made (their
# URLs name it).
. "$top_srcdir/tests/ca-lib.sh"

ca_lib_init serve
need_cmd curl
CLIENT="python3 $top_srcdir/tests/serve-client.py"
FAULT_MODULE=$top_builddir/.libs/fault-module.so
[ -r "$FAULT_MODULE" ] || fail "$FAULT_MODULE is not built"
SRV_PID=""
SRV_ENV=""
# on failure the server's log is kept beside the test's (tests/serve.server.log)
trap '_rc=$?; if [ -n "$SRV_PID" ]; then kill -9 "$SRV_PID" 2> /dev/null || true
		{ wait "$SRV_PID"; } 2> /dev/null || true; fi
	[ $_rc = 0 ] || cp "$WORK/serve.log" "$top_builddir/tests/serve.server.log" 2> /dev/null || true
	rm -rf "$WORK"' EXIT

# now_ms: milliseconds since the epoch
now_ms() {
	date +%s%3N
}

# free_port: a port in 20000-39999 nothing listens on (bounded: 50 tries)
free_port() {
	python3 -c '
import random, socket, sys
for _ in range(50):
    p = random.randint(20000, 39999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit(1)'
}

# start_serve ARGS...: p11ca serve on $PORT for both CAs in the background
# (SRV_PID; its stderr appended to $WORK/serve.log), the environment
# $SRV_ENV added; waits for the ready file (bounded: 60 s)
start_serve() {
	rm -f "$WORK/ready"
	echo "=== serve $*" >> "$WORK/serve.log"
	# shellcheck disable=SC2086 # SRV_ENV: nothing or VAR=VALUE words
	env $SRV_ENV "$P11CA" serve --listen "127.0.0.1:$PORT" --dir "$C1" --dir "$C2" \
		--pin-file "$PIN_FILE" --sign-rate 1000 --poll-ms 100 --log text \
		--ready-file "$WORK/ready" "$@" 2>> "$WORK/serve.log" &
	SRV_PID=$!
	_i=0
	while [ ! -s "$WORK/ready" ]; do
		kill -0 "$SRV_PID" 2> /dev/null || {
			tail -20 "$WORK/serve.log" >&2
			SRV_PID=""
			fail "p11ca serve $* exited before it was ready"
		}
		_i=$((_i + 1))
		[ $_i -le 600 ] || fail "p11ca serve: no ready file after 60 s"
		sleep 0.1
	done
	READY_MS=$(now_ms)
	[ "$(cat "$WORK/ready")" = "$PORT" ] ||
		fail "the ready file says '$(cat "$WORK/ready")', not $PORT"
}

# stop_serve SIGNAL WANT_EXIT: the server gets SIGNAL and must exit WANT_EXIT
# within 15 s
stop_serve() {
	kill "-$1" "$SRV_PID"
	_i=0
	while kill -0 "$SRV_PID" 2> /dev/null; do
		_i=$((_i + 1))
		[ $_i -le 150 ] || fail "p11ca serve did not stop 15 s after SIG$1"
		sleep 0.1
	done
	_rc=0
	wait "$SRV_PID" || _rc=$?
	SRV_PID=""
	[ "$_rc" = "$2" ] || {
		tail -20 "$WORK/serve.log" >&2
		fail "p11ca serve exited $_rc after SIG$1, want $2"
	}
}

# alive: the server still runs
alive() {
	kill -0 "$SRV_PID" 2> /dev/null || {
		tail -20 "$WORK/serve.log" >&2
		fail "p11ca serve died ($1)"
	}
}

# ask CA CERT [openssl ocsp options...]: openssl ocsp -url (POST) for CERT
# of CA (1 or 2) at that CA's OCSP URL; output in $WORK/ossl.out
ask() {
	_d=$(cadir "$1")
	_u=$(ocsp_url "$1")
	_c=$2
	shift 2
	# (the options first: a CertID digest must come before -cert)
	openssl ocsp "$@" -issuer "$_d/ca.pem" -cert "$_c" -url "$_u" \
		-CAfile "$_d/ca.pem" -timeout 5 > "$WORK/ossl.out" 2>&1 || true
}
cadir() {
	if [ "$1" = 1 ]; then echo "$C1"; else echo "$C2"; fi
}
ocsp_url() {
	if [ "$1" = 1 ]; then echo "$U/ocsp/ca1"; else echo "$U/"; fi
}

# expect CERT STATUS: $WORK/ossl.out verifies and says CERT: STATUS
expect() {
	grep -q "Response verify OK" "$WORK/ossl.out" ||
		fail "$1: the response does not verify: $(cat "$WORK/ossl.out")"
	grep -q "^$1: $2\$" "$WORK/ossl.out" || fail "$1: not $2: $(cat "$WORK/ossl.out")"
}

# status_of CA CERT: the certificate status openssl reads in the answer
# (good, revoked, unknown), or the responder error (trylater, ...), or "?"
status_of() {
	ask "$1" "$2" -no_nonce
	if grep -q "^Responder Error: " "$WORK/ossl.out"; then
		sed -n 's/^Responder Error: \([a-zA-Z]*\).*/\1/p' "$WORK/ossl.out" | head -1
	elif grep -q "Response verify OK" "$WORK/ossl.out"; then
		sed -n "s|^$2: ||p" "$WORK/ossl.out" | head -1
	else
		echo "?"
	fi
}

# poll_status CA CERT WANT MAX_MS: polls every 100 ms until the answer is
# WANT; prints the milliseconds it took; fails after MAX_MS
poll_status() {
	_t0=$(now_ms)
	while :; do
		_s=$(status_of "$1" "$2")
		[ "$_s" = "$3" ] && break
		[ $(($(now_ms) - _t0)) -le "$4" ] ||
			fail "$2: still '$_s' after $4 ms (want $3): $(cat "$WORK/ossl.out")"
		sleep 0.1
	done
	echo $(($(now_ms) - _t0))
}

# crl_get CA OUT: GET of the CA's CRL into OUT (DER), headers in OUT.hdr
crl_get() {
	if [ "$1" = 1 ]; then _p=/crl/one.crl; else _p=/crl/ca2.crl; fi
	_code=$(curl -sS --max-time 10 -D "$2.hdr" -o "$2" -w '%{http_code}' "$U$_p") ||
		fail "curl $U$_p failed"
	[ "$_code" = 200 ] || fail "GET $U$_p: HTTP $_code"
	openssl crl -inform DER -in "$2" -noout -verify -CAfile "$(cadir "$1")/ca.pem" \
		> "$2.verify" 2>&1 || fail "$U$_p: $(cat "$2.verify")"
	grep -q "verify OK" "$2.verify" || fail "$U$_p: the CRL does not verify"
}

# crl_lists FILE SERIAL: the DER CRL in FILE lists SERIAL (openssl's hex)
crl_lists() {
	openssl crl -inform DER -in "$1" -noout -text | tr -d ' ' | grep -qx "SerialNumber:$2"
}

# poll_crl CA SERIAL MAX_MS: GETs the CRL every 200 ms until it lists
# SERIAL; prints the milliseconds it took
poll_crl() {
	_t0=$(now_ms)
	while :; do
		crl_get "$1" "$WORK/poll.crl"
		crl_lists "$WORK/poll.crl" "$2" && break
		[ $(($(now_ms) - _t0)) -le "$3" ] || fail "the CRL of ca$1 does not list $2 after $3 ms"
		sleep 0.2
	done
	echo $(($(now_ms) - _t0))
}

# health: GET /health into $WORK/health.json; prints "HTTP STATUS"
health() {
	_code=$(curl -sS --max-time 5 -o "$WORK/health.json" -w '%{http_code}' "$U/health") ||
		fail "GET /health failed"
	_st=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' \
		"$WORK/health.json") || fail "/health is not JSON: $(cat "$WORK/health.json")"
	echo "$_code $_st"
}

# poll_health WANT MAX_MS: /health says WANT ("200 degraded") within MAX_MS
poll_health() {
	_t0=$(now_ms)
	while :; do
		_h=$(health)
		[ "$_h" = "$1" ] && return 0
		[ $(($(now_ms) - _t0)) -le "$2" ] ||
			fail "/health is '$_h' after $2 ms, want '$1': $(cat "$WORK/health.json")"
		sleep 0.1
	done
}

# get_ocsp URL OUT: GET of URL by curl (path as is); the answer in OUT,
# its headers in OUT.hdr; HTTP 200 required
get_ocsp() {
	_code=$(curl -sS --path-as-is --max-time 10 -D "$2.hdr" -o "$2" -w '%{http_code}' "$1") ||
		fail "curl $1 failed"
	[ "$_code" = 200 ] || fail "GET $1: HTTP $_code"
}

# respin CA CERT FILE [OPTIONS]: openssl reads the response in FILE for CERT
# (-sha256 for SHA-256 CertIDs)
respin() {
	_d=$(cadir "$1")
	_c=$2 _f=$3
	shift 3
	openssl ocsp "$@" -respin "$_f" -issuer "$_d/ca.pem" -cert "$_c" -CAfile "$_d/ca.pem" \
		-no_nonce > "$WORK/ossl.out" 2>&1 || true
}

# header FILE NAME: the value of header NAME in the curl header dump FILE
header() {
	tr -d '\r' < "$1" | sed -n "s/^$2: *//Ip" | head -1
}

# ---------------------------------------------------------------------
PORT=$(free_port) || fail "no free port in 20000-39999"
U=http://127.0.0.1:$PORT
C1=$WORK/ca1
C2=$WORK/ca2
mkdir -p "$WORK/crls" "$WORK/req"

step "two CAs on the token (URLs on port $PORT), a delegated responder in ca1, leaves, revocations"
run_ok ca init --dir "$C1" --new-key ec:p256 --token "$TOK" --label ca1 \
	--subject "/O=p11ca tests/CN=Serve Test CA 1" --ocsp-url "$U/ocsp/ca1" \
	--crl-url "$U/crl/one.crl"
run_ok ca init --dir "$C2" --new-key rsa:2048 --token "$TOK" --label ca2 \
	--subject "/O=p11ca tests/CN=Serve Test CA 2" --ocsp-url "$U/"
run_ok ca responder --dir "$C1" --new-key ec:p256
grep -q "^responder certificate [0-9A-F]*, valid until .*, in $C1/ocsp-responder.pem" "$WORK/out" ||
	fail "ca responder said: $(cat "$WORK/out")"
RESP=$C1/ocsp-responder.pem
verify_ok "$C1/ca.pem" "$RESP"
expect_ext "$RESP" extendedKeyUsage "OCSP Signing"
grep -q "^ocsp_key *=" "$C1/ca.conf" || fail "ca.conf has no ocsp_key: $(cat "$C1/ca.conf")"
for n in good revoked late unplug unplug2; do
	swcsr "$n" "/CN=$n.example.com" -addext "subjectAltName=DNS:$n.example.com"
	run_ok ca sign --dir "$C1" --profile server --out "$OUT/$n.pem" "$SW/$n.csr"
done
for n in good2 revoked2; do
	swcsr "$n" "/CN=$n.example.com" -addext "subjectAltName=DNS:$n.example.com"
	run_ok ca sign --dir "$C2" --profile server --out "$OUT/$n.pem" "$SW/$n.csr"
done
openssl x509 -in "$OUT/good.pem" -noout -ocsp_uri | grep -qx "$U/ocsp/ca1" ||
	fail "good.pem's AIA does not name $U/ocsp/ca1"
run_ok ca revoke --dir "$C1" --cert "$OUT/revoked.pem" --reason keyCompromise
run_ok ca revoke --dir "$C2" --cert "$OUT/revoked2.pem" --reason superseded
# a CA nobody serves
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SW/other.key" \
	-subj "/CN=Other CA" -days 30 -out "$SW/other.pem" 2> /dev/null || fail "openssl req (other CA)"

step "serve: no PIN source -> exit 2, a one-line error"
expect_fail 2 "PIN|pin" timeout 20 "$P11CA" serve --listen 127.0.0.1:0 --dir "$C1"
one_line "$WORK/err"

step "serve both CAs (--nonce ignore)"
start_serve --nonce ignore
echo "ready $(cat "$WORK/ready")"

step "POST: good, revoked (reason, time), unknown, unauthorized; SHA-1 and SHA-256 CertIDs"
for md in "" -sha256; do
	ask 1 "$OUT/good.pem" -no_nonce $md
	expect "$OUT/good.pem" good
	ask 1 "$OUT/revoked.pem" -no_nonce $md
	expect "$OUT/revoked.pem" revoked
	ask 2 "$OUT/good2.pem" -no_nonce $md
	expect "$OUT/good2.pem" good
	ask 2 "$OUT/revoked2.pem" -no_nonce $md
	expect "$OUT/revoked2.pem" revoked
done
# the revocation as `ca show` has it
ask 1 "$OUT/revoked.pem" -no_nonce -resp_text
expect "$OUT/revoked.pem" revoked
grep -q "Reason: keyCompromise" "$WORK/ossl.out" || fail "reason: $(cat "$WORK/ossl.out")"
run_ok ca show --dir "$C1" "$(serial_of "$OUT/revoked.pem")" --json
python3 - "$WORK/out" "$WORK/ossl.out" << 'EOF' || fail "the revocation time differs from ca show's"
import datetime, json, re, sys
rec = json.load(open(sys.argv[1]))
txt = open(sys.argv[2]).read()
assert rec["reason"] == "keyCompromise", rec
got = re.search(r"Revocation Time: (.*GMT)", txt).group(1)
got = datetime.datetime.strptime(got, "%b %d %H:%M:%S %Y GMT")
want = datetime.datetime.strptime(rec["revoked_at"], "%Y-%m-%dT%H:%M:%SZ")
assert got == want, (got, want)
EOF
# the delegate signs ca1's answers (its certificate in the response), the
# CA key ca2's: the responder id names the signer (by name or key hash)
# resp_id_is CERT: the Responder Id in $WORK/ossl.out (-resp_text) is CERT's
resp_id_is() {
	_id=$(sed -n 's/^ *Responder Id: *//p' "$WORK/ossl.out" | head -1)
	_cn=$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253,sep_comma_plus | sed 's/^subject=//')
	_kh=$(openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
		python3 -c '
import hashlib, sys
d = sys.stdin.buffer.read()
# SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }: hash the bits
def tlv(o):
    t, l, o = d[o], d[o + 1], o + 2
    if l & 0x80:
        n = l & 0x7F
        l, o = int.from_bytes(d[o:o + n], "big"), o + n
    return o, l
o, _ = tlv(0)
a, al = tlv(o)
b, bl = tlv(a + al)
print(hashlib.sha1(d[b + 1:b + bl]).hexdigest().upper())')
	case $_id in
	"$_kh" | *"$(echo "$_cn" | sed 's/^CN=\([^,]*\).*/\1/')"*) ;;
	*) fail "responder id '$_id' is not $1 ($_cn, key $_kh): $(cat "$WORK/ossl.out")" ;;
	esac
}
resp_id_is "$RESP"
grep -q "OCSP Signing" "$WORK/ossl.out" ||
	fail "ca1's answer does not carry its responder's certificate: $(cat "$WORK/ossl.out")"
ask 2 "$OUT/good2.pem" -no_nonce -resp_text
expect "$OUT/good2.pem" good
resp_id_is "$C2/ca.pem"
# unknown: a serial never issued
openssl ocsp -issuer "$C1/ca.pem" -serial 0x1234567890ABCDEF1234 -url "$U/ocsp/ca1" \
	-CAfile "$C1/ca.pem" -no_nonce -timeout 5 > "$WORK/ossl.out" 2>&1 || true
grep -q "Response verify OK" "$WORK/ossl.out" || fail "unknown: $(cat "$WORK/ossl.out")"
grep -q "^0x1234567890ABCDEF1234: unknown$" "$WORK/ossl.out" || fail "unknown: $(cat "$WORK/ossl.out")"
# unauthorized: an issuer not served
openssl ocsp -issuer "$SW/other.pem" -serial 0x42 -url "$U/ocsp/ca1" -CAfile "$SW/other.pem" \
	-no_nonce -timeout 5 > "$WORK/ossl.out" 2>&1 || true
grep -q "Responder Error: unauthorized (6)" "$WORK/ossl.out" ||
	fail "an issuer not served: $(cat "$WORK/ossl.out")"

step "several certificates in one request"
openssl ocsp -issuer "$C1/ca.pem" -cert "$OUT/good.pem" -cert "$OUT/revoked.pem" \
	-cert "$OUT/late.pem" -serial 0x77777777777777 -url "$U/ocsp/ca1" -CAfile "$C1/ca.pem" \
	-no_nonce -timeout 5 > "$WORK/ossl.out" 2>&1 || true
expect "$OUT/good.pem" good
expect "$OUT/revoked.pem" revoked
expect "$OUT/late.pem" good
grep -q "^0x77777777777777: unknown$" "$WORK/ossl.out" || fail "several: $(cat "$WORK/ossl.out")"

step "the nonce with --nonce ignore: answered without one (openssl warns), still good"
ask 1 "$OUT/good.pem"
expect "$OUT/good.pem" good
grep -q "WARNING: no nonce in response" "$WORK/ossl.out" ||
	fail "--nonce ignore echoed the nonce: $(cat "$WORK/ossl.out")"

step "GET (RFC 5019): urlencoded, raw '+' and '//', %2F; SHA-256; cache headers"
openssl ocsp -issuer "$C1/ca.pem" -cert "$OUT/good.pem" -no_nonce -reqout "$WORK/req/good.der" \
	> /dev/null 2>&1 || fail "openssl ocsp -reqout"
get_ocsp "$U/ocsp/ca1/$($CLIENT b64 "$WORK/req/good.der")" "$WORK/get.der"
respin 1 "$OUT/good.pem" "$WORK/get.der"
expect "$OUT/good.pem" good
[ "$(header "$WORK/get.der.hdr" Content-Type)" = application/ocsp-response ] ||
	fail "GET: $(cat "$WORK/get.der.hdr")"
header "$WORK/get.der.hdr" Cache-Control | grep -Eq "max-age=[1-9]" ||
	fail "GET: no max-age: $(cat "$WORK/get.der.hdr")"
[ -n "$(header "$WORK/get.der.hdr" ETag)" ] || fail "GET: no ETag: $(cat "$WORK/get.der.hdr")"
[ -n "$(header "$WORK/get.der.hdr" Last-Modified)" ] ||
	fail "GET: no Last-Modified: $(cat "$WORK/get.der.hdr")"
# the same request by POST has the same (pre-signed) answer
$CLIENT post "$U/ocsp/ca1" "$WORK/req/good.der" > "$WORK/post.st"
[ "$(cat "$WORK/post.st")" = "200 successful" ] || fail "POST: $(cat "$WORK/post.st")"
cmp -s "$WORK/req/good.der.resp" "$WORK/get.der" || fail "GET and POST answers differ"
# ca2 at "/", SHA-256 CertID
openssl ocsp -sha256 -issuer "$C2/ca.pem" -cert "$OUT/revoked2.pem" -no_nonce \
	-reqout "$WORK/req/rev2.der" > /dev/null 2>&1 || fail "openssl ocsp -reqout"
get_ocsp "$U/$($CLIENT b64 "$WORK/req/rev2.der")" "$WORK/get.der"
respin 2 "$OUT/revoked2.pem" "$WORK/get.der" -sha256
expect "$OUT/revoked2.pem" revoked
grep -q "Reason: superseded" "$WORK/ossl.out" || fail "reason: $(cat "$WORK/ossl.out")"
# raw: '+' and '//' as they are (a nonce chosen so that the base64 has them)
openssl ocsp -issuer "$C1/ca.pem" -cert "$OUT/good.pem" -reqout "$WORK/req/nonce.der" \
	> /dev/null 2>&1 || fail "openssl ocsp -reqout"
B64=$($CLIENT plusslash "$WORK/req/nonce.der" "$WORK/req/ps.der") || fail "no '+' and '//' request"
case $B64 in *+*//* | *//*+*) ;; *) fail "plusslash: $B64" ;; esac
echo "raw path: /ocsp/ca1/$B64"
$CLIENT get "$U/ocsp/ca1/$B64" "$WORK/raw.der" > "$WORK/raw.st"
[ "$(cat "$WORK/raw.st")" = "200 successful" ] || fail "raw GET: $(cat "$WORK/raw.st")"
respin 1 "$OUT/good.pem" "$WORK/raw.der"
expect "$OUT/good.pem" good
# the same with '/' as %2F and '+' raw, and under ca2's "/" (an issuer found by hash)
$CLIENT get "$U/ocsp/ca1/$(echo "$B64" | sed 's|/|%2F|g')" "$WORK/raw.der" > "$WORK/raw.st"
[ "$(cat "$WORK/raw.st")" = "200 successful" ] || fail "%2F GET: $(cat "$WORK/raw.st")"
respin 1 "$OUT/good.pem" "$WORK/raw.der"
expect "$OUT/good.pem" good
$CLIENT get "$U/$B64" "$WORK/raw.der" > "$WORK/raw.st"
[ "$(cat "$WORK/raw.st")" = "200 successful" ] || fail "GET at /: $(cat "$WORK/raw.st")"
respin 1 "$OUT/good.pem" "$WORK/raw.der"
expect "$OUT/good.pem" good

step "p11ca verify --revocation ocsp --no-nonce (the AIA URL; --nonce ignore sends none back)"
# pverify WANT_EXIT CA CERT [OPTIONS]: p11ca verify CERT, output in $WORK/out
pverify() {
	_rc=0
	_want=$1 _ca=$2 _c=$3
	shift 3
	"$P11CA" verify "$_c" --trust "$(cadir "$_ca")/ca.pem" --crl-store "$WORK/crls" \
		--revocation ocsp --fallback revoked "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	[ $_rc -eq "$_want" ] || {
		cat "$WORK/out" "$WORK/err" >&2
		fail "p11ca verify $_c $*: exit $_rc, want $_want"
	}
}
pverify 0 1 "$OUT/good.pem" --no-nonce
grep -q "good.pem: fit" "$WORK/out" || fail "verify good: $(cat "$WORK/out")"
pverify 1 1 "$OUT/revoked.pem" --no-nonce
grep -q "revoked.pem: not fit" "$WORK/out" || fail "verify revoked: $(cat "$WORK/out")"
grep -q "revocation revoked (keyCompromise" "$WORK/out" || fail "verify revoked: $(cat "$WORK/out")"
pverify 0 2 "$OUT/good2.pem" --no-nonce
pverify 1 2 "$OUT/revoked2.pem" --no-nonce
grep -q "revocation revoked (superseded" "$WORK/out" || fail "verify revoked2: $(cat "$WORK/out")"

step "the distribution points: DER, headers; openssl verify -crl_download -crl_check"
crl_get 1 "$WORK/one.crl"
crl_lists "$WORK/one.crl" "$(serial_of "$OUT/revoked.pem")" || fail "ca1's CRL does not list revoked"
crl_lists "$WORK/one.crl" "$(serial_of "$OUT/good.pem")" && fail "ca1's CRL lists good"
[ "$(header "$WORK/one.crl.hdr" Content-Type)" = application/pkix-crl ] ||
	fail "CRL: $(cat "$WORK/one.crl.hdr")"
header "$WORK/one.crl.hdr" Cache-Control | grep -Eq "max-age=[1-9]" ||
	fail "CRL: no max-age: $(cat "$WORK/one.crl.hdr")"
ETAG=$(header "$WORK/one.crl.hdr" ETag)
[ -n "$ETAG" ] || fail "CRL: no ETag: $(cat "$WORK/one.crl.hdr")"
[ -n "$(header "$WORK/one.crl.hdr" Last-Modified)" ] || fail "CRL: no Last-Modified"
_code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$U/crl/one.crl")
[ "$_code" = 304 ] || fail "CRL with If-None-Match of its ETag: HTTP $_code, want 304"
crl_get 2 "$WORK/two.crl"
crl_lists "$WORK/two.crl" "$(serial_of "$OUT/revoked2.pem")" || fail "ca2's CRL does not list revoked2"
verify_ok "$C1/ca.pem" "$OUT/good.pem" -crl_download -crl_check
verify_fails "$C1/ca.pem" "$OUT/revoked.pem" "certificate revoked" -crl_download -crl_check
# no such CRL: under ca2's OCSP path "/", an OCSP GET of bad base64
_st=$($CLIENT get "$U/crl/nothing.crl" "$WORK/nothing")
case $_st in "200 malformedRequest" | "404 -") ;; *) fail "GET /crl/nothing.crl: $_st" ;; esac

step "a malformed corpus: truncated, bit flips, empty, 1 MiB, garbage -> malformedRequest or 413"
$CLIENT corpus "$U/ocsp/ca1" "$WORK/req/good.der" "$WORK/corpus" > "$WORK/corpus.out" ||
	fail "corpus: $(cat "$WORK/corpus.out")"
sed 's/^/  /' "$WORK/corpus.out"
alive "after the corpus"
_f=$(ls "$WORK/corpus"/resp-truncated-*.der | head -1)
openssl ocsp -respin "$_f" -resp_text -noverify > "$WORK/ossl.out" 2>&1 || true
grep -q "Responder Error: malformedrequest (1)" "$WORK/ossl.out" ||
	fail "$_f: $(cat "$WORK/ossl.out")"
ask 1 "$OUT/good.pem" -no_nonce
expect "$OUT/good.pem" good
# a wrong content type: malformedRequest or 415
_st=$($CLIENT post "$U/ocsp/ca1" "$WORK/req/good.der" text/plain)
case $_st in "200 malformedRequest" | "415 -") ;; *) fail "text/plain: $_st" ;; esac
# bogus base64 GETs
for p in '@@@!!' 'MEIwQDA%' 'AAAA' "$(printf 'x%.0s' $(seq 1 300))" "%00%00"; do
	$CLIENT get "$U/ocsp/ca1/$p" "$WORK/bogus.der" > "$WORK/bogus.st"
	case $(cat "$WORK/bogus.st") in
	"200 malformedRequest" | "413 -" | "414 -") ;;
	*) fail "GET /ocsp/ca1/$p: $(cat "$WORK/bogus.st")" ;;
	esac
done
# 1000 CertIDs in one request
seq 1 1000 | sed 's/^/-serial 0x/' | tr '\n' ' ' > "$WORK/serials"
# shellcheck disable=SC2046 # one -serial 0xN pair each
openssl ocsp -issuer "$C1/ca.pem" $(cat "$WORK/serials") -no_nonce -reqout "$WORK/req/k.der" \
	> /dev/null 2>&1 || fail "openssl ocsp: 1000 serials"
_st=$($CLIENT post "$U/ocsp/ca1" "$WORK/req/k.der")
case $_st in "200 malformedRequest" | "413 -") ;; *) fail "1000 CertIDs: $_st" ;; esac
alive "after the bogus GETs and 1000 CertIDs"
ask 1 "$OUT/good.pem" -no_nonce
expect "$OUT/good.pem" good

step "200 concurrent clients (curl --parallel, 600 requests: GET and POST)"
mkdir -p "$WORK/par"
openssl ocsp -issuer "$C1/ca.pem" -cert "$OUT/revoked.pem" -no_nonce -reqout "$WORK/req/rev.der" \
	> /dev/null 2>&1 || fail "openssl ocsp -reqout"
G1=$U/ocsp/ca1/$($CLIENT b64 "$WORK/req/good.der")
G2=$U/$($CLIENT b64 "$WORK/req/rev2.der")
: > "$WORK/par.cfg"
i=0
while [ $i -lt 600 ]; do
	case $((i % 3)) in
	0) printf 'max-time = 30\nurl = "%s"\noutput = "%s/g1-%d.der"\n' "$G1" "$WORK/par" $i ;;
	1) printf 'max-time = 30\nurl = "%s"\noutput = "%s/g2-%d.der"\n' "$G2" "$WORK/par" $i ;;
	2) printf 'max-time = 30\nurl = "%s/ocsp/ca1"\noutput = "%s/p1-%d.der"\ndata-binary = "@%s"\nheader = "Content-Type: application/ocsp-request"\n' \
		"$U" "$WORK/par" $i "$WORK/req/rev.der" ;;
	esac >> "$WORK/par.cfg"
	i=$((i + 1))
	[ $i -ge 600 ] || echo next >> "$WORK/par.cfg"
done
_t0=$(now_ms)
curl --parallel --parallel-immediate --parallel-max 200 --max-time 30 -sS -K "$WORK/par.cfg" \
	> "$WORK/par.out" 2>&1 || fail "curl --parallel: $(tail -5 "$WORK/par.out")"
echo "600 requests, 200 at once, in $(($(now_ms) - _t0)) ms"
alive "after 200 concurrent clients"
[ "$(ls "$WORK/par" | wc -l)" = 600 ] || fail "only $(ls "$WORK/par" | wc -l) answers of 600"
_st=$($CLIENT statuses "$WORK/par"/*.der)
[ "$_st" = "600 successful" ] || fail "concurrent answers: $_st"
# the same request has the same pre-signed answer; a sample verifies
for k in g1 g2 p1; do
	[ "$(cksum "$WORK/par"/$k-*.der | cut -d' ' -f1,2 | sort -u | wc -l)" = 1 ] ||
		fail "the $k answers differ"
done
respin 1 "$OUT/good.pem" "$(ls "$WORK/par"/g1-*.der | head -1)"
expect "$OUT/good.pem" good
respin 2 "$OUT/revoked2.pem" "$(ls "$WORK/par"/g2-*.der | head -1)" -sha256
expect "$OUT/revoked2.pem" revoked
respin 1 "$OUT/revoked.pem" "$(ls "$WORK/par"/p1-*.der | tail -1)"
expect "$OUT/revoked.pem" revoked

step "the request log, /metrics, SIGHUP"
grep -Eq "^127\.0\.0\.1:[0-9]+ POST /ocsp/ca1 200 " "$WORK/serve.log" ||
	fail "no request line for a POST: $(grep -v '^===' "$WORK/serve.log" | tail -5)"
grep -Eq "^127\.0\.0\.1:[0-9]+ GET /crl/one.crl 200 " "$WORK/serve.log" ||
	fail "no request line for a CRL GET: $(grep -v '^===' "$WORK/serve.log" | tail -5)"
grep -qF "$PIN" "$WORK/serve.log" && fail "the PIN is in the log"
_code=$(curl -sS --max-time 5 -o "$WORK/metrics" -w '%{http_code}' "$U/metrics")
[ "$_code" = 200 ] || fail "GET /metrics: HTTP $_code"
for m in 'p11ca_serve_requests_total{' 'p11ca_serve_signatures_total{ca="ca1"}' \
	'p11ca_serve_token_available{ca="ca1"} 1' 'p11ca_serve_responses{ca="ca2"}' \
	'p11ca_serve_crl_number{ca="ca1"}' 'p11ca_serve_request_seconds_bucket'; do
	grep -qF "$m" "$WORK/metrics" || fail "/metrics has no $m: $(head -30 "$WORK/metrics")"
done
[ "$(health)" = "200 ok" ] || fail "/health: $(cat "$WORK/health.json")"
kill -HUP "$SRV_PID"
sleep 0.5
alive "after SIGHUP"
ask 2 "$OUT/good2.pem" -no_nonce
expect "$OUT/good2.pem" good

step "revoke -> the OCSP answer says revoked within 2 s, the next CRL lists it"
run_ok ca revoke --dir "$C1" --cert "$OUT/late.pem" --reason cessationOfOperation
_ms=$(poll_status 1 "$OUT/late.pem" revoked 10000)
echo "revocation to OCSP publication: $_ms ms"
[ "$_ms" -le 2000 ] || fail "revoked after $_ms ms (target <= 2000)"
_ms=$(poll_crl 1 "$(serial_of "$OUT/late.pem")" 10000)
echo "revocation to the CRL: $_ms ms (after the OCSP answer)"
grep -q "Reason: cessationOfOperation" "$WORK/ossl.out" || {
	ask 1 "$OUT/late.pem" -no_nonce
	grep -q "Reason: cessationOfOperation" "$WORK/ossl.out" || fail "late: $(cat "$WORK/ossl.out")"
}

step "a second serve on the same directory exits 1"
expect_fail 1 "already served by pid $SRV_PID" timeout 20 "$P11CA" serve --listen 127.0.0.1:0 \
	--dir "$C1" --pin-file "$PIN_FILE"
one_line "$WORK/err"
alive "after a second serve"

step "kill -9, restart with the token unplugged: answers at once from the stored responses"
for d in "$C1" "$C2"; do
	[ -s "$d/serve/ocsp.cache" ] || fail "$d/serve/ocsp.cache was not stored"
	[ -s "$d/serve/crl.der" ] || fail "$d/serve/crl.der was not stored"
	[ "$(stat -c %a "$d/serve")" = 700 ] || fail "$d/serve is mode $(stat -c %a "$d/serve")"
done
# the stored revocation of late.pem: wait (bounded) for the cache to be rewritten
sleep 1
kill -9 "$SRV_PID"
wait "$SRV_PID" 2> /dev/null || true
SRV_PID=""
UNPLUG=$WORK/unplugged
touch "$UNPLUG"
SRV_ENV="P11CA_FAULTS_UNPLUG_FILE=$UNPLUG"
start_serve --nonce ignore --module "$FAULT_MODULE"
ask 1 "$OUT/good.pem" -no_nonce
_ms=$(($(now_ms) - READY_MS))
expect "$OUT/good.pem" good
echo "first answer $_ms ms after the ready file"
[ "$_ms" -le 1000 ] || fail "the first answer came $_ms ms after the ready file (want <= 1000)"
ask 1 "$OUT/revoked.pem" -no_nonce
expect "$OUT/revoked.pem" revoked
ask 2 "$OUT/good2.pem" -no_nonce
expect "$OUT/good2.pem" good
_s=$(status_of 1 "$OUT/late.pem")
[ "$_s" != good ] || fail "late.pem (revoked) answered good with the token unplugged"
echo "late.pem (revoked before the kill) answers: $_s"
poll_health "200 degraded" 5000
crl_get 1 "$WORK/one.crl"
crl_lists "$WORK/one.crl" "$(serial_of "$OUT/late.pem")" ||
	fail "the stored CRL does not list late.pem"

# unplugged_revoke NAME REASON: NAME.pem (ca1) revoked while the token is
# unplugged: from the first poll that sees it, never "good" and not yet
# "revoked" (nothing can sign it); the token back: revoked within 10 s, in
# the CRL, /health ok
unplugged_revoke() {
	run_ok ca revoke --dir "$C1" --cert "$OUT/$1.pem" --reason "$2"
	_t0=$(now_ms)
	while [ "$(status_of 1 "$OUT/$1.pem")" = good ]; do
		[ $(($(now_ms) - _t0)) -le 2000 ] ||
			fail "$1.pem still good 2 s after its revocation (token unplugged)"
		sleep 0.1
	done
	poll_health "200 degraded" 10000
	i=0
	while [ $i -lt 10 ]; do
		_s=$(status_of 1 "$OUT/$1.pem")
		[ "$_s" != good ] || fail "$1.pem answered good again (token unplugged)"
		[ "$_s" != revoked ] || fail "$1.pem answered revoked with the token unplugged"
		i=$((i + 1))
		sleep 0.1
	done
	echo "$1.pem, revoked with the token unplugged, answers: $_s"
	ask 1 "$OUT/good.pem" -no_nonce
	expect "$OUT/good.pem" good
	alive "token unplugged"
	rm -f "$UNPLUG"
	_ms=$(poll_status 1 "$OUT/$1.pem" revoked 10000)
	echo "token back -> $1.pem revoked in $_ms ms"
	grep -q "Reason: $2" "$WORK/ossl.out" || fail "$1: $(cat "$WORK/ossl.out")"
	_ms=$(poll_crl 1 "$(serial_of "$OUT/$1.pem")" 10000)
	echo "... and in the CRL $_ms ms later"
	poll_health "200 ok" 10000
}

step "still unplugged since the start: a revocation, then the token back"
unplugged_revoke unplug keyCompromise
ask 1 "$OUT/late.pem" -no_nonce
expect "$OUT/late.pem" revoked

step "the token unplugged while serving: stored answers, a revocation, plugged back"
touch "$UNPLUG"
ask 2 "$OUT/good2.pem" -no_nonce
expect "$OUT/good2.pem" good
unplugged_revoke unplug2 affiliationChanged

step "SIGTERM exits 0"
stop_serve TERM 0
SRV_ENV=""

step "--nonce echo: a live answer with the nonce (openssl checks it)"
start_serve --nonce echo
ask 1 "$OUT/good.pem"
expect "$OUT/good.pem" good
grep -q "WARNING: no nonce in response" "$WORK/ossl.out" &&
	fail "--nonce echo: no nonce: $(cat "$WORK/ossl.out")"
ask 2 "$OUT/revoked2.pem"
expect "$OUT/revoked2.pem" revoked
grep -qi "nonce" "$WORK/ossl.out" && fail "--nonce echo: $(cat "$WORK/ossl.out")"
ask 1 "$OUT/good.pem" -no_nonce
expect "$OUT/good.pem" good
# p11ca verify with its nonce (32 bytes): fit / not fit
pverify 0 1 "$OUT/good.pem"
grep -q "good.pem: fit" "$WORK/out" || fail "verify good (nonce): $(cat "$WORK/out")"
pverify 1 1 "$OUT/unplug.pem"
grep -q "revocation revoked (keyCompromise" "$WORK/out" || fail "verify unplug (nonce): $(cat "$WORK/out")"
pverify 1 2 "$OUT/revoked2.pem"
grep -q "revocation revoked (superseded" "$WORK/out" || fail "verify revoked2 (nonce): $(cat "$WORK/out")"
stop_serve INT 0

pass "serve"
