#!/bin/sh
# cert.sh - p11ca cert show|convert|check|install against a throwaway
# SoftHSM2 token and a software test CA made here (root + intermediate):
# keys from `p11ca key gen`, CSRs from `p11ca csr`, certificates from
# `openssl x509 -req`.  show's fields, a byte-identical PEM/DER round trip,
# check passing for a good certificate + token key + chain and reporting
# ERROR (exit 1) for each thing an appliance refuses; install stores the
# certificate next to its key, and refuses a certificate of another key.
. "$top_srcdir/tests/lib.sh"
lib_init cert
new_token cert
TOK="pkcs11:token=cert"

cert() {
	_v=$1
	shift
	"$P11CA" cert "$_v" --module "$MODULE" --pin-file "$PIN_FILE" "$@"
}

# expect_line REGEX: a line of $WORK/out matches (grep -E)
expect_line() {
	grep -Eq -- "$1" "$WORK/out" || {
		cat "$WORK/out" >&2
		fail "no line '$1' in the output"
	}
}

# no_line REGEX
no_line() {
	if grep -Eq -- "$1" "$WORK/out"; then
		cat "$WORK/out" >&2
		fail "unexpected line '$1' in the output"
	fi
}

# check_fails REGEX ARGS...: cert check exits 1 with an ERROR line matching REGEX
check_fails() {
	_re=$1
	shift
	_rc=0
	cert check "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	if [ $_rc -ne 1 ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "cert check exit $_rc (want 1): $*"
	fi
	expect_line "^ERROR: .*$_re"
}

# check_passes ARGS...: cert check exits 0 with no ERROR line
check_passes() {
	run_ok cert check "$@"
	no_line "^ERROR:"
	expect_line "^0 errors"
}

D=$WORK/pki
mkdir -p "$D"

step "a software test CA: root and intermediate"
cat > "$D/ca.cnf" << 'EOF'
[ req ]
distinguished_name = dn
[ dn ]
[ root ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ server ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:vcs.example.com, DNS:cluster.example.com, DNS:peer2.example.com
[ serveronly ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:vcs.example.com
[ wildcard ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:vcs.example.com, DNS:*.example.com
[ plain ]
basicConstraints = CA:FALSE
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:vcs.example.com
EOF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/root.key" 2> /dev/null
openssl req -new -x509 -config "$D/ca.cnf" -extensions root -key "$D/root.key" \
	-subj "/CN=p11ca test root" -days 3650 -out "$D/root.pem" 2> /dev/null ||
	fail "cannot make the root CA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/inter.key" 2> /dev/null
openssl req -new -config "$D/ca.cnf" -key "$D/inter.key" -subj "/CN=p11ca test intermediate" \
	-out "$D/inter.csr" 2> /dev/null || fail "cannot make the intermediate CSR"
openssl x509 -req -in "$D/inter.csr" -CA "$D/root.pem" -CAkey "$D/root.key" -CAcreateserial \
	-days 3000 -extfile "$D/ca.cnf" -extensions inter -out "$D/inter.pem" 2> /dev/null ||
	fail "cannot make the intermediate CA"

# issue CSR OUT EXTENSIONS [DAYS]: the intermediate signs CSR
issue() {
	openssl x509 -req -in "$1" -CA "$D/inter.pem" -CAkey "$D/inter.key" -CAcreateserial \
		-days "${4:-365}" -extfile "$D/ca.cnf" -extensions "$3" -sha256 -out "$2" \
		2> "$WORK/issue.err" || {
		cat "$WORK/issue.err" >&2
		fail "cannot issue $2"
	}
}

step "token keys, CSRs and certificates"
for k in srv:rsa:2048 other:ec:p256; do
	run_ok "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" \
		--label "${k%%:*}" --type "${k#*:}"
done
SRV="$TOK;object=srv"
OTHER="$TOK;object=other"
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --key "$SRV" \
	--fqdn vcs.example.com --cluster cluster.example.com --peer peer2.example.com \
	--out "$D/srv.csr"
issue "$D/srv.csr" "$D/srv.pem" server
issue "$D/srv.csr" "$D/serveronly.pem" serveronly
issue "$D/srv.csr" "$D/wild.pem" wildcard
issue "$D/srv.csr" "$D/short.pem" plain 10
cat "$D/srv.pem" "$D/inter.pem" > "$D/fullchain.pem"

step "show: the summary"
run_ok cert show "$D/srv.pem"
expect_line "^Subject: +/CN=vcs.example.com$"
expect_line "^Issuer: +/CN=p11ca test intermediate$"
SERIAL=$(openssl x509 -in "$D/srv.pem" -noout -serial | sed 's/^serial=//')
expect_line "^Serial: +$SERIAL$"
expect_line "^Not after: .*\(valid, 36[45] days left\)"
expect_line "^Subject alt names: +DNS:vcs.example.com, DNS:cluster.example.com, DNS:peer2.example.com$"
expect_line "^Extended key usage: +serverAuth, clientAuth$"
expect_line "^Key usage: +digitalSignature, keyEncipherment$"
expect_line "^Basic constraints: +CA:FALSE$"
expect_line "^Public key: +RSA, 2048 bits$"
expect_line "^Signature: +ecdsa-with-SHA256$"
FP256=$(openssl x509 -in "$D/srv.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
FP1=$(openssl x509 -in "$D/srv.pem" -noout -fingerprint -sha1 | sed 's/^.*=//')
expect_line "^SHA-256 fingerprint: $FP256$"
expect_line "^SHA-1 fingerprint: +$FP1$"
[ -s "$WORK/err" ] && fail "cert show wrote to stderr: $(cat "$WORK/err")"

step "show: several PEM certificates, --json, --text, DER"
run_ok cert show "$D/fullchain.pem"
expect_line "^Certificate 2 of 2$"
[ "$(grep -c '^Subject:' "$WORK/out")" -eq 2 ] || fail "show did not show both certificates"
expect_line "^Basic constraints: +CA:TRUE, pathlen:0$"
expect_line "^Public key: +EC \(prime256v1\), 256 bits$"
run_ok cert show --json "$D/fullchain.pem"
if command -v python3 > /dev/null 2>&1; then
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 2, v
assert v[0]["subject"] == "/CN=vcs.example.com", v[0]
assert v[0]["extended_key_usage"] == ["serverAuth", "clientAuth"], v[0]
assert v[0]["key_bits"] == 2048 and v[1]["basic_constraints"].startswith("CA:TRUE")
# fingerprints in JSON as trust list --json gives them: lowercase hex, no colons
assert v[0]["sha256_fingerprint"] == sys.argv[2].replace(":", "").lower(), v[0]
' "$WORK/out" "$FP256" || fail "cert show --json: $(cat "$WORK/out")"
else
	skip_part json "python3 is not installed: cert show --json not parsed"
fi
run_ok cert show --text "$D/srv.pem"
expect_line "TLS Web Server Authentication, TLS Web Client Authentication"
expect_line "Modulus:"
openssl x509 -in "$D/srv.pem" -outform DER -out "$D/srv.der"
run_ok cert show "$D/srv.der"
expect_line "^SHA-256 fingerprint: $FP256$"
printf 'garbage, not a certificate\n' > "$D/garbage.txt"
expect_fail 1 "neither a PEM certificate nor a DER" cert show "$D/garbage.txt"
one_line "$WORK/err"
head -c 300 "$D/srv.der" > "$D/trunc.der"
expect_fail 1 "neither a PEM certificate nor a DER" cert show "$D/trunc.der"
sed '5s/^..../!!!!/' "$D/srv.pem" > "$D/broken.pem"
expect_fail 1 "malformed PEM|does not hold a valid certificate" cert show "$D/broken.pem"
one_line "$WORK/err"
expect_fail 2 "needs one FILE" cert show
expect_fail 2 "do not go together" cert show --text --json "$D/srv.pem"

step "convert: PEM <-> DER, byte for byte"
run_ok cert convert "$D/srv.der" "$D/rt.pem"
head -1 "$D/rt.pem" | grep -q "^-----BEGIN CERTIFICATE-----$" || fail "DER did not become PEM"
cmp -s "$D/rt.pem" "$D/srv.pem" || fail "DER -> PEM differs from openssl's PEM"
run_ok cert convert "$D/rt.pem" "$D/rt.der"
cmp -s "$D/rt.der" "$D/srv.der" || fail "the round trip is not byte-identical DER"
run_ok cert convert --to pem "$D/srv.pem" "$D/same.pem"
cmp -s "$D/same.pem" "$D/srv.pem" || fail "--to pem of PEM changed it"
expect_fail 1 "DER holds one" cert convert "$D/fullchain.pem" "$D/chain.der"
[ -e "$D/chain.der" ] && fail "a refused conversion wrote its output"
expect_fail 2 "unknown --to 'p12'" cert convert --to p12 "$D/srv.pem" "$D/x"
for t in "$D"/*.tmp.*; do
	[ -e "$t" ] && fail "a temporary file was left: $t"
done

step "check: a good certificate, token key and chain"
check_passes "$D/srv.pem" --key "$SRV" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--fqdn vcs.example.com --cluster cluster.example.com --peer peer2.example.com
expect_line "^OK: the key matches the certificate$"
expect_line "^OK: chain complete"
expect_line "^OK: extended key usage has serverAuth and clientAuth$"
# the chain may come after the certificate in the same file
check_passes "$D/fullchain.pem" --key "$SRV" --bundle "$D/root.pem" --fqdn vcs.example.com

step "check: what the appliance refuses"
check_fails "does not match" "$D/srv.pem" --key "$OTHER" --chain "$D/inter.pem" \
	--bundle "$D/root.pem"
check_fails "lacks clientAuth" "$D/serveronly.pem" --chain "$D/inter.pem" --bundle "$D/root.pem"
check_fails "SAN DNS:\*\.example\.com is a wildcard" "$D/wild.pem" --chain "$D/inter.pem" \
	--bundle "$D/root.pem"
check_fails "CN is 'vcs.example.com', not the FQDN other.example.com" "$D/srv.pem" \
	--chain "$D/inter.pem" --bundle "$D/root.pem" --fqdn other.example.com
check_fails "SAN lacks DNS:peer3.example.com" "$D/srv.pem" --chain "$D/inter.pem" \
	--bundle "$D/root.pem" --fqdn vcs.example.com --cluster cluster.example.com \
	--peer peer2.example.com --peer peer3.example.com
check_fails "chain incomplete" "$D/srv.pem" --key "$SRV" --bundle "$D/root.pem"
check_fails "expired" "$D/srv.pem" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--at 2100-01-01
check_fails "not valid yet" "$D/srv.pem" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--at 2001-02-03T04:05:06Z
run_ok cert check "$D/short.pem" --chain "$D/inter.pem" --bundle "$D/root.pem"
expect_line "^WARN: the certificate expires in (9|10) days"
check_fails "garbage.txt: neither a PEM certificate nor a DER" "$D/garbage.txt"
# one time syntax and one message for every time option (ca revoke --invalidity-date too)
expect_fail 2 "^p11ca: --at: 'tomorrow' is not a time \(YYYY-MM-DD, " cert check --at tomorrow "$D/srv.pem"
check_fails "expired" "$D/srv.pem" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--at "2100-01-01 00:00:00"
check_fails "expired" "$D/srv.pem" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--at 21000101000000Z

step "check: software key files"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/file.key" 2> /dev/null
openssl req -new -key "$D/file.key" -subj "/CN=vcs.example.com" -out "$D/file.csr" 2> /dev/null
issue "$D/file.csr" "$D/file.pem" plain
check_passes "$D/file.pem" --key "$D/file.key" --chain "$D/inter.pem" --bundle "$D/root.pem" \
	--fqdn vcs.example.com
expect_line "^OK: key .*file.key ends with a newline$"
head -c -1 "$D/file.key" > "$D/nonl.key"
check_fails "does not end with a newline" "$D/file.pem" --key "$D/nonl.key" \
	--chain "$D/inter.pem" --bundle "$D/root.pem"
openssl pkey -in "$D/file.key" -aes256 -passout pass:secret -out "$D/enc.key" 2> /dev/null
check_fails "passphrase-protected" "$D/file.pem" --key "$D/enc.key" \
	--chain "$D/inter.pem" --bundle "$D/root.pem" < /dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/wrong.key" 2> /dev/null
check_fails "does not match" "$D/file.pem" --key "$D/wrong.key" --chain "$D/inter.pem" \
	--bundle "$D/root.pem"

step "check: an RSA-8192 key (slow: a software key)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192 -out "$D/big.key" 2> /dev/null
openssl req -new -key "$D/big.key" -subj "/CN=vcs.example.com" -out "$D/big.csr" 2> /dev/null
issue "$D/big.csr" "$D/big.pem" plain
check_fails "RSA-8192 key: SIP TLS" "$D/big.pem" --key "$D/big.key" --chain "$D/inter.pem" \
	--bundle "$D/root.pem"

step "install: refuses another key's certificate, stores the right one"
expect_fail 1 "does not match the key.*nothing stored" cert install --key "$OTHER" "$D/srv.pem"
one_line "$WORK/err"
run_ok "$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK"
grep -q "^cert" "$WORK/out" && fail "a refused certificate was stored: $(cat "$WORK/out")"
expect_fail 2 "needs --key URI" cert install "$D/srv.pem"
run_ok cert install --key "$SRV" "$D/srv.der"
grep -q "^pkcs11:.*type=cert" "$WORK/out" || fail "install printed no certificate URI: $(cat "$WORK/out")"
CERT_URI=$(cat "$WORK/out")
run_ok "$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK"
KEY_ID=$(awk '$1 == "private" && $4 == "srv" { sub(/^id=/, "", $5); print $5 }' "$WORK/out")
[ -n "$KEY_ID" ] || fail "no private key srv in: $(cat "$WORK/out")"
awk -v id="id=$KEY_ID" '$1 == "cert" && $5 == id { ok = 1 } END { exit !ok }' "$WORK/out" ||
	fail "no certificate with the key's id $KEY_ID: $(cat "$WORK/out")"
[ "$(grep -c '^cert' "$WORK/out")" -eq 1 ] || fail "more than one certificate stored"
run_ok cert install --key "$SRV" "$D/srv.pem"
grep -q "already on the token" "$WORK/err" || fail "a second install did not say so"
[ "$(cat "$WORK/out")" = "$CERT_URI" ] || fail "a second install printed another URI"
run_ok "$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK"
[ "$(grep -c '^cert' "$WORK/out")" -eq 1 ] || fail "the same certificate was stored twice"
# the key's public half and the certificate on the token still agree
run_ok cert check "$D/srv.pem" --key "$SRV" --chain "$D/inter.pem" --bundle "$D/root.pem"
echo "$CERT_URI" | grep -q "object=srv" || fail "the certificate URI does not name the key's label"
pass cert
