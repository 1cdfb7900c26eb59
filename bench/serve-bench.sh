#!/bin/sh
# serve-bench.sh - `p11ca serve` beside `openssl ocsp -index -multi 2` and
# nginx serving the same bytes as static files (issue 11, section 3), side by
# side in one run, on one SoftHSM2 token and one CA key (BENCH_KEY, default
# rsa:2048), with BENCH_N (10,000) issued certificates (`p11ca ca sign` of
# one CSR BENCH_N times in one call, --again; BENCH_REVOKED (500) of them then
# marked revoked with the sqlite3 CLI, so that the CRL is not empty).
#
#   OCSP: BENCH_REQS (1,000) pre-made requests (SHA-1 CertIDs of issued
#     serials, no nonce), rotated by a wrk Lua script, POSTed at 1, 16 and 64
#     connections for BENCH_SECONDS (10) each to
#       (a) p11ca serve --log none (every response signed ahead of time)
#       (b) openssl ocsp -index (ca export-index) -CA ca.pem -rsigner ca.pem
#           -rkey pkcs11:... -port 127.0.0.1:P -multi 2, the CA key through the
#           p11ca provider (a live signature per request)
#       (c) nginx: the response (a) gave to each request as a static file
#           (POST to a file: error_page 405 =200), worker_processes 2,
#           access_log off: the machine's ceiling
#   CRL: GET of the CRL from (a) and from (c) (its bytes as a file), the same
#     concurrencies.
#   revocation to publication: `p11ca ca revoke`, then POST every 20 ms until
#     the answer says revoked; median of 5.
#   pre-signing: from the start of serve to every response signed (/metrics).
#
# Everything runs inside one network namespace of its own (`unshare -n`, or
# `unshare -rn` when not root: `openssl ocsp -port` binds every interface).
# Targets: OCSP requests/s at 16 clients >= 10x openssl and >= 0.5x nginx;
# p99 <= 5 ms (serve, every concurrency); revocation to publication <= 2 s.
# Prints a table; exits 1 when a target is missed or a check fails.
# Environment: P11CA, P11CA_PROVIDER (p11ca.so), SOFTHSM_MODULE (as `make
# bench-serve` sets them); BENCH_KEY, BENCH_N, BENCH_REVOKED, BENCH_REQS,
# BENCH_SECONDS, BENCH_CONC ("1 16 64"), BENCH_KEEP (keep the work directory).
# Needs wrk, nginx (nginx-light), sqlite3, curl, python3: installed with apt
# when missing and root.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/openssl-cnf.sh"
: "${P11CA:?}" "${P11CA_PROVIDER:?need the p11ca provider (.libs/p11ca.so)}"
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
key=${BENCH_KEY:-rsa:2048}
n=${BENCH_N:-10000}
nrev=${BENCH_REVOKED:-500}
nreq=${BENCH_REQS:-1000}
secs=${BENCH_SECONDS:-10}
conc=${BENCH_CONC:-1 16 64}
client="python3 $top/tests/serve-client.py"
fail() {
	echo "serve-bench: $*" >&2
	exit 1
}
now_ms() {
	date +%s%3N
}

# ---- once: the tools, then again inside a network namespace ----
if [ -z "${SERVE_BENCH_NS:-}" ]; then
	missing=""
	command -v wrk > /dev/null 2>&1 || missing="$missing wrk"
	command -v nginx > /dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
	command -v sqlite3 > /dev/null 2>&1 || missing="$missing sqlite3"
	command -v curl > /dev/null 2>&1 || missing="$missing curl"
	if [ -n "$missing" ]; then
		[ "$(id -u)" = 0 ] || fail "missing:$missing (apt-get install$missing)"
		echo "installing$missing"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing > /dev/null ||
			fail "apt-get install$missing failed"
	fi
	if [ "$(id -u)" = 0 ]; then ns="unshare -n"; else ns="unshare -rn"; fi
	SERVE_BENCH_NS=1 exec $ns sh -c 'ip link set lo up && exec sh "$0"' "$0"
fi
export PATH="$PATH:/usr/sbin"

dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-servebench.XXXXXX")
pids=""
ossl_pgid=""
cleanup() {
	for p in $pids; do kill "$p" 2> /dev/null || true; done
	# openssl ocsp -multi: its parent ignores SIGTERM; its group gets SIGKILL
	[ -z "$ossl_pgid" ] || kill -9 "-$ossl_pgid" 2> /dev/null || true
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
token_env=$("$top/softhsm-conf/mktoken" --dir "$dir/token" --label p11ca-servebench) || exit $?
eval "$token_env"
tok=$P11CA_TOKEN_URI
pin_file=$P11CA_PIN_FILE
unset P11CA_PIN_FILE P11CA_MODULE P11CA_PIN 2> /dev/null || true
SERVE_PORT=8080
OSSL_PORT=8081
NGINX_PORT=8082

echo "p11ca serve bench: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1))," \
	"Linux $(uname -r)"
echo "versions: OpenSSL $(openssl version | cut -d' ' -f2)," \
	"SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2> /dev/null || echo '?')," \
	"libmicrohttpd $(dpkg-query -W -f='${Version}' libmicrohttpd12 2> /dev/null || echo '?')," \
	"nginx $(nginx -v 2>&1 | sed 's|.*nginx/||')," \
	"$(wrk --version 2>&1 | head -1 | cut -d' ' -f1,2)"
echo "CA key $key on SoftHSM2, $n certificates ($nrev revoked), $nreq rotating requests," \
	"$secs s per run, connections: $conc; in $dir"

# ---- the CA, its certificates, the requests ----
ca="$P11CA ca"
D=$dir/ca
$ca init --dir "$D" --module "$SOFTHSM_MODULE" --pin-file "$pin_file" --new-key "$key" \
	--token "$tok" --label bench-ca --subject "/O=p11ca bench/CN=p11ca serve bench CA" \
	--ocsp-url "http://127.0.0.1:$SERVE_PORT/" --crl-url "http://127.0.0.1:$SERVE_PORT/ca.crl" \
	> "$dir/cmd.log" 2>&1 || { cat "$dir/cmd.log" >&2; fail "ca init"; }
OPENSSL_CONF=/dev/null openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/leaf.key" -subj "/CN=leaf.example.com" \
	-addext "subjectAltName=DNS:leaf.example.com" -out "$dir/a.csr" 2> /dev/null || fail "openssl req"
t0=$(now_ms)
(cd "$dir" && yes a.csr | head -n "$n" | xargs "$P11CA" ca sign --dir "$D" --module "$SOFTHSM_MODULE" \
	--pin-file "$pin_file" --again --out "$dir/issued.pem") > "$dir/cmd.log" 2>&1 ||
	{ tail -5 "$dir/cmd.log" >&2; fail "ca sign"; }
echo "issued $n certificates in one 'ca sign' in $(($(now_ms) - t0)) ms"
[ "$(sqlite3 "$D/ca.db" 'SELECT count(*) FROM certs')" = "$n" ] || fail "the database does not hold $n"
# revoked: BENCH_REVOKED of them, straight in the database (as bench/ca-bench.sh fills it)
sqlite3 "$D/ca.db" "UPDATE certs SET status = 'R', revoked_at = strftime('%s', 'now') - 3600,
	reason = 1 WHERE serial IN (SELECT serial FROM certs ORDER BY serial DESC LIMIT $nrev)" ||
	fail "sqlite3: revoking"
$ca export-index --dir "$D" --out "$dir/index.txt" > /dev/null || fail "export-index"
echo "unique_subject = no" > "$dir/index.txt.attr"
# the requests: the first BENCH_REQS serials (some revoked: serial order is random)
sqlite3 "$D/ca.db" "SELECT serial FROM certs ORDER BY random() LIMIT $nreq" > "$dir/serials"
# five valid serials apart, for the revocation runs
sqlite3 "$D/ca.db" "SELECT serial FROM certs WHERE status = 'V' ORDER BY serial LIMIT 5" > "$dir/torevoke"
OPENSSL_CONF=/dev/null openssl ocsp -issuer "$D/ca.pem" -serial "0x$(head -1 "$dir/serials")" -no_nonce \
	-reqout "$dir/template.der" > /dev/null 2>&1 || fail "openssl ocsp -reqout"
[ "$($client mkreqs "$dir/template.der" "$dir/serials" "$dir/r")" = "$nreq" ] || fail "mkreqs"
$client mkreqs "$dir/template.der" "$dir/torevoke" "$dir/rev" > /dev/null || fail "mkreqs"
cat > "$dir/post.lua" << EOF
-- POSTs the requests $dir/r/1 .. $nreq in turn (each thread from its own start)
local bodies, i = {}, 0
for k = 1, $nreq do
	local f = assert(io.open("$dir/r/" .. k, "rb"))
	bodies[k] = f:read("*a")
	f:close()
end
function init(args)
	i = math.random($nreq) - 1
end
function request()
	i = i % $nreq + 1
	return wrk.format("POST", "/r/" .. i,
		{ ["Content-Type"] = "application/ocsp-request" }, bodies[i])
end
EOF

# wait_port PORT PID NAME: PORT answers (bounded: 30 s), PID alive
wait_port() {
	i=0
	until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2> /dev/null; do
		kill -0 "$2" 2> /dev/null || fail "$3 died: $(tail -5 "$dir/$3.log")"
		i=$((i + 1))
		[ $i -le 300 ] || fail "$3 does not answer on port $1"
		sleep 0.1
	done
}

# metric NAME: its value on serve's /metrics (first line)
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$SERVE_PORT/metrics" |
		awk -v m="$1" 'index($0, m) == 1 { print $NF; exit }'
}

# ---- (a) p11ca serve ----
t0=$(now_ms)
"$P11CA" serve --listen "127.0.0.1:$SERVE_PORT" --dir "$D" --module "$SOFTHSM_MODULE" \
	--pin-file "$pin_file" --log none --sign-rate 100000 --sign-sessions "$(nproc)" \
	--poll-ms 100 --ready-file "$dir/ready" > "$dir/serve.log" 2>&1 &
serve_pid=$!
pids="$pids $serve_pid"
i=0
until [ -s "$dir/ready" ]; do
	kill -0 "$serve_pid" 2> /dev/null || fail "serve died: $(tail -5 "$dir/serve.log")"
	i=$((i + 1))
	[ $i -le 600 ] || fail "serve: no ready file after 60 s"
	sleep 0.1
done
t_ready=$(($(now_ms) - t0))
# pre-signing: nothing queued, a response stored for every certificate and
# CertID digest (SHA-1, SHA-256: 2 each), none stale (/health; bounded: 10
# minutes)
i=0
while :; do
	st=$(curl -s --max-time 5 "http://127.0.0.1:$SERVE_PORT/health" | python3 -c '
import json, sys
try:
    c = json.load(sys.stdin)["cas"][0]
    print(c["queued"], c["responses"], c["stale"], c["certificates"])
except Exception:
    print("? 0 ? 0")')
	# shellcheck disable=SC2086 # four numbers
	set -- $st
	[ "$1" = 0 ] && [ "$4" -ge "$n" ] && [ "$2" -ge $((2 * $4)) ] && [ "$3" = 0 ] && break
	kill -0 "$serve_pid" 2> /dev/null || fail "serve died: $(tail -5 "$dir/serve.log")"
	i=$((i + 1))
	[ $i -le 6000 ] || fail "serve: queued $1, $2 responses ($3 stale) after 10 minutes"
	sleep 0.1
done
got=$2
t_presign=$(($(now_ms) - t0))
sigs=$(metric 'p11ca_serve_signatures_total{ca="ca"}')
echo "serve: ready in $t_ready ms; $got responses signed ahead in $t_presign ms from the start" \
	"($sigs signatures)"

# every request's answer from serve: checked (a sample with openssl), kept for nginx
mkdir -p "$dir/www/r"
$client post "http://127.0.0.1:$SERVE_PORT/" "$dir/r/1" > "$dir/st" || fail "POST to serve"
[ "$(cat "$dir/st")" = "200 successful" ] || fail "serve answered $(cat "$dir/st")"
OPENSSL_CONF=/dev/null openssl ocsp -respin "$dir/r/1.resp" -CAfile "$D/ca.pem" -issuer "$D/ca.pem" \
	-serial "0x$(head -1 "$dir/serials")" -no_nonce > "$dir/cmd.log" 2>&1 &&
	grep -q "Response verify OK" "$dir/cmd.log" || fail "serve's answer: $(cat "$dir/cmd.log")"
python3 - "$dir" "$nreq" "$SERVE_PORT" << 'EOF' || fail "fetching serve's answers"
import http.client, sys
d, n, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for k in range(1, n + 1):
    body = open("%s/r/%d" % (d, k), "rb").read()
    c.request("POST", "/", body, {"Content-Type": "application/ocsp-request"})
    r = c.getresponse()
    data = r.read()
    assert r.status == 200, r.status
    open("%s/www/r/%d" % (d, k), "wb").write(data)
EOF
curl -s --max-time 10 -o "$dir/www/ca.crl" "http://127.0.0.1:$SERVE_PORT/ca.crl" || fail "GET ca.crl"
OPENSSL_CONF=/dev/null openssl crl -inform DER -in "$dir/www/ca.crl" -noout -verify -CAfile "$D/ca.pem" \
	2>&1 | grep -q "verify OK" || fail "serve's CRL does not verify"
echo "serve's CRL: $(wc -c < "$dir/www/ca.crl") bytes," \
	"$(OPENSSL_CONF=/dev/null openssl crl -inform DER -in "$dir/www/ca.crl" -noout -text |
		grep -c 'Serial Number:') entries"

# ---- (b) openssl ocsp -multi 2, the CA key through the p11ca provider ----
openssl_cnf_provider "$P11CA_PROVIDER" "$SOFTHSM_MODULE" "$pin_file" > "$dir/provider.cnf"
# (its own process group: openssl ocsp -multi calls setpgid(0, 0), and fails
# under setsid; it prints nothing once its children listen).  Started again
# for each run: when wrk stops, it closes connections in the middle of a
# request, and each child that had one spins at 100% CPU from then on.
ossl_start() {
	OPENSSL_CONF=$dir/provider.cnf openssl ocsp -index "$dir/index.txt" -CA "$D/ca.pem" \
		-rsigner "$D/ca.pem" -rkey "$tok;object=bench-ca;type=private" -port "$OSSL_PORT" \
		-multi 2 -nmin 60 > "$dir/openssl.log" 2>&1 &
	ossl_pgid=$!
	i=0
	until $client post "http://127.0.0.1:$OSSL_PORT/" "$dir/r/1" > "$dir/st" 2> /dev/null; do
		kill -0 "$ossl_pgid" 2> /dev/null || fail "openssl ocsp died: $(tail -5 "$dir/openssl.log")"
		i=$((i + 1))
		[ $i -le 300 ] || fail "openssl ocsp does not answer"
		sleep 0.1
	done
}
ossl_stop() {
	kill -9 "-$ossl_pgid" 2> /dev/null || true
	wait "$ossl_pgid" 2> /dev/null || true
	ossl_pgid=""
}
ossl_start
[ "$(cat "$dir/st")" = "200 successful" ] || fail "openssl ocsp answered $(cat "$dir/st")"
OPENSSL_CONF=/dev/null openssl ocsp -respin "$dir/r/1.resp" -CAfile "$D/ca.pem" -issuer "$D/ca.pem" \
	-serial "0x$(head -1 "$dir/serials")" -no_nonce > "$dir/cmd.log" 2>&1 &&
	grep -q "Response verify OK" "$dir/cmd.log" || fail "openssl ocsp's answer: $(cat "$dir/cmd.log")"
ossl_stop

# ---- (c) nginx, the same bytes as static files ----
mkdir -p "$dir/nginx"
# nginx's workers (nobody) read the files
chmod 755 "$dir" "$dir/www" "$dir/www/r"
cat > "$dir/nginx/nginx.conf" << EOF
worker_processes 2;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $dir/www;
		location /r/ { default_type application/ocsp-response; error_page 405 =200 \$uri; }
		location = /ca.crl { default_type application/pkix-crl; }
	}
}
EOF
nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" > "$dir/nginx.log" 2>&1 &
nginx_pid=$!
pids="$pids $nginx_pid"
wait_port "$NGINX_PORT" "$nginx_pid" nginx
$client post "http://127.0.0.1:$NGINX_PORT/r/1" "$dir/r/1" > "$dir/st" || fail "POST to nginx"
[ "$(cat "$dir/st")" = "200 successful" ] || fail "nginx answered $(cat "$dir/st")"
cmp -s "$dir/r/1.resp" "$dir/www/r/1" || fail "nginx does not serve serve's bytes"

# ---- the runs ----
res=$dir/results
: > "$res"
# run NAME KIND PORT CONNS: wrk for $secs s; "NAME KIND CONNS RPS P99_MS ERRORS" to $res
run() {
	if [ "$2" = ocsp ]; then
		script="-s $dir/post.lua"
		url="http://127.0.0.1:$3/"
	else
		script=""
		url="http://127.0.0.1:$3/ca.crl"
	fi
	[ "$1" != openssl ] || ossl_start
	threads=$(nproc)
	[ "$threads" -le "$4" ] || threads=$4
	# shellcheck disable=SC2086 # $script: nothing or -s FILE
	wrk -t"$threads" -c"$4" -d"${secs}s" --timeout 5s --latency $script "$url" > "$dir/wrk.out" 2>&1 ||
		fail "wrk $1 $2 -c$4: $(cat "$dir/wrk.out")"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$dir/wrk.out")
	p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
		printf "%.2f", v }' "$dir/wrk.out")
	errs=$(awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
		END { print n + 0 }' "$dir/wrk.out")
	[ "$1" != openssl ] || ossl_stop
	echo "$1 $2 $4 $rps $p99 $errs" >> "$res"
	printf '  %-8s %-4s %3s connections: %10s req/s, p99 %8s ms, errors %s\n' "$1" "$2" "$4" "$rps" "$p99" "$errs"
}
echo "OCSP (POST, $nreq rotating requests):"
for c in $conc; do
	run serve ocsp "$SERVE_PORT" "$c"
	run openssl ocsp "$OSSL_PORT" "$c"
	run nginx ocsp "$NGINX_PORT" "$c"
done
echo "CRL (GET):"
for c in $conc; do
	run serve crl "$SERVE_PORT" "$c"
	run nginx crl "$NGINX_PORT" "$c"
done
kill -0 "$serve_pid" 2> /dev/null || fail "serve died under load: $(tail -5 "$dir/serve.log")"
# answers still right after the load
$client post "http://127.0.0.1:$SERVE_PORT/" "$dir/r/2" > "$dir/st"
[ "$(cat "$dir/st")" = "200 successful" ] || fail "serve after the load: $(cat "$dir/st")"
cmp -s "$dir/r/2.resp" "$dir/www/r/2" || echo "note: serve's answer to request 2 changed during the run (re-signed)"

# ---- revocation to publication ----
echo "revocation to publication (revoke started -> POST answers revoked):"
: > "$dir/revms"
k=1
while read -r s; do
	t0=$(now_ms)
	$ca revoke --dir "$D" --serial "$s" --reason keyCompromise > "$dir/cmd.log" 2>&1 ||
		fail "ca revoke $s: $(cat "$dir/cmd.log")"
	t1=$(now_ms)
	ms=$($client poll "http://127.0.0.1:$SERVE_PORT/" "$dir/rev/$k" revoked 10000) ||
		fail "serial $s not revoked after 10 s"
	total=$((t1 - t0 + ms))
	echo "  $s: $total ms (revoke $((t1 - t0)) ms)"
	echo "$total" >> "$dir/revms"
	k=$((k + 1))
done < "$dir/torevoke"
rev_median=$(sort -n "$dir/revms" | sed -n 3p)

# ---- the table ----
val() { # NAME KIND CONNS FIELD(4 rps, 5 p99)
	awk -v a="$1" -v b="$2" -v c="$3" -v f="$4" '$1 == a && $2 == b && $3 == c { print $f }' "$res"
}
ratio() {
	echo "$1 $2" | awk '{ printf "%.2f", ($2 > 0) ? $1 / $2 : 0 }'
}
missed=0
# target LABEL VALUE OP LIMIT
target() {
	if awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !((op == ">=") ? v + 0 >= l + 0 : v + 0 <= l + 0) }'; then
		ok=met
	else
		ok=MISSED
		missed=1
	fi
	printf '%-46s %10s  %s %-6s %s\n' "$1" "$2" "$3" "$4" "$ok"
}
echo
echo "requests/s (p99 ms)            $(for c in $conc; do printf '%22s' "$c conn."; done)"
for t in "serve ocsp" "openssl ocsp" "nginx ocsp" "serve crl" "nginx crl"; do
	# shellcheck disable=SC2086 # two words: NAME KIND
	set -- $t
	printf '%-30s' "$1 $2"
	for c in $conc; do
		printf '%22s' "$(val "$1" "$2" "$c" 4) ($(val "$1" "$2" "$c" 5))"
	done
	echo
done
echo
s16=$(val serve ocsp 16 4)
target "OCSP req/s at 16: serve / openssl -multi 2" "$(ratio "$s16" "$(val openssl ocsp 16 4)")" ">=" 10
target "OCSP req/s at 16: serve / nginx" "$(ratio "$s16" "$(val nginx ocsp 16 4)")" ">=" 0.5
target "CRL req/s at 16: serve / nginx" "$(ratio "$(val serve crl 16 4)" "$(val nginx crl 16 4)")" ">=" 0.5
for c in $conc; do
	target "OCSP p99 at $c connections (ms)" "$(val serve ocsp "$c" 5)" "<=" 5
done
target "revocation to publication, median of 5 (ms)" "$rev_median" "<=" 2000
echo "pre-signing: $got responses (SHA-1 and SHA-256 CertIDs) for $n certificates in $t_presign ms" \
	"(ready after $t_ready ms)"
errs=$(awk '$1 == "serve" { n += $6 } END { print n + 0 }' "$res")
[ "$errs" = 0 ] || { echo "serve: $errs non-2xx answers or socket errors under load"; missed=1; }
[ $missed = 0 ] || fail "a target was missed"
echo "all targets met"
