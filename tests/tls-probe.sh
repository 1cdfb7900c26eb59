#!/bin/sh
# tls-probe.sh - p11ca tls probe against `openssl s_server` on 127.0.0.1
# (-naccept 1, bounded by timeout), with certificates of a p11ca hierarchy
# on a throwaway token (root -> issuing CA -> leaves for software server
# keys): a fit server (text and --json; s_client agrees); a wrong name and
# the nearest name shown; the IP peer address where the certificate names
# FQDNs; a missing intermediate (which issuer); an 8192-bit RSA key and an
# expired certificate (a software CA: ca sign refuses RSA-8192 and issues
# nothing in the past); mutual TLS with the client key on the token (the
# server's log shows it verified our certificate), a serverAuth-only
# certificate on either side, a server that does not trust our CA (TLS 1.3:
# an alert after the handshake; TLS 1.2: during it), a server requiring a
# certificate we did not send; a revoked certificate (the CRL in --trust;
# needs the verdict of tools/rev/check.c, skipped while the stand-in is
# there); a closed port and a listener that never answers (--timeout).
# Each case asserts the exit status and the diagnosis line.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init tls-probe
need_cmd timeout

# the RSA-8192 key takes seconds: made in the background, bounded
timeout 120 openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192 \
	-pkeyopt rsa_keygen_primes:5 -out "$SW/rsa8192.key" > /dev/null 2>&1 &
RSA8192_PID=$!
BG="$BG $RSA8192_PID"
SRV_PID=""

# ---------------------------------------------------------------------
step "a p11ca hierarchy: root -> issuing CA (keys on the token) -> leaves"
R=$WORK/root
S=$WORK/sub
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/O=Example/CN=Example Root CA"
run_ok ca init --dir "$S" --new-key ec:p256 --token "$TOK" --label sub \
	--subject "/O=Example/CN=Example Issuing CA" --csr "$WORK/sub.csr"
run_ok ca sign --dir "$R" --profile sub-ca --out "$OUT/sub.pem" "$WORK/sub.csr"
run_ok ca set-cert --dir "$S" "$OUT/sub.pem"
cp "$R/ca.pem" "$WORK/trust.pem"
cat "$R/ca.pem" "$OUT/sub.pem" > "$WORK/cas.pem"

# leaf NAME PROFILE SUBJECT SAN: $OUT/NAME.pem for the software key $SW/NAME.key
leaf() {
	swcsr "$1" "$3" -addext "subjectAltName=$4"
	run_ok ca sign --dir "$S" --profile "$2" --out "$OUT/$1.pem" "$SW/$1.csr"
	verify_ok "$WORK/cas.pem" "$OUT/$1.pem"
}
leaf srv server-client /CN=srv.example.com "DNS:srv.example.com,DNS:www.example.net"
leaf srvonly server /CN=only.example.com DNS:only.example.com
leaf rev server-client /CN=rev.example.com DNS:rev.example.com
# the client's key is on the token
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --new-key ec:p256 --label cli \
	--token "$TOK" --subject /CN=cli.example.com --san dns:cli.example.com \
	--out "$WORK/cli.csr"
run_ok ca sign --dir "$S" --profile server-client --out "$OUT/cli.pem" "$WORK/cli.csr"
CLIKEY="$TOK;object=cli;type=private"
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --key "$CLIKEY" --eku server \
	--subject /CN=cli.example.com --san dns:cli.example.com --out "$WORK/cli-server.csr"
run_ok ca sign --dir "$S" --profile server --again --out "$OUT/cli-server-only.pem" \
	"$WORK/cli-server.csr"
# another CA, which the servers that refuse us trust
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SW/other.key" \
	-subj "/CN=Other CA" -days 2 -out "$WORK/other.pem" > /dev/null 2>&1 ||
	fail "the other CA"

# ---------------------------------------------------------------------
# serve ARGS...: s_server on a free port ($PORT) for one connection, -www
serve() {
	for _try in 1 2 3 4 5 6 7 8; do
		PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
		# emptied here: the last server's ACCEPT must not count for this one
		: > "$WORK/srv.log"
		timeout 60 openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -www "$@" \
			> "$WORK/srv.log" 2>&1 &
		SRV_PID=$!
		BG="$BG $SRV_PID"
		_n=0
		while [ $_n -lt 100 ]; do
			grep -q "^ACCEPT" "$WORK/srv.log" && return 0
			kill -0 "$SRV_PID" 2> /dev/null || break
			sleep 0.1
			_n=$((_n + 1))
		done
		kill "$SRV_PID" 2> /dev/null || true
		wait "$SRV_PID" 2> /dev/null || true
		grep -q "in use" "$WORK/srv.log" || {
			cat "$WORK/srv.log" >&2
			fail "s_server did not start"
		}
	done
	fail "no free port for s_server"
}

# stop: the server ends (it served its one connection, or is killed)
stop() {
	kill "$SRV_PID" 2> /dev/null || true
	wait "$SRV_PID" 2> /dev/null || true
}

# probe RC REGEX ARGS...: p11ca tls probe 127.0.0.1:$PORT ARGS exits RC with
# a line matching REGEX (grep -E) on standard output
probe() {
	_want=$1 _re=$2
	shift 2
	_rc=0
	"$P11CA" tls probe "127.0.0.1:$PORT" --module "$MODULE" --pin-file "$PIN_FILE" \
		--timeout 10 "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	stop
	if [ "$_rc" -ne "$_want" ] || ! grep -Eq -- "$_re" "$WORK/out"; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "tls probe $*: exit $_rc (want $_want), want a line '$_re'"
	fi
}

# ---------------------------------------------------------------------
step "help and usage"
run_ok "$P11CA" tls probe --help
grep -q "^usage: p11ca tls probe HOST:PORT" "$WORK/out" || fail "tls probe --help"
run_ok "$P11CA" --help
grep -q "^  tls  *probe" "$WORK/out" || fail "p11ca --help does not list tls probe"
expect_fail 2 "HOST:PORT" "$P11CA" tls probe localhost
expect_fail 2 "go together" "$P11CA" tls probe 127.0.0.1:1 --key "$CLIKEY"
expect_fail 2 "revocation" "$P11CA" tls probe 127.0.0.1:1 --revocation sometimes

# ---------------------------------------------------------------------
step "a fit server"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 0 "^127.0.0.1:$PORT: fit\$" --name srv.example.com --trust "$WORK/trust.pem"
grep -q "^  protocol: *TLSv1.3, cipher " "$WORK/out" || fail "no protocol line"
grep -q "^  \[0\] subject: */CN=srv.example.com\$" "$WORK/out" || fail "no leaf subject"
grep -q "^  \[1\] subject: */O=Example/CN=Example Issuing CA\$" "$WORK/out" ||
	fail "no intermediate shown"
grep -q "SANs: *DNS:srv.example.com, DNS:www.example.net" "$WORK/out" || fail "no SANs"
grep -q "problem:" "$WORK/out" && fail "a fit server with a problem line"
# an independent client agrees
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
echo | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$WORK/trust.pem" \
	-verify_hostname srv.example.com -verify_return_error > "$WORK/cli.log" 2>&1 ||
	fail "s_client does not accept the fit server: $(tail -5 "$WORK/cli.log")"
stop
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 0 '"fit": true' --name srv.example.com --trust "$WORK/trust.pem" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["fit"] and d["handshake"] \
	and d["problems"] == [] and len(d["chain"]) == 2 and d["servername"] == "srv.example.com" \
	and d["verdict"]["fit"], d' "$WORK/out" || fail "tls probe --json: $(cat "$WORK/out")"

step "SNI: --name goes out as SNI (s_server answers it with another certificate), --servername overrides"
serve -key "$SW/srvonly.key" -cert "$OUT/srvonly.pem" -servername srv.example.com \
	-key2 "$SW/srv.key" -cert2 "$OUT/srv.pem"
probe 0 "^127.0.0.1:$PORT: fit\$" --name srv.example.com --trust "$WORK/cas.pem"
grep -q "^  \[0\] subject: */CN=srv.example.com\$" "$WORK/out" || fail "SNI: not the SNI's certificate"
serve -key "$SW/srvonly.key" -cert "$OUT/srvonly.pem" -servername srv.example.com \
	-key2 "$SW/srv.key" -cert2 "$OUT/srv.pem"
probe 1 "^  problem: name srv.example.com is not in the certificate's CN or SAN \(nearest: only.example.com\)" \
	--name srv.example.com --servername other.example.com --trust "$WORK/cas.pem"
grep -q "server name: *other.example.com\$" "$WORK/out" || fail "--servername not shown"

step "a wrong name: the nearest name the certificate has"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 1 "^  problem: name www.example.org is not in the certificate's CN or SAN \(nearest: www.example.net\)\$" \
	--name www.example.org --trust "$WORK/trust.pem"
head -1 "$WORK/out" | grep -q "^127.0.0.1:$PORT: not fit: name www.example.org" ||
	fail "first line: $(head -1 "$WORK/out")"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 1 '"fit": false' --name www.example.org --trust "$WORK/trust.pem" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["fit"] and d["handshake"] \
	and [p["code"] for p in d["problems"]] == ["name-mismatch"] \
	and "nearest: www.example.net" in d["problems"][0]["text"], d' "$WORK/out" ||
	fail "tls probe --json, wrong name: $(cat "$WORK/out")"

step "the peer address is an IP, the certificate names FQDNs"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 1 "^  problem: the peer address 127.0.0.1 is an IP address, but the certificate names FQDNs \(srv.example.com, www.example.net\)" \
	--trust "$WORK/trust.pem"
grep -q "server name: *(no SNI)" "$WORK/out" || fail "SNI sent for an IP address"

step "a missing intermediate: the server sends the leaf only"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem"
probe 1 "^  problem: chain incomplete: the issuer of \[0\] /CN=srv.example.com is missing: /O=Example/CN=Example Issuing CA " \
	--name srv.example.com --trust "$WORK/trust.pem"

step "an untrusted chain: the server sends its root too, which the bundle does not hold"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$WORK/cas.pem"
probe 1 "^  problem: untrusted: the chain ends at /O=Example/CN=Example Root CA, which is not in the trust bundle .*/other.pem\$" \
	--name srv.example.com --trust "$WORK/other.pem"
# the root not sent: its absence is named
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 1 "^  problem: chain incomplete: the issuer of \[1\] /O=Example/CN=Example Issuing CA is missing: /O=Example/CN=Example Root CA " \
	--name srv.example.com --trust "$WORK/other.pem"

# ---------------------------------------------------------------------
step "an expired certificate (a software CA)"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$SW/old.key" \
	-subj /CN=old.example.com -addext subjectAltName=DNS:old.example.com \
	-addext extendedKeyUsage=serverAuth,clientAuth -out "$SW/old.csr" > /dev/null 2>&1
openssl x509 -req -in "$SW/old.csr" -CA "$WORK/other.pem" -CAkey "$SW/other.key" -days -1 \
	-copy_extensions copy -out "$OUT/old.pem" > /dev/null 2>&1 || fail "the expired certificate"
openssl x509 -in "$OUT/old.pem" -noout -checkend 0 > /dev/null && fail "old.pem has not expired"
serve -key "$SW/old.key" -cert "$OUT/old.pem"
probe 1 "^  problem: certificate \[0\] /CN=old.example.com expired on " --name old.example.com \
	--trust "$WORK/other.pem"

step "an RSA-8192 key (a software CA: ca sign refuses such keys)"
wait "$RSA8192_PID" || fail "no RSA-8192 key"
openssl req -new -key "$SW/rsa8192.key" -subj /CN=big.example.com \
	-addext subjectAltName=DNS:big.example.com -addext extendedKeyUsage=serverAuth \
	-out "$SW/big.csr" > /dev/null 2>&1
openssl x509 -req -in "$SW/big.csr" -CA "$WORK/other.pem" -CAkey "$SW/other.key" -days 2 \
	-copy_extensions copy -out "$OUT/big.pem" > /dev/null 2>&1 || fail "the RSA-8192 certificate"
# with a stapled OCSP response (openssl ocsp, the other CA answering for itself)
_sn=$(serial_of "$OUT/big.pem")
printf 'V\t%s\t\t%s\tunknown\t/CN=big.example.com\n' "$(date -u -d '+2 days' +%y%m%d%H%M%SZ)" "$_sn" \
	> "$WORK/index.txt"
openssl ocsp -issuer "$WORK/other.pem" -cert "$OUT/big.pem" -no_nonce -reqout "$WORK/ocsp.req" \
	> /dev/null 2>&1 || fail "openssl ocsp -reqout"
openssl ocsp -index "$WORK/index.txt" -CA "$WORK/other.pem" -rsigner "$WORK/other.pem" \
	-rkey "$SW/other.key" -reqin "$WORK/ocsp.req" -respout "$WORK/ocsp.der" > /dev/null 2>&1 ||
	fail "openssl ocsp -respout"
serve -key "$SW/rsa8192.key" -cert "$OUT/big.pem" -status_file "$WORK/ocsp.der"
probe 1 "^  problem: certificate \[0\] /CN=big.example.com has an RSA key of 8192 bits: SIP TLS peers fail with RSA keys over 4096 bits\$" \
	--name big.example.com --trust "$WORK/other.pem"
grep -q "problem: .*expired\|problem: chain\|problem: untrusted" "$WORK/out" &&
	fail "the RSA-8192 case has other problems: $(cat "$WORK/out")"
grep -q "^  stapled OCSP: successful, leaf good, produced " "$WORK/out" ||
	fail "no stapled OCSP response shown: $(grep OCSP "$WORK/out")"
serve -key "$SW/rsa8192.key" -cert "$OUT/big.pem"
probe 1 "^  stapled OCSP: none\$" --name big.example.com --trust "$WORK/other.pem"

# ---------------------------------------------------------------------
step "mutual TLS, the client key on the token"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
	-verify_return_error -CAfile "$WORK/cas.pem"
probe 0 "^127.0.0.1:$PORT: fit\$" --name srv.example.com --trust "$WORK/trust.pem" \
	--key "$CLIKEY" --cert "$OUT/cli.pem"
grep -q "client cert: *asked for, sent" "$WORK/out" || fail "no client certificate sent"
grep -q "^depth=0 CN = cli.example.com" "$WORK/srv.log" || fail "the server saw no client certificate"
grep -q "^verify error" "$WORK/srv.log" && fail "the server did not verify our certificate"
for p in 1.2 1.3; do
	serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
		-verify_return_error -CAfile "$WORK/cas.pem" "-tls$(echo $p | tr . _)"
	probe 0 "^  protocol: *TLSv$p," --name srv.example.com --trust "$WORK/trust.pem" \
		--key "$CLIKEY" --cert "$OUT/cli.pem"
done

step "mutual TLS: a serverAuth-only certificate, theirs and ours"
serve -key "$SW/srvonly.key" -cert "$OUT/srvonly.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
	-CAfile "$WORK/cas.pem"
probe 1 "^  problem: the peer's certificate has no clientAuth EKU: in TLS verify mode" \
	--name only.example.com --trust "$WORK/trust.pem" --key "$CLIKEY" --cert "$OUT/cli.pem"
# without mutual TLS the same server is fit
serve -key "$SW/srvonly.key" -cert "$OUT/srvonly.pem" -cert_chain "$OUT/sub.pem"
probe 0 "^127.0.0.1:$PORT: fit\$" --name only.example.com --trust "$WORK/trust.pem"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
	-CAfile "$WORK/cas.pem"
probe 1 "^  problem: our client certificate \(--cert\) has no clientAuth EKU" \
	--name srv.example.com --trust "$WORK/trust.pem" --key "$CLIKEY" \
	--cert "$OUT/cli-server-only.pem"

step "the server refuses our client certificate"
for p in 1.3 1.2; do
	serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
		-verify_return_error -CAfile "$WORK/other.pem" "-tls$(echo $p | tr . _)"
	probe 1 "^  problem: the server refused our client certificate \(alert '" \
		--name srv.example.com --trust "$WORK/trust.pem" --key "$CLIKEY" --cert "$OUT/cli.pem"
done
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem" -Verify 1 \
	-verify_return_error -CAfile "$WORK/cas.pem"
probe 1 "^  problem: the server requires a client certificate and we sent none" \
	--name srv.example.com --trust "$WORK/trust.pem"

# ---------------------------------------------------------------------
step "a revoked certificate (the CRL in the trust bundle)"
serial=$(serial_of "$OUT/rev.pem")
run_ok ca revoke --dir "$S" --reason keyCompromise --serial "$serial"
run_ok ca crl --dir "$S" --pem --out "$WORK/sub.crl"
openssl verify -CAfile "$WORK/cas.pem" -CRLfile "$WORK/sub.crl" -crl_check "$OUT/rev.pem" \
	> /dev/null 2>&1 && fail "openssl verify accepts the revoked certificate"
cat "$WORK/trust.pem" "$WORK/sub.crl" > "$WORK/trust-crl.pem"
serve -key "$SW/rev.key" -cert "$OUT/rev.pem" -cert_chain "$OUT/sub.pem"
probe 1 "^  problem: revoked: certificate \[0\] /CN=rev.example.com is revoked \(keyCompromise\)" \
	--name rev.example.com --trust "$WORK/trust-crl.pem" --revocation crl
# the same server, not revoked, is fit
serve -key "$SW/srv.key" -cert "$OUT/srv.pem" -cert_chain "$OUT/sub.pem"
probe 0 "^127.0.0.1:$PORT: fit\$" --name srv.example.com --trust "$WORK/trust-crl.pem" \
	--revocation crl

# ---------------------------------------------------------------------
step "no connection: a closed port, a listener that never answers"
serve -key "$SW/srv.key" -cert "$OUT/srv.pem"
stop # the port is free again
expect_fail 1 "127.0.0.1 port $PORT: Connection refused" "$P11CA" tls probe "127.0.0.1:$PORT" \
	--trust "$WORK/trust.pem"
one_line "$WORK/err"
[ -s "$WORK/out" ] && fail "output on a refused connection: $(cat "$WORK/out")"
# a socket that listens (the kernel completes the connection) but never talks
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True); time.sleep(30)' > "$WORK/mute.port" &
MUTE_PID=$!
BG="$BG $MUTE_PID"
_n=0
while [ ! -s "$WORK/mute.port" ] && [ $_n -lt 100 ]; do
	sleep 0.1
	_n=$((_n + 1))
done
MUTE=$(cat "$WORK/mute.port")
[ -n "$MUTE" ] || fail "the mute listener did not start"
t0=$(date +%s)
expect_fail 1 "the TLS handshake timed out" "$P11CA" tls probe "127.0.0.1:$MUTE" --timeout 2 \
	--trust "$WORK/trust.pem" --json
t1=$(date +%s)
[ $((t1 - t0)) -le 6 ] || fail "--timeout 2 took $((t1 - t0)) s"
[ -s "$WORK/out" ] && fail "output on a timeout: $(cat "$WORK/out")"
kill "$MUTE_PID" 2> /dev/null || true

pass "tls probe"
