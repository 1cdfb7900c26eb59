#!/bin/sh
# provider-ca.sh - CA work with the CA key on the token through the p11ca
# provider: openssl x509 -req -CAkey pkcs11:... (RSA PKCS#1 v1.5, RSA-PSS,
# ECDSA), openssl ca issuing from a minimal CA directory, revoking and
# -gencrl.  Chains, the CRL and the revocation are checked with the default
# provider.
. "$top_srcdir/tests/provider-lib.sh"

keygen rsa rsa:2048
keygen ec256 ec:p256
keygen ec384 ec:p384
selfsign rsa "Test Root RSA"
selfsign ec256 "Test Root P-256"
selfsign ec384 "Test Root P-384"

# leaf requests made with software keys, by the default provider
for n in 1 2; do
	run "leaf CSR $n" plain req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/leaf$n.key" -subj "/CN=leaf$n.example" -out "$dir/leaf$n.csr"
done
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:leaf.example\n' \
	> "$dir/leaf.ext"

# x509 -req -CAkey: LABEL WHAT SIGALG [options...]
issue() {
	l=$1
	what=$2
	alg=$3
	shift 3
	run "x509 -req -CAkey $what" p11 x509 -req -in "$dir/leaf1.csr" -CA "$dir/$l.crt" \
		-CAkey "$(key "$l")" -set_serial 0x1234 -days 2 -extfile "$dir/leaf.ext" "$@" -out "$dir/leaf.pem"
	run "verify the chain ($what)" plain verify -x509_strict -purpose sslserver -CAfile "$dir/$l.crt" \
		"$dir/leaf.pem"
	expect_in "$dir/out" "leaf.pem: OK" "chain ($what)"
	plain x509 -in "$dir/leaf.pem" -noout -text > "$dir/text" 2>&1
	expect_in "$dir/text" "Signature Algorithm: $alg" "signature algorithm ($what)"
	# issued for the CSR's key, not the CA's
	plain req -in "$dir/leaf1.csr" -noout -pubkey > "$dir/want.pub"
	plain x509 -in "$dir/leaf.pem" -noout -pubkey > "$dir/got.pub"
	cmp -s "$dir/want.pub" "$dir/got.pub" || fail "x509 -req ($what) certified another key"
	ok "x509 -req -CAkey pkcs11: $what"
}
issue rsa "RSA PKCS#1 v1.5" sha256WithRSAEncryption
issue rsa "RSA PKCS#1 v1.5, SHA-512" sha512WithRSAEncryption -sha512
issue rsa "RSA-PSS" rsassaPss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
expect_in "$dir/text" "Salt Length: 0x20" "RSA-PSS salt length in the certificate"
expect_in "$dir/text" "Mask Algorithm: mgf1 with sha256" "RSA-PSS MGF1 in the certificate"
issue rsa "RSA-PSS, digest-length salt, SHA-384" rsassaPss -sha384 -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:digest
expect_in "$dir/text" "Salt Length: 0x30" "RSA-PSS digest-length salt in the certificate"
issue ec256 "ECDSA P-256" ecdsa-with-SHA256
issue ec384 "ECDSA P-384, SHA-384" ecdsa-with-SHA384 -sha384
# the check can fail: the leaf does not chain to another root
run_fails "leaf verified against the wrong root" plain verify -CAfile "$dir/rsa.crt" "$dir/leaf.pem"

# ---- openssl ca: a minimal CA directory ----
ca=$dir/ca
mkdir -p "$ca/new"
: > "$ca/index.txt"
echo 1000 > "$ca/serial"
echo 01 > "$ca/crlnumber"
cat > "$ca/ca.cnf" << EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $ca
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir/new
default_md = sha256
default_days = 30
default_crl_days = 7
policy = policy_cn
unique_subject = no
x509_extensions = leaf_ext
[policy_cn]
commonName = supplied
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
# the ca command reads its own -config; the provider comes from OPENSSL_CONF
for n in 1 2; do
	run "openssl ca issuing leaf$n" p11 ca -batch -config "$ca/ca.cnf" -keyfile "$(key ec256)" \
		-cert "$dir/ec256.crt" -in "$dir/leaf$n.csr" -out "$dir/ca-leaf$n.pem"
	run "verify the ca-issued leaf$n" plain verify -x509_strict -purpose sslserver \
		-CAfile "$dir/ec256.crt" "$dir/ca-leaf$n.pem"
	expect_in "$dir/out" "ca-leaf$n.pem: OK" "ca-issued leaf$n chain"
done
expect_in "$ca/index.txt" "^V.*CN=leaf1.example" "the CA database lists leaf1"
expect_in "$ca/index.txt" "^V.*CN=leaf2.example" "the CA database lists leaf2"
ok "openssl ca -keyfile pkcs11: issues certificates that verify"

run "openssl ca -revoke" p11 ca -config "$ca/ca.cnf" -keyfile "$(key ec256)" -cert "$dir/ec256.crt" \
	-revoke "$dir/ca-leaf1.pem" -crl_reason keyCompromise
run "openssl ca -gencrl" p11 ca -config "$ca/ca.cnf" -keyfile "$(key ec256)" -cert "$dir/ec256.crt" \
	-gencrl -out "$dir/ca.crl"
run "crl -verify" plain crl -in "$dir/ca.crl" -noout -CAfile "$dir/ec256.crt" -verify
expect_in "$dir/out" "verify OK" "the CRL signature"
plain crl -in "$dir/ca.crl" -noout -text > "$dir/text"
expect_in "$dir/text" "Signature Algorithm: ecdsa-with-SHA256" "CRL signature algorithm"
expect_in "$dir/text" "Serial Number: 1000" "the revoked certificate in the CRL"
# the CRL works: leaf1 is revoked, leaf2 is not
cat "$dir/ec256.crt" "$dir/ca.crl" > "$dir/trust+crl.pem"
run_fails "a revoked certificate verified" plain verify -crl_check -CAfile "$dir/trust+crl.pem" \
	"$dir/ca-leaf1.pem"
expect_in "$dir/out" "certificate revoked" "revocation seen through the CRL"
run "verify the unrevoked leaf with the CRL" plain verify -crl_check -CAfile "$dir/trust+crl.pem" \
	"$dir/ca-leaf2.pem"
# the check can fail: the CRL does not verify with another CA's key
plain crl -in "$dir/ca.crl" -noout -CAfile "$dir/rsa.crt" -verify > "$dir/out" 2>&1 || true
if grep -q "verify OK" "$dir/out"; then
	fail "the CRL verified with the wrong CA"
fi
ok "openssl ca -gencrl: the CRL verifies and revokes"

# an RSA-PSS CRL from the RSA root
run "openssl ca -gencrl RSA-PSS" p11 ca -config "$ca/ca.cnf" -keyfile "$(key rsa)" -cert "$dir/rsa.crt" \
	-gencrl -sigopt rsa_padding_mode:pss -out "$dir/pss.crl"
run "crl -verify RSA-PSS" plain crl -in "$dir/pss.crl" -noout -CAfile "$dir/rsa.crt" -verify
expect_in "$dir/out" "verify OK" "the RSA-PSS CRL signature"
plain crl -in "$dir/pss.crl" -noout -text > "$dir/text"
expect_in "$dir/text" "Signature Algorithm: rsassaPss" "RSA-PSS CRL signature algorithm"
ok "openssl ca -gencrl with RSA-PSS"

done_ok
