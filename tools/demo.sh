#!/bin/sh
# demo.sh BUILD_DIR - the whole p11ca workflow on a throwaway SoftHSM2 token.
# Run through `./quickstart demo`.  Every step says what it did; a step that
# does not give the expected result stops the demo with an error.
set -eu

build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
p11ca="$build/p11ca"
work="$build/demo"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# show a command the way it could be pasted back: quote what needs it
run() {
	printf '$'
	for a in "$@"; do
		case "$a" in
		*[\;\ \&\|\'\"\$\(\)\<\>]*) printf " '%s'" "$a" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
	"$@"
}
die() { echo "demo: $*" >&2; exit 1; }
. "$top/tests/openssl-cnf.sh"

rm -rf "$work"
mkdir -p "$work"
step "1. A throwaway SoftHSM2 token (softhsm-conf/mktoken)"
eval "$("$top/softhsm-conf/mktoken" --dir "$work/token" --label p11ca-demo)"
echo "token 'p11ca-demo' in $P11CA_TOKEN_DIR; its user PIN is in $P11CA_PIN_FILE (never on a command line)"
tok="pkcs11:token=p11ca-demo"
pin="--pin-file $P11CA_PIN_FILE"

step "2. Tokens p11-kit knows about"
run "$p11ca" token list --module softhsm2

step "3. Key pairs generated on the token (private halves sensitive, never extractable)"
run "$p11ca" key gen --token "$tok" $pin --label expressway-rsa --type rsa:2048 --pubout "$work/rsa.pub.pem"
run "$p11ca" key gen --token "$tok" $pin --label expressway-ec --type ec:p256 --pubout "$work/ec.pub.pem" | tee "$work/ec.uri"
run "$p11ca" key gen --token "$tok" $pin --label signer-ed25519 --type ed25519 --pubout "$work/ed.pub.pem"

step "4. An 8192-bit RSA key is refused: such keys break SIP TLS peers"
if "$p11ca" key gen --token "$tok" $pin --label too-big --type rsa:8192 2>"$work/err"; then
	die "rsa:8192 was accepted"
fi
cat "$work/err"

step "5. A certificate signing request by the deployment guide's rules"
echo "a cluster peer: CN = its FQDN, SAN = peer + cluster FQDN, serverAuth and clientAuth (mutual TLS),"
echo "the Microsoft template name so AD CS can issue it; signed on the token"
run "$p11ca" csr --key "$tok;object=expressway-rsa" $pin --org Example --country US \
	--fqdn peer1.example.com --cluster cluster.example.com --ms-template Webclientandserver \
	--out "$work/peer1.csr"
OPENSSL_CONF=/dev/null run openssl req -in "$work/peer1.csr" -noout -verify -subject
OPENSSL_CONF=/dev/null openssl req -in "$work/peer1.csr" -noout -text |
	grep --no-group-separator -A1 -E "Subject Alternative Name|Extended Key Usage|1.3.6.1.4.1.311.20.2" | sed 's/^ */  /'
if "$p11ca" csr --key "$tok;object=expressway-rsa" $pin --fqdn '*.example.com' --out "$work/wild.csr" 2>"$work/err"; then
	die "a wildcard CSR was made"
fi
echo "a wildcard name is refused:"
cat "$work/err"

step "6. A private CA whose key never leaves the token"
run "$p11ca" ca init --dir "$work/ca" --new-key ec:p384 --label demo-root-ca --token "$tok" $pin \
	--subject "/C=US/O=Example/CN=Example Demo Root CA" --crl-url http://pki.example.com/root.crl
OPENSSL_CONF=/dev/null run openssl x509 -in "$work/ca/ca.pem" -noout -subject -ext basicConstraints,keyUsage
echo "ca.conf names the key by URI (no key material, no PIN):"
grep '^key' "$work/ca/ca.conf" | sed 's/^/  /'
echo "it issues the cluster peer's certificate, copying SAN and EKU from the CSR:"
run "$p11ca" ca sign --dir "$work/ca" $pin "$work/peer1.csr" --out "$work/peer1.pem"
OPENSSL_CONF=/dev/null run openssl verify -CAfile "$work/ca/ca.pem" "$work/peer1.pem"
echo "a certificate per peer, three CSRs signed in one call (in parallel):"
for p in peer2 peer3 peer4; do
	"$p11ca" csr --new-key ec:p256 --label "$p" --token "$tok" $pin --org Example --fqdn "$p.example.com" \
		--cluster cluster.example.com --out "$work/$p.csr" > /dev/null
done
mkdir -p "$work/issued"
run "$p11ca" ca sign --dir "$work/ca" $pin --out-dir "$work/issued" "$work/peer2.csr" "$work/peer3.csr" "$work/peer4.csr"
run "$p11ca" ca list --dir "$work/ca"
echo "a CSR asking for CA:TRUE is refused, and nothing is recorded:"
OPENSSL_CONF=/dev/null openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/rogue.key" \
	-subj /CN=rogue.example.com -addext basicConstraints=critical,CA:TRUE -out "$work/rogue.csr" 2>/dev/null
if "$p11ca" ca sign --dir "$work/ca" $pin "$work/rogue.csr" > /dev/null 2> "$work/err"; then
	die "a CA:TRUE request was issued"
fi
cat "$work/err"
revoked=$(ls "$work/issued" | head -n 1)
run "$p11ca" ca revoke --dir "$work/ca" --cert "$work/issued/$revoked" --reason keyCompromise
run "$p11ca" ca crl --dir "$work/ca" $pin --pem --out "$work/ca/root.crl"
OPENSSL_CONF=/dev/null run openssl crl -in "$work/ca/root.crl" -noout -verify -CAfile "$work/ca/ca.pem" -crlnumber
if OPENSSL_CONF=/dev/null openssl verify -crl_check -CRLfile "$work/ca/root.crl" -CAfile "$work/ca/ca.pem" \
	"$work/issued/$revoked" > /dev/null 2>&1; then
	die "the revoked certificate still verifies against the CRL"
fi
echo "the revoked certificate fails 'openssl verify -crl_check'; an OCSP responder can serve the database:"
run "$p11ca" ca export-index --dir "$work/ca" --out "$work/ca/index.txt"

step "7. The certificate comes back: check it, install it next to its key, trust its CA"
run "$p11ca" trust add --bundle "$work/trust.pem" "$work/ca/ca.pem"
run "$p11ca" trust list --bundle "$work/trust.pem"
run "$p11ca" cert check "$work/peer1.pem" --key "$tok;object=expressway-rsa" $pin --bundle "$work/trust.pem" \
	--fqdn peer1.example.com --cluster cluster.example.com
run "$p11ca" cert install --key "$tok;object=expressway-rsa" $pin "$work/peer1.pem"
run "$p11ca" cert show "$work/peer1.pem"
echo "and a certificate for the wrong name is caught:"
"$p11ca" cert check "$work/peer1.pem" --key "$tok;object=expressway-rsa" $pin --bundle "$work/trust.pem" \
	--fqdn peer2.example.com --cluster cluster.example.com | grep ERROR || die "a wrong name passed the check"

step "8. What is on the token"
run "$p11ca" key list --token "$tok" $pin

step "9. Signing on the token, verified by OpenSSL with the public key"
printf 'p11ca demo message\n' > "$work/msg"
run "$p11ca" key sign --key "$tok;object=expressway-rsa" $pin --in "$work/msg" --out "$work/rsa.sig"
run openssl dgst -sha256 -verify "$work/rsa.pub.pem" -signature "$work/rsa.sig" "$work/msg"
run "$p11ca" key sign --key "$tok;object=expressway-ec" $pin --in "$work/msg" --out "$work/ec.sig"
run openssl dgst -sha256 -verify "$work/ec.pub.pem" -signature "$work/ec.sig" "$work/msg"
run "$p11ca" key sign --key "$tok;object=signer-ed25519" $pin --in "$work/msg" --out "$work/ed.sig"
run openssl pkeyutl -verify -pubin -inkey "$work/ed.pub.pem" -rawin -in "$work/msg" -sigfile "$work/ed.sig"

step "10. The same key through OpenSC's pkcs11-tool (interop)"
if command -v pkcs11-tool >/dev/null 2>&1; then
	openssl dgst -sha256 -binary "$work/msg" > "$work/msg.sha256"
	# the key's CKA_ID, from the URI key gen printed
	ecid=$(tail -n 1 "$work/ec.uri" | sed 's/.*;id=\([^;?]*\).*/\1/; s/%//g')
	DEMO_PIN=$(cat "$P11CA_PIN_FILE") pkcs11-tool --module "${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}" \
		--token-label p11ca-demo --login --pin env:DEMO_PIN --sign --mechanism ECDSA --id "$ecid" \
		--signature-format openssl -i "$work/msg.sha256" -o "$work/ec2.sig" >/dev/null 2>&1 \
		|| die "pkcs11-tool could not sign with the p11ca key"
	echo "pkcs11-tool signed with the p11ca-generated EC key (PIN passed through its environment, not argv)"
	run openssl dgst -sha256 -verify "$work/ec.pub.pem" -signature "$work/ec2.sig" "$work/msg"
fi

step "11. OpenSSL itself uses the token keys through the p11ca provider"
openssl_cnf_provider "$build/.libs/p11ca.so" softhsm2 "$P11CA_PIN_FILE" > "$work/openssl.cnf"
echo "an openssl.cnf that loads the provider: $work/openssl.cnf (the PIN comes from a file it names)"
export OPENSSL_CONF="$work/openssl.cnf"
run openssl req -new -x509 -days 30 -key "$tok;object=expressway-ec" -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -addext extendedKeyUsage=serverAuth,clientAuth -out "$work/ec.crt"
OPENSSL_CONF=/dev/null run openssl x509 -in "$work/ec.crt" -noout -subject -ext subjectAltName,extendedKeyUsage
port=$((20000 + $$ % 20000))
openssl s_server -quiet -accept "127.0.0.1:$port" -key "$tok;object=expressway-ec" -cert "$work/ec.crt" \
	-naccept 1 -www > "$work/s_server.log" 2>&1 &
srv=$!
sleep 1
printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null openssl s_client -connect "127.0.0.1:$port" \
	-CAfile "$work/ec.crt" -verify_return_error -tls1_3 -ign_eof > "$work/s_client.log" 2>&1 || true
wait "$srv" 2>/dev/null || true
grep -q "Verify return code: 0" "$work/s_client.log" || die "TLS handshake with the token key failed (see $work/s_client.log)"
echo "TLS 1.3 handshake: openssl s_server signed with the token key; s_client (no provider) verified it:"
grep -E "^(New|Verify return code)" "$work/s_client.log" | awk '!seen[$0]++ { print "  " $0 }'
unset OPENSSL_CONF
echo "'p11ca tls probe' judges a TLS peer as a zone in TLS verify mode does; here s_server serves"
echo "peer1's certificate (its key on the token). Addressed by IP, the peer is not fit:"
port=$((20000 + ($$ + 1) % 20000))
OPENSSL_CONF="$work/openssl.cnf" openssl s_server -quiet -accept "127.0.0.1:$port" \
	-key "$tok;object=expressway-rsa" -cert "$work/peer1.pem" -naccept 2 -www > "$work/s_server2.log" 2>&1 &
srv=$!
sleep 1
if run "$p11ca" tls probe "127.0.0.1:$port" --trust "$work/trust.pem" > "$work/probe1.txt"; then
	die "tls probe passed a peer addressed by IP"
fi
grep -E "^[$]|not fit|problem:" "$work/probe1.txt" | sed 's/^ */  /'
echo "addressed by its FQDN (the zone's Peer address), it is fit:"
run "$p11ca" tls probe "127.0.0.1:$port" --name peer1.example.com --trust "$work/trust.pem" > "$work/probe2.txt" ||
	die "tls probe: $(cat "$work/probe2.txt")"
sed 's/^/  /' "$work/probe2.txt" | head -n 8
wait "$srv" 2>/dev/null || true

step "12. Revocation as the appliance checks it: a CRL from a distribution point, OCSP"
echo "the CA publishes its CRL (DER, as distribution points serve it) on a web server on 127.0.0.1:"
mkdir -p "$work/cdp"
run "$p11ca" ca crl --dir "$work/ca" $pin --out "$work/cdp/root.crl"
cdp_port=$((20000 + ($$ + 7) % 20000))
(cd "$work/cdp" && exec python3 -m http.server --bind 127.0.0.1 "$cdp_port") > "$work/cdp.log" 2>&1 &
cdp_pid=$!
i=0
until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
	"$cdp_port" 2> /dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || die "the distribution point did not start: $(cat "$work/cdp.log")"
	sleep 0.1
done
echo "'crl fetch' downloads it, checks its signature against the trusted CA and stores it:"
run "$p11ca" crl fetch "http://127.0.0.1:$cdp_port/root.crl" --trust "$work/trust.pem" \
	--crl-store "$work/crls" || die "crl fetch failed"
kill "$cdp_pid" 2> /dev/null || true
run "$p11ca" crl list --crl-store "$work/crls"
echo "'verify' looks the peer certificates up in the store: the revoked one is caught,"
if run "$p11ca" verify "$work/issued/$revoked" --trust "$work/trust.pem" --crl-store "$work/crls" \
	--revocation crl --explain; then
	die "verify passed the revoked certificate"
fi
echo "and the good one is fit:"
run "$p11ca" verify "$work/peer1.pem" --trust "$work/trust.pem" --crl-store "$work/crls" --revocation crl ||
	die "verify refused the good certificate"
echo "OCSP and the distribution point: 'p11ca serve' answers from the CA's database with"
echo "responses signed ahead of time by a responder key on the token ('ca responder'), here on 127.0.0.1:"
run "$p11ca" ca responder --dir "$work/ca" $pin --new-key ec:p256
"$p11ca" serve --listen 127.0.0.1:0 --dir "$work/ca" $pin --nonce echo --log none \
	--ready-file "$work/serve.ready" 2> "$work/serve.log" &
serve_pid=$!
i=0
until [ -s "$work/serve.ready" ]; do
	kill -0 "$serve_pid" 2> /dev/null || die "p11ca serve did not start: $(cat "$work/serve.log")"
	i=$((i + 1))
	[ $i -le 300 ] || { kill "$serve_pid"; die "p11ca serve: not ready after 30 s"; }
	sleep 0.1
done
ocsp="http://127.0.0.1:$(cat "$work/serve.ready")"
echo "\$ $p11ca serve --listen 127.0.0.1:0 --dir $work/ca $pin --nonce echo   # listening at $ocsp"
peer=$(ls "$work/issued" | sed -n 2p)
OPENSSL_CONF=/dev/null run openssl ocsp -url "$ocsp/" -issuer "$work/ca/ca.pem" -CAfile "$work/ca/ca.pem" \
	-cert "$work/issued/$peer" -cert "$work/issued/$revoked" 2>&1 | sed "s|$work/issued/||g"
echo "a second peer is revoked; the responder re-signs its answer by itself (no export, no restart):"
run "$p11ca" ca revoke --dir "$work/ca" --cert "$work/issued/$peer" --reason superseded
t0=$(date +%s%N)
i=0
until OPENSSL_CONF=/dev/null openssl ocsp -url "$ocsp/" -issuer "$work/ca/ca.pem" -CAfile "$work/ca/ca.pem" \
	-cert "$work/issued/$peer" > "$work/ocsp.out" 2>&1 && grep -q ": revoked" "$work/ocsp.out"; do
	i=$((i + 1))
	[ $i -le 100 ] || { kill "$serve_pid"; die "the OCSP answer did not say revoked: $(cat "$work/ocsp.out")"; }
	sleep 0.1
done
echo "revoked in the OCSP answer $((($(date +%s%N) - t0) / 1000000)) ms after 'ca revoke':"
sed "s|$work/issued/||" "$work/ocsp.out"
echo "'p11ca verify' asks the same responder (with its nonce, echoed):"
if run "$p11ca" verify "$work/issued/$peer" --trust "$work/trust.pem" --revocation ocsp \
	--ocsp-url "$ocsp/" --explain; then
	kill "$serve_pid"
	die "verify passed the revoked certificate"
fi
run "$p11ca" verify "$work/peer1.pem" --trust "$work/trust.pem" --revocation ocsp --ocsp-url "$ocsp/" ||
	{ kill "$serve_pid"; die "verify refused the good certificate"; }
echo "the distribution point's path is the --crl-url's (/root.crl); its CRL was re-made on the token:"
curl -s --max-time 5 -o "$work/served.crl" "$ocsp/root.crl" || { kill "$serve_pid"; die "GET /root.crl failed"; }
OPENSSL_CONF=/dev/null run openssl crl -inform DER -in "$work/served.crl" -noout -verify \
	-CAfile "$work/ca/ca.pem" -crlnumber
OPENSSL_CONF=/dev/null openssl crl -inform DER -in "$work/served.crl" -noout -text |
	grep -A2 "Serial Number" | sed 's/^ */  /'
run curl -s --max-time 5 "$ocsp/health"
echo
kill -TERM "$serve_pid"
wait "$serve_pid" || die "p11ca serve did not stop cleanly"
echo "SIGTERM: p11ca serve stopped cleanly"

step "13. Signing speed: bare PKCS#11 vs libp11ca, same token, same run"
run "$p11ca" token bench --token "$tok" $pin --seconds 1

step "14. Cleaning up a key by URI"
run "$p11ca" key delete --yes "$tok;object=signer-ed25519" $pin

step "Done"
cat <<MSG
The demo made a SoftHSM2 token and generated RSA-2048, P-256 and Ed25519 keys on it
(never extractable); refused an 8192-bit key; made a CSR for a cluster peer by the
deployment guide's rules and refused a wildcard; ran a private CA with its key on the
token (a root, the peer's certificate, one per peer in one call, a refused CA:TRUE
request, a revocation, a CRL openssl verifies, an index for openssl ocsp); checked the
issued certificate (key, chain, names, EKU), installed it next to its key and kept a
trusted CA bundle; listed
the token's objects with their flags; signed with each key and had OpenSSL verify every
signature; signed with a p11ca key through OpenSC's pkcs11-tool; made a certificate with
'openssl req' and served TLS 1.3 with 'openssl s_server' on the token key through the
p11ca provider; probed a TLS peer as TLS verify mode does (an IP peer address caught);
fetched the CA's CRL from a distribution point into a CRL store and had 'p11ca verify' catch
the revoked certificate through it; ran 'p11ca serve' (OCSP responder and CRL distribution point
with a responder key on the token) and saw a new revocation in its answers at once; measured signing speed against the bare PKCS#11 limit; deleted a key.
Everything is in $work.
MSG
