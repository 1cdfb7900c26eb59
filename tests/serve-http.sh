#!/bin/sh
# serve-http.sh - the HTTP layer of p11ca serve (tools/serve/http.c) and the
# command's own duties.  Part one runs tests/serve-stub (http.c over a
# stand-in core with fixed answers): routes, 404/405/413, the raw path,
# HEAD, ETag and 304, cache headers, a slow client cut off, /metrics counts,
# SIGHUP under a keep-alive connection, SIGTERM.  Part two runs `p11ca
# serve` on a CA of a throwaway token: --ready-file, the PIN out of argv,
# the environment and the log, no core dumps, the CRL by HEAD and
# If-None-Match, the request log, SIGTERM.  Servers listen on 127.0.0.1.
# OCSP and CRL answers themselves: tests/serve.sh.
. "$top_srcdir/tests/lib.sh"
lib_init serve-http
need_cmd curl python3
STUB=$top_builddir/tests/serve-stub
[ -x "$STUB" ] || fail "tests/serve-stub not built"

PIDS=""
trap 'for _p in $PIDS; do kill -9 "$_p" 2> /dev/null || true; done; rm -rf "$WORK"' EXIT

# wait_ready READY-FILE PID LOG: the port in $PORT, within 20 s
wait_ready() {
	_i=0
	while [ $_i -lt 200 ] && [ ! -s "$1" ]; do
		kill -0 "$2" 2> /dev/null || fail "the server exited: $(cat "$3")"
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -s "$1" ] || fail "no ready file after 20 s: $(cat "$3")"
	PORT=$(cat "$1")
	case "$PORT" in
	'' | *[!0-9]*) fail "ready file holds '$PORT', not a port" ;;
	esac
}

# stop_ok PID LOG: SIGTERM, exit 0 within 5 s
stop_ok() {
	kill -TERM "$1"
	_i=0
	while [ $_i -lt 50 ] && kill -0 "$1" 2> /dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -0 "$1" 2> /dev/null && fail "still running 5 s after SIGTERM: $(tail -5 "$2")"
	_rc=0
	wait "$1" || _rc=$?
	[ $_rc -eq 0 ] || fail "exit $_rc after SIGTERM: $(tail -5 "$2")"
}

# code URL [CURL-ARGS...]: the HTTP status of a GET
code() {
	_u=$1
	shift
	rm -f "$WORK/body" "$WORK/hdr"
	: > "$WORK/body"
	curl -s -o "$WORK/body" -D "$WORK/hdr" -w '%{http_code}' "$@" "$_u" || true
}

# header NAME: the value of header NAME in $WORK/hdr
header() {
	tr -d '\r' < "$WORK/hdr" | sed -n "s/^$1: //Ip" | head -1
}

# metric NAME{LABELS}: its value on /metrics (0 when absent)
metric() {
	curl -s "$BASE/metrics" > "$WORK/metrics" || fail "GET /metrics"
	python3 - "$WORK/metrics" "$1" << 'EOF'
import sys
want = sys.argv[2]
for line in open(sys.argv[1]):
    if line.startswith(want + " "):
        print(int(float(line.split()[-1])))
        sys.exit(0)
print(0)
EOF
}

# ---------------------------------------------------------------------
step "the HTTP layer over a stand-in core: --max-request 1024, --timeout 2"
"$STUB" 127.0.0.1:0 "$WORK/stub.port" 1024 2 2> "$WORK/stub.log" &
SPID=$!
PIDS="$PIDS $SPID"
wait_ready "$WORK/stub.port" $SPID "$WORK/stub.log"
BASE=http://127.0.0.1:$PORT

[ "$(code "$BASE/nothing/here")" = 404 ] || fail "unknown path: not 404"
[ "$(code "$BASE/crl/stub.crl" -X PUT)" = 405 ] || fail "PUT: not 405"
[ "$(header Allow)" = "GET, HEAD, POST" ] || fail "405 without 'Allow: GET, HEAD, POST': $(cat "$WORK/hdr")"
[ "$(code "$BASE/x" -X DELETE)" = 405 ] || fail "DELETE: not 405"

step "POST: bodies up to --max-request answered, over it 413 and the server stays up"
head -c 1000 /dev/urandom > "$WORK/small"
[ "$(code "$BASE/any/path" --data-binary @"$WORK/small" -H 'Content-Type: application/ocsp-request')" = 200 ] ||
	fail "POST of 1000 bytes: not 200"
cmp -s "$WORK/small" "$WORK/body" || fail "POST body did not reach the core whole"
[ "$(header Content-Type)" = application/ocsp-response ] || fail "POST: Content-Type $(header Content-Type)"
[ "$(header Cache-Control)" = no-cache ] || fail "POST answer: Cache-Control $(header Cache-Control)"
head -c 1025 /dev/urandom > "$WORK/big"
[ "$(code "$BASE/" --data-binary @"$WORK/big")" = 413 ] || fail "POST of 1025 bytes: not 413"
head -c 100000 /dev/zero > "$WORK/huge"
[ "$(code "$BASE/" --data-binary @"$WORK/huge")" = 413 ] || fail "POST of 100000 bytes: not 413"
# a chunked body (no Content-Length) is counted as it comes: 413 or cut off, never 200
_c=$(code "$BASE/" --data-binary @"$WORK/huge" -H 'Transfer-Encoding: chunked')
[ "$_c" = 413 ] || [ "$_c" = 000 ] || fail "chunked POST of 100000 bytes: $_c"
[ "$(code "$BASE/crl/stub.crl")" = 200 ] || fail "no answer after the oversized requests"
_long=$(python3 -c 'print("/ocsp/" + "A" * 1100)')
_c=$(code "$BASE$_long")
[ "$_c" = 414 ] || fail "a path over --max-request: $_c, not 414"

step "GET paths reach the core raw: '+', '%2F' and '//' untouched"
[ "$(code "$BASE/ocsp/MEow+AB%2FCD//x%3D%3D" --path-as-is)" = 200 ] || fail "GET /ocsp/...: not 200"
[ "$(cat "$WORK/body")" = "/ocsp/MEow+AB%2FCD//x%3D%3D" ] ||
	fail "the core got '$(cat "$WORK/body")'"
[ "$(code "$BASE/ocsp/a?b=c")" = 200 ] && [ "$(cat "$WORK/body")" = /ocsp/a ] ||
	fail "the query string was not cut: '$(cat "$WORK/body")'"

step "CRL: headers, HEAD without a body, If-None-Match 304"
[ "$(code "$BASE/crl/stub.crl")" = 200 ] || fail "GET CRL: not 200"
[ "$(cat "$WORK/body")" = STUB-CRL ] || fail "GET CRL: body '$(cat "$WORK/body")'"
[ "$(header Content-Type)" = application/pkix-crl ] || fail "CRL Content-Type: $(header Content-Type)"
[ "$(header ETag)" = '"stub-etag"' ] || fail "ETag: $(header ETag)"
[ "$(header Last-Modified)" = "Tue, 14 Nov 2023 22:13:20 GMT" ] || fail "Last-Modified: $(header Last-Modified)"
# expires in 2 h, capped by the default --max-age of 1 h
[ "$(header Cache-Control)" = "max-age=3600, public, no-transform, must-revalidate" ] ||
	fail "Cache-Control: $(header Cache-Control)"
python3 - "$(header Expires)" << 'EOF' || fail "Expires $(header Expires) is not about an hour ahead"
import sys, time, email.utils
t = email.utils.parsedate_to_datetime(sys.argv[1]).timestamp()
sys.exit(0 if 3500 < t - time.time() < 3700 else 1)
EOF
python3 - "$PORT" > "$WORK/head" << 'EOF' || fail "HEAD: $(cat "$WORK/head")"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"HEAD /crl/stub.crl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
print(head.decode())
assert head.startswith(b"HTTP/1.1 200"), "status"
assert b"\r\ncontent-length: 8" in head.lower(), "Content-Length of the body"
assert body == b"", "a body after HEAD: %r" % body
EOF
[ "$(code "$BASE/crl/stub.crl" -H 'If-None-Match: "stub-etag"')" = 304 ] || fail "If-None-Match: not 304"
[ -s "$WORK/body" ] && fail "a body with 304"
[ "$(header ETag)" = '"stub-etag"' ] || fail "304 without the ETag"
[ "$(code "$BASE/crl/stub.crl" -H 'If-None-Match: "x", W/"stub-etag"')" = 304 ] || fail "If-None-Match list: not 304"
[ "$(code "$BASE/crl/stub.crl" -H 'If-None-Match: "other"')" = 200 ] || fail "another ETag: not 200"

step "a slow client (half a request line) is cut after --timeout while others are served"
python3 - "$PORT" "$BASE" > "$WORK/slow" 2>&1 << 'EOF' || fail "slow client: $(cat "$WORK/slow")"
import socket, sys, time, urllib.request
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
s.sendall(b"GET /crl/st")
t0 = time.monotonic()
# served meanwhile
for _ in range(3):
    with urllib.request.urlopen(sys.argv[2] + "/crl/stub.crl", timeout=3) as r:
        assert r.status == 200 and r.read() == b"STUB-CRL"
s.settimeout(10)
try:
    b = s.recv(100)
except socket.timeout:
    sys.exit("not closed after 10 s")
except ConnectionResetError:
    b = b""
dt = time.monotonic() - t0
print("closed after %.1f s, %r" % (dt, b))
assert dt < 8, "closed only after %.1f s" % dt
assert not b.startswith(b"HTTP/1.1 200"), "answered: %r" % b
EOF

step "/metrics counts what was answered"
_crl0=$(metric 'p11ca_serve_requests_total{kind="crl",result="crl"}')
_ocsp0=$(metric 'p11ca_serve_requests_total{kind="ocsp",result="good"}')
_nf0=$(metric 'p11ca_serve_requests_total{kind="other",result="notFound"}')
_cnt0=$(metric p11ca_serve_request_seconds_count)
_met0=$(metric 'p11ca_serve_requests_total{kind="metrics",result="ok"}')
for _i in 1 2 3 4 5; do curl -s -o /dev/null "$BASE/crl/stub.crl"; done
printf 'L-live' | curl -s -o /dev/null --data-binary @- "$BASE/"
printf 'stored' | curl -s -o /dev/null --data-binary @- "$BASE/"
curl -s -o /dev/null "$BASE/nope"
curl -s -o /dev/null "$BASE/nope2"
# the metrics read between the snapshots: 5 above counted one each time
[ $(($(metric 'p11ca_serve_requests_total{kind="crl",result="crl"}') - _crl0)) -eq 5 ] ||
	fail "crl counter: $(grep crl "$WORK/metrics")"
[ $(($(metric 'p11ca_serve_requests_total{kind="ocsp",result="good"}') - _ocsp0)) -eq 2 ] ||
	fail "ocsp counter: $(grep ocsp "$WORK/metrics")"
[ $(($(metric 'p11ca_serve_requests_total{kind="other",result="notFound"}') - _nf0)) -eq 2 ] ||
	fail "notFound counter"
# 9 requests and 4 /metrics reads before this one (the metric calls above)
[ $(($(metric p11ca_serve_request_seconds_count) - _cnt0)) -eq 14 ] ||
	fail "histogram count: $(grep seconds_count "$WORK/metrics"), was $_cnt0"
[ $(($(metric 'p11ca_serve_requests_total{kind="metrics",result="ok"}') - _met0)) -eq 5 ] ||
	fail "metrics counter"
grep -q '^p11ca_serve_request_seconds_bucket{le="+Inf"} ' "$WORK/metrics" || fail "no +Inf bucket"
grep -q '^p11ca_serve_request_seconds_bucket{le="0.0005"} ' "$WORK/metrics" || fail "no 0.0005 bucket"
grep -q '^p11ca_stub_reloads 0$' "$WORK/metrics" || fail "the core's metric lines are missing"
grep -q "^127.0.0.1:[0-9]* GET /crl/stub.crl 200 crl crl stub 8$" "$WORK/stub.log" ||
	fail "no request record of the CRL: $(tail -3 "$WORK/stub.log")"
grep -q "^127.0.0.1:[0-9]* POST / 200 ocsp good stub 6 live$" "$WORK/stub.log" ||
	fail "no live request record"

step "SIGHUP keeps a keep-alive connection; SIGTERM stops within 5 s"
python3 - "$PORT" "$SPID" > "$WORK/hup" 2>&1 << 'EOF' || fail "keep-alive over SIGHUP: $(cat "$WORK/hup")"
import http.client, os, signal, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/crl/stub.crl")
r = c.getresponse()
assert r.status == 200 and r.read() == b"STUB-CRL"
before = c.sock.getsockname()
os.kill(int(sys.argv[2]), signal.SIGHUP)
time.sleep(0.5)
c.request("GET", "/crl/stub.crl")
r = c.getresponse()
assert r.status == 200 and r.read() == b"STUB-CRL"
assert c.sock is not None and c.sock.getsockname() == before, "a new connection"
print("one connection", before)
EOF
grep -q "stub reloaded" "$WORK/stub.log" || fail "SIGHUP did not reach srv_reload"
[ "$(metric p11ca_stub_reloads)" = 1 ] || fail "one reload expected"
stop_ok $SPID "$WORK/stub.log"

# ---------------------------------------------------------------------
step "p11ca serve on a CA: usage errors"
new_token serve
run_ok "$P11CA" ca init --module "$MODULE" --pin-file "$PIN_FILE" --dir "$WORK/ca" \
	--new-key ec:p256 --token "$TOKEN_URI" --label ca --subject "/CN=Serve HTTP Test CA" \
	--ocsp-url http://127.0.0.1/ocsp
expect_fail 2 "serve needs a PIN from --pin-file, P11CA_PIN_FILE or P11CA_PIN \(it never prompts\)" \
	"$P11CA" serve --module "$MODULE" --listen 127.0.0.1:0 --dir "$WORK/ca" < /dev/null
one_line "$WORK/err"
expect_fail 2 "--listen ADDR:PORT" "$P11CA" serve --module "$MODULE" --dir "$WORK/ca"
expect_fail 2 "duration" "$P11CA" serve --listen 127.0.0.1:0 --dir "$WORK/ca" --validity 3x
expect_fail 1 "not an IPv4 address" "$P11CA" serve --module "$MODULE" --pin-file "$PIN_FILE" \
	--listen localhost:0 --dir "$WORK/ca"
expect_fail 1 "no port" "$P11CA" serve --module "$MODULE" --pin-file "$PIN_FILE" \
	--listen 127.0.0.1 --dir "$WORK/ca"

step "p11ca serve: the PIN from P11CA_PIN, held; not in argv, environ or the log; no core"
P11CA_PIN=$PIN "$P11CA" serve --module "$MODULE" --listen 127.0.0.1:0 --dir "$WORK/ca" \
	--ready-file "$WORK/serve.port" --timeout 5 2> "$WORK/serve.log" &
PPID_=$!
PIDS="$PIDS $PPID_"
wait_ready "$WORK/serve.port" $PPID_ "$WORK/serve.log"
BASE=http://127.0.0.1:$PORT
[ "$(stat -c %a "$WORK/serve.port")" != "" ] || fail "no ready file"
tr '\0' '\n' < "/proc/$PPID_/cmdline" | grep -qF -- "$PIN" && fail "the PIN in /proc/PID/cmdline"
tr '\0' '\n' < "/proc/$PPID_/environ" | grep -qF -- "$PIN" && fail "the PIN in /proc/PID/environ"
grep -q '^Max core file size *0 *0 ' "/proc/$PPID_/limits" ||
	fail "core dumps allowed: $(grep core "/proc/$PPID_/limits")"
_ok=0
for _i in $(seq 1 100); do
	[ "$(code "$BASE/crl/ca.crl")" = 200 ] && {
		_ok=1
		break
	}
	sleep 0.1
done
[ $_ok = 1 ] || fail "no CRL at /crl/ca.crl: $(tail -5 "$WORK/serve.log")"
[ "$(header Content-Type)" = application/pkix-crl ] || fail "CRL Content-Type $(header Content-Type)"
openssl crl -inform DER -in "$WORK/body" -noout -issuer > "$WORK/crl.txt" 2>&1 ||
	fail "the CRL does not parse: $(cat "$WORK/crl.txt")"
grep -q "Serve HTTP Test CA" "$WORK/crl.txt" || fail "CRL issuer: $(cat "$WORK/crl.txt")"
_etag=$(header ETag)
[ -n "$_etag" ] || fail "the CRL has no ETag"
[ "$(code "$BASE/crl/ca.crl" -H "If-None-Match: $_etag")" = 304 ] || fail "CRL If-None-Match: not 304"
curl -s -I "$BASE/crl/ca.crl" -o "$WORK/headout" || fail "HEAD of the CRL"
grep -qi '^HTTP/1.1 200' "$WORK/headout" || fail "HEAD: $(cat "$WORK/headout")"
[ "$(code "$BASE/health")" = 200 ] || fail "/health: not 200: $(cat "$WORK/body")"
# OCSP GETs live under /ocsp (ca.conf's ocsp_url), CRLs at /crl/ca.crl
[ "$(code "$BASE/nothing")" = 404 ] || fail "unknown path: not 404"
grep -Eq "^127\.0\.0\.1:[0-9]+ GET /crl/ca.crl 200 crl crl ca [0-9]+ [0-9.]+ms$" "$WORK/serve.log" ||
	fail "no request line for the CRL: $(tail -5 "$WORK/serve.log")"
grep -Eq "^127\.0\.0\.1:[0-9]+ GET /crl/ca.crl 304 crl crl ca 0 [0-9.]+ms$" "$WORK/serve.log" ||
	fail "no request line for the 304"
grep -Eq "^p11ca serve: info: serving 1 CA on port $PORT" "$WORK/serve.log" ||
	fail "no start line: $(head -5 "$WORK/serve.log")"
grep -qF -- "$PIN" "$WORK/serve.log" && fail "the PIN in the log"
kill -HUP $PPID_
_i=0
while [ $_i -lt 50 ] && ! grep -q "p11ca serve: .*reload" "$WORK/serve.log"; do
	sleep 0.1
	_i=$((_i + 1))
done
grep -q "p11ca serve: info: reloaded" "$WORK/serve.log" || fail "SIGHUP: $(tail -3 "$WORK/serve.log")"
stop_ok $PPID_ "$WORK/serve.log"

step "p11ca serve --log json: one object a line"
"$P11CA" serve --module "$MODULE" --pin-file "$PIN_FILE" --listen 127.0.0.1:0 --dir "$WORK/ca" \
	--ready-file "$WORK/serve2.port" --log json 2> "$WORK/serve2.log" &
PPID_=$!
PIDS="$PIDS $PPID_"
wait_ready "$WORK/serve2.port" $PPID_ "$WORK/serve2.log"
curl -s -o /dev/null "http://127.0.0.1:$PORT/nothing"
stop_ok $PPID_ "$WORK/serve2.log"
grep '^{' "$WORK/serve2.log" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
want = {"peer", "method", "path", "http", "kind", "result", "ca", "bytes", "ms", "live"}
r = [x for x in recs if x["path"] == "/nothing"][0]
assert set(r) == want, r
assert r["http"] == 404 and r["method"] == "GET" and r["live"] is False, r
' || fail "JSON log: $(cat "$WORK/serve2.log")"

pass "serve HTTP layer"
