#!/bin/sh
# provider-req.sh - openssl req -new / req -x509, dgst -sign and pkeyutl -sign
# with RSA, EC P-256, EC P-384 and Ed25519 token keys through the p11ca
# provider; every CSR, certificate and signature checked with the default
# provider, and the certificates' keys compared with `p11ca key gen --pubout`.
. "$top_srcdir/tests/provider-lib.sh"

keygen rsa rsa:2048
keygen ec256 ec:p256
keygen ec384 ec:p384
keygen ed ed25519

# sigalg FILE KIND WANT: the signature algorithm named in a CSR or certificate
sigalg() {
	plain "$2" -in "$1" -noout -text > "$dir/text" 2>&1 || fail "cannot print $1"
	expect_in "$dir/text" "Signature Algorithm: $3" "$1 signature algorithm"
}

for k in rsa:sha256WithRSAEncryption:-sha256 ec256:ecdsa-with-SHA256:-sha256 \
	ec384:ecdsa-with-SHA384:-sha384 ed:ED25519:; do
	l=${k%%:*}
	rest=${k#*:}
	alg=${rest%%:*}
	md=${rest#*:}
	# a CSR: self-signature verified, public key the token key's
	run "req -new with $l" p11 req -new -key "$(key "$l")" -subj "/CN=csr-$l" $md -out "$dir/$l.csr"
	csr_verify "$dir/$l.csr" "$l CSR"
	plain req -in "$dir/$l.csr" -noout -pubkey > "$dir/csr.pub" 2> /dev/null || fail "no key in $l CSR"
	plain pkey -pubin -in "$dir/$l.pub" > "$dir/want.pub"
	cmp -s "$dir/csr.pub" "$dir/want.pub" || fail "the $l CSR does not carry the token key"
	sigalg "$dir/$l.csr" req "$alg"
	ok "req -new with $l ($alg)"
	# a self-signed certificate
	selfsign "$l" "ca-$l" $md
	sigalg "$dir/$l.crt" x509 "$alg"
	ok "req -x509 with $l ($alg): verifies, same public key as p11ca key gen --pubout"
done

# the checks can fail: a certificate does not verify against another key's
run_fails "RSA certificate verified with the EC certificate as CA" \
	plain verify -CAfile "$dir/ec256.crt" "$dir/rsa.crt"
# a CSR with one bit of its signature (the last byte of the DER) flipped
plain req -in "$dir/rsa.csr" -outform DER -out "$dir/bad.der"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[1], "wb").write(b)' \
	"$dir/bad.der" || fail "python3 is needed"
plain req -verify -noout -inform DER -in "$dir/bad.der" > "$dir/out" 2>&1 || true
if grep -q "verify OK" "$dir/out"; then
	fail "a CSR with a damaged signature verified"
fi
ok "the checks reject a wrong CA and a damaged signature"

# dgst -sign: PKCS#1 v1.5, PSS (by the token and emulated over raw RSA), ECDSA
printf 'p11ca provider test message\n' > "$dir/msg"
printf 'p11ca provider test messagf\n' > "$dir/msg2"
dgst_check() { # LABEL MD WHAT [sigopts...]
	l=$1
	md=$2
	what=$3
	shift 3
	run "dgst -sign $what" p11 dgst "$md" -sign "$(key "$l")" "$@" -out "$dir/sig" "$dir/msg"
	run "dgst -verify $what" plain dgst "$md" -verify "$dir/$l.pub" "$@" -signature "$dir/sig" "$dir/msg"
	expect_in "$dir/out" "^Verified OK" "$what"
	run_fails "$what verified over another message" \
		plain dgst "$md" -verify "$dir/$l.pub" "$@" -signature "$dir/sig" "$dir/msg2"
	ok "dgst $md -sign: $what"
}
dgst_check rsa -sha256 "RSA PKCS#1 v1.5"
dgst_check rsa -sha384 "RSA PKCS#1 v1.5 SHA-384"
dgst_check rsa -sha256 "RSA-PSS" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
export P11CA_EMULATE_PSS=1
dgst_check rsa -sha256 "RSA-PSS emulated over raw RSA" -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:-1
unset P11CA_EMULATE_PSS
dgst_check ec256 -sha256 "ECDSA P-256"
dgst_check ec384 -sha384 "ECDSA P-384"

# raw RSA (RSA_NO_PADDING: CKM_RSA_X_509, issue 12): a 256-byte block below the
# modulus, signed as it is (rsautl -raw: OpenSSL 3.0's pkeyutl refuses inputs
# longer than a digest); the public key recovers exactly that block
python3 -c 'import os, sys; open(sys.argv[1], "wb").write(b"\x00\x01" + os.urandom(254))' \
	"$dir/block" || fail "python3 is needed"
run "rsautl -sign -raw" p11 rsautl -sign -raw -inkey "$(key rsa)" -in "$dir/block" -out "$dir/sig"
run "pkeyutl -verifyrecover pad-mode:none" plain pkeyutl -verifyrecover -pubin -inkey "$dir/rsa.pub" \
	-pkeyopt pad-mode:none -in "$dir/sig" -out "$dir/back"
cmp -s "$dir/block" "$dir/back" || fail "raw RSA: the recovered block is not the one signed"
head -c 100 "$dir/block" > "$dir/short"
run_fails "raw RSA over a block shorter than the modulus" p11 rsautl -sign -raw \
	-inkey "$(key rsa)" -in "$dir/short" -out "$dir/sig3"
ok "rsautl -sign -raw: raw RSA on the token (CKM_RSA_X_509), recovered by the public key"

# Ed25519 signs the message itself
run "pkeyutl -sign Ed25519" p11 pkeyutl -sign -inkey "$(key ed)" -rawin -in "$dir/msg" -out "$dir/sig"
run "pkeyutl -verify Ed25519" plain pkeyutl -verify -pubin -inkey "$dir/ed.pub" -rawin \
	-in "$dir/msg" -sigfile "$dir/sig"
expect_in "$dir/out" "Signature Verified Successfully" "Ed25519 signature"
run_fails "Ed25519 signature verified over another message" plain pkeyutl -verify -pubin \
	-inkey "$dir/ed.pub" -rawin -in "$dir/msg2" -sigfile "$dir/sig"
ok "pkeyutl -sign: Ed25519"

# the public key by URI (expect = public key) is the token key's
run "pkey -pubin by URI" p11 pkey -pubin -in "$(key ec384)" -pubout -out "$dir/uri.pub"
plain pkey -pubin -in "$dir/ec384.pub" -pubout > "$dir/want.pub"
cmp -s "$dir/uri.pub" "$dir/want.pub" || fail "pkey -pubin by URI gave another key"
ok "pkey -pubin by URI gives the token's public key"

# The minimal configuration: module + activate, modules from p11-kit, the PIN
# from P11CA_PIN.  Only where SoftHSM2 is registered with p11-kit.
if command -v p11-kit > /dev/null 2>&1 && p11-kit list-modules 2> /dev/null | grep -q '^softhsm2:'; then
	printf 'openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n[provider_sect]\ndefault = default_sect\np11ca = p11ca_sect\n[default_sect]\nactivate = 1\n[p11ca_sect]\nmodule = %s\nactivate = 1\n' \
		"$P11CA_PROVIDER" > "$dir/minimal.cnf"
	P11CA_PIN=$(cat "$pin_file")
	export P11CA_PIN
	run "req -new with the minimal [p11ca_sect] and P11CA_PIN" env OPENSSL_CONF="$dir/minimal.cnf" \
		openssl req -new -key "$(key ec256)" -subj /CN=minimal -out "$dir/min.csr"
	unset P11CA_PIN
	csr_verify "$dir/min.csr" "minimal configuration"
	ok "a two-line [p11ca_sect] with P11CA_PIN is enough"
else
	skip_part p11-kit-registry "SoftHSM2 is not registered with p11-kit: minimal configuration not tried"
fi

done_ok
