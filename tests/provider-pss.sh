#!/bin/sh
# provider-pss.sh - RSA keys restricted by CKA_ALLOWED_MECHANISMS (SoftHSM2
# enforces them): a key that allows only CKM_SHA256_RSA_PKCS_PSS signs with
# that mechanism over the whole message (openssl dgst, req, x509 -signkey,
# TLS 1.3), is presented as an RSA-PSS key (rsassaPss public key in the
# CSR, matches its rsassaPss certificate in s_server), and a signature no
# allowed mechanism makes fails with a message naming the allowed ones.
# Keys allowing CKM_RSA_PKCS_PSS sign digests as before; CKM_SHA256_RSA_PKCS
# keys stay RSA keys signing PKCS#1 v1.5; an unrestricted RSA key does not
# match an rsassaPss certificate (OpenSSL 3.0 does the same with a software
# key).  Keys by pkcs11-tool --allowed-mechanisms and by p11ca key gen
# --pss-only (CSR by p11ca csr); every signature is checked with the
# default provider.
. "$top_srcdir/tests/provider-lib.sh"

command -v timeout > /dev/null 2>&1 || skip "no timeout command"
command -v pkcs11-tool > /dev/null 2>&1 || skip "no pkcs11-tool"
[ -n "${SOFTHSM_MODULE:-}" ] || skip "no SoftHSM2 module path for pkcs11-tool"

# ptgen LABEL ID MECHS: an RSA-2048 pair by pkcs11-tool, the private key
# allowing only MECHS
ptgen() {
	PT_PIN=$(cat "$pin_file")
	export PT_PIN
	run "pkcs11-tool --keypairgen $1 ($3)" pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label "$test_name" --login --pin env:PT_PIN --keypairgen --key-type rsa:2048 \
		--label "$1" --id "$2" --allowed-mechanisms "$3"
	unset PT_PIN
	# the private key's public half (the public-key object is a plain RSA one)
	run "public key of $1" p11 pkey -in "$(key "$1");type=private" -pubout -out "$dir/$1.pub"
}

echo "a message to sign" > "$dir/msg"

# sign_check LABEL WHAT DGST [sigopts...]: openssl dgst -sign through p11ca,
# verified with the default provider and the public key
sign_check() {
	_l=$1
	_w=$2
	_d=$3
	shift 3
	run "dgst -sign: $_w" p11 dgst "-$_d" -sign "$(key "$_l")" "$@" -out "$dir/sig" "$dir/msg"
	run "dgst -verify: $_w" plain dgst "-$_d" -verify "$dir/$_l.pub" "$@" -signature "$dir/sig" \
		"$dir/msg"
	expect_in "$dir/out" "Verified OK" "$_w"
	ok "$_w"
}

# ---- a key that allows only CKM_SHA256_RSA_PKCS_PSS ----
ptgen pss 01 SHA256-RSA-PKCS-PSS
# presented as an RSA-PSS key: its public key is an rsassaPss one
plain asn1parse -in "$dir/pss.pub" > "$dir/out" 2>&1 || fail "read pss.pub"
expect_in "$dir/out" "OBJECT +:rsassaPss" "the PSS-only key is an RSA-PSS key"
sign_check pss "PSS-only key: dgst -sha256 -sign (CKM_SHA256_RSA_PKCS_PSS)" sha256 \
	-sigopt rsa_padding_mode:pss
sign_check pss "PSS-only key: salt length 32" sha256 -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32
# nothing it allows makes a SHA-384 signature: one clear line
run_fails "PSS-only key, SHA-384" p11 dgst -sha384 -sign "$(key pss)" -sigopt rsa_padding_mode:pss \
	-out "$dir/sig" "$dir/msg"
expect_in "$dir/out" "is not allowed: the key allows only CKM_SHA256_RSA_PKCS_PSS" \
	"the refusal names the allowed mechanism"
# ... nor a signature over a digest (pkeyutl hands p11ca the digest)
openssl dgst -sha256 -binary "$dir/msg" > "$dir/msg.dgst"
run_fails "PSS-only key, pkeyutl over a digest" p11 pkeyutl -sign -inkey "$(key pss)" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -in "$dir/msg.dgst" -out "$dir/sig"
expect_in "$dir/out" "RSA-PSS signing of a digest with key 'pss' is not allowed: .*CKM_SHA256_RSA_PKCS_PSS" \
	"the digest refusal names the allowed mechanism"
ok "a signature no allowed mechanism makes is refused, naming CKM_SHA256_RSA_PKCS_PSS"

# a CSR: rsassaPss public key, PSS signature
run "req -new with the PSS-only key" p11 req -new -key "$(key pss)" -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -out "$dir/pss.csr"
csr_verify "$dir/pss.csr" "PSS-only key CSR"
run "req -text" plain req -in "$dir/pss.csr" -noout -text
expect_in "$dir/out" "Public Key Algorithm: rsassaPss" "the CSR's public key is rsassaPss"
expect_in "$dir/out" "Signature Algorithm: rsassaPss" "the CSR is signed with PSS"
ok "openssl req -new: rsassaPss SubjectPublicKeyInfo, PSS signature"

# a self-signed certificate: x509 -req -signkey
run "x509 -req -signkey" p11 x509 -req -days 2 -in "$dir/pss.csr" -signkey "$(key pss)" \
	-out "$dir/self.crt"
run "verify the self-signed certificate" plain verify -CAfile "$dir/self.crt" "$dir/self.crt"
ok "openssl x509 -req -signkey with the PSS-only key"

# its certificate from a software CA, then TLS 1.3 with s_server -key pkcs11:
run "software CA" plain req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -subj /CN=soft-ca \
	-days 2 -out "$dir/ca.crt"
printf 'subjectAltName=DNS:localhost\n' > "$dir/san.ext"
run "the CA issues the PSS-only key's certificate" plain x509 -req -in "$dir/pss.csr" -CA "$dir/ca.crt" \
	-CAkey "$dir/ca.key" -CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/pss.crt"
run "x509 -text" plain x509 -in "$dir/pss.crt" -noout -text
expect_in "$dir/out" "Public Key Algorithm: rsassaPss" "the certificate's public key is rsassaPss"
serve "$cnf" -key "$(key pss)" -cert "$dir/pss.crt"
fetch /dev/null "PSS-only key, TLS 1.3" -CAfile "$dir/ca.crt" -verify_hostname localhost -tls1_3
tls_check "PSS-only key, TLS 1.3" TLSv1.3
expect_in "$dir/cli.log" "^Peer signature type: RSA-PSS\$" "PSS-only key, TLS 1.3: signature"
ok "s_server -key pkcs11: (PSS-only key) -cert rsassaPss certificate: TLS 1.3"

# ---- a key that allows CKM_RSA_PKCS_PSS: the digest is signed (as before) ----
ptgen pssd 02 RSA-PKCS-PSS
sign_check pssd "key allowing CKM_RSA_PKCS_PSS: dgst -sha384 -sign" sha384 -sigopt rsa_padding_mode:pss

# ---- PKCS#1 v1.5 keys restricted to CKM_SHA256_RSA_PKCS ----
ptgen p1 03 SHA256-RSA-PKCS
plain asn1parse -in "$dir/p1.pub" > "$dir/out" 2>&1 || fail "read p1.pub"
expect_in "$dir/out" "OBJECT +:rsaEncryption" "a key allowing CKM_SHA256_RSA_PKCS stays an RSA key"
sign_check p1 "key allowing CKM_SHA256_RSA_PKCS: dgst -sha256 -sign" sha256
run "req -x509 with the CKM_SHA256_RSA_PKCS key" p11 req -new -x509 -days 2 -key "$(key p1)" \
	-subj /CN=p1 -out "$dir/p1.crt"
run "verify the p1 certificate" plain verify -CAfile "$dir/p1.crt" "$dir/p1.crt"
run_fails "CKM_SHA256_RSA_PKCS key, PSS" p11 dgst -sha256 -sign "$(key p1)" \
	-sigopt rsa_padding_mode:pss -out "$dir/sig" "$dir/msg"
expect_in "$dir/out" "not allowed: the key allows only CKM_SHA256_RSA_PKCS " \
	"the PSS refusal names the allowed mechanism"
ok "a CKM_SHA256_RSA_PKCS key signs PKCS#1 v1.5 with SHA-256 only"

# ---- an unrestricted RSA key with an rsassaPss certificate: refused, as
# OpenSSL 3.0 refuses a software RSA key with one ----
keygen n rsa:2048
# the key's public key as an rsassaPss SubjectPublicKeyInfo (same RSAPublicKey)
plain pkey -pubin -in "$dir/n.pub" -outform DER -out "$dir/n.der" 2> "$dir/out" || fail "n.pub"
hex=$(plain asn1parse -inform DER -in "$dir/n.der" -strparse 19 -noout -out - | od -An -v -tx1 | tr -d ' \n')
printf 'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:%s\n[alg]\noid=OID:rsassaPss\n' \
	"$hex" > "$dir/spki.cnf"
run "rsassaPss SPKI of n" plain asn1parse -genconf "$dir/spki.cnf" -noout -out "$dir/n-pss.der"
run "rsassaPss public key of n" plain pkey -pubin -inform DER -in "$dir/n-pss.der" -out "$dir/n-pss.pub"
run "rsassaPss certificate for n" plain x509 -req -in "$dir/pss.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-force_pubkey "$dir/n-pss.pub" -days 2 -out "$dir/n-pss.crt"
run_fails "s_server: an RSA key with an rsassaPss certificate" timeout 30 env OPENSSL_CONF="$cnf" \
	openssl s_server -accept 127.0.0.1:0 -naccept 1 -key "$(key n)" -cert "$dir/n-pss.crt"
expect_in "$dir/out" "[Kk]ey values mismatch|[Pp]rivate key does not match" \
	"s_server with an RSA key and an rsassaPss certificate"
ok "an RSA key (not PSS-only) does not match an rsassaPss certificate, as in OpenSSL 3.0"

# ---- a PSS-only key by p11ca key gen --pss-only, its CSR by p11ca csr ----
keygen ppss rsa:2048 --pss-only
plain asn1parse -in "$dir/ppss.pub" > "$dir/out" 2>&1 || fail "read ppss.pub"
expect_in "$dir/out" "OBJECT +:rsassaPss" "key gen --pss-only --pubout: an rsassaPss public key"
# the private key carries the PSS mechanisms as its CKA_ALLOWED_MECHANISMS
# (SoftHSM2 2.6.1 enforces them, though not on every token state: not checked)
PT_PIN=$(cat "$pin_file")
export PT_PIN
run "pkcs11-tool -O" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$test_name" --login \
	--pin env:PT_PIN -O --type privkey --label ppss
unset PT_PIN
expect_in "$dir/out" "Allowed mechanisms: RSA-PKCS-PSS,SHA1-RSA-PKCS-PSS,SHA256-RSA-PKCS-PSS,SHA384-RSA-PKCS-PSS,SHA512-RSA-PKCS-PSS,SHA224-RSA-PKCS-PSS$" \
	"key gen --pss-only: CKA_ALLOWED_MECHANISMS"
sign_check ppss "key gen --pss-only: dgst -sha384 -sign (CKM_RSA_PKCS_PSS)" sha384
run "p11ca csr with the --pss-only key" "$P11CA" csr --module "$module" --pin-file "$pin_file" \
	--key "$(key ppss)" --fqdn pss.example.org --out "$dir/ppss.csr"
csr_verify "$dir/ppss.csr" "p11ca csr, PSS-only key"
run "req -text" plain req -in "$dir/ppss.csr" -noout -text
expect_in "$dir/out" "Public Key Algorithm: rsassaPss" "p11ca csr: the public key is rsassaPss"
expect_in "$dir/out" "Signature Algorithm: rsassaPss" "p11ca csr: the CSR is signed with PSS"
# the request's key is the token key
plain req -in "$dir/ppss.csr" -noout -pubkey > "$dir/csr.pub"
plain pkey -pubin -in "$dir/ppss.pub" > "$dir/want.pub"
cmp -s "$dir/csr.pub" "$dir/want.pub" || fail "p11ca csr: the CSR's key is not the --pss-only key"
ok "p11ca key gen --pss-only, p11ca csr: rsassaPss key, PSS signature"

done_ok
