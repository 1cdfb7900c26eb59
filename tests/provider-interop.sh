#!/bin/sh
# provider-interop.sh - the p11ca provider and OpenSC's pkcs11-tool on the
# same token: keys pkcs11-tool generated work through the provider (req -x509,
# verified; pkcs11-tool signs with the key the certificate names), a key from
# `p11ca key gen` signs through pkcs11-tool, and certificates pkcs11-tool
# stored on the token are loaded by value through the provider's STORE
# (x509 -in pkcs11:..., s_server -cert pkcs11:...), and a key without
# public-key object takes its public half from its certificate on the token.
. "$top_srcdir/tests/provider-lib.sh"

command -v pkcs11-tool > /dev/null 2>&1 || skip "no pkcs11-tool (opensc)"
[ -n "${SOFTHSM_MODULE:-}" ] || skip "no SoftHSM2 module path"
command -v timeout > /dev/null 2>&1 || skip "no timeout command"

# pkcs11-tool reads the PIN from this variable (not argv)
IOP_PIN=$(cat "$pin_file")
export IOP_PIN
p11tool() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$test_name" --login --pin env:IOP_PIN "$@"
}

printf 'interop message\n' > "$dir/msg"

# ptsign ID MECH MD: pkcs11-tool signs $dir/msg into $dir/pt.sig (OpenSSL
# format).  SoftHSM2 has no ECDSA-with-hash mechanisms: for ECDSA, MD is the
# digest pkcs11-tool is handed instead of the message.  By id: pkcs11-tool
# 0.23 picks a wrong key by --label alone once the token holds two key types.
ptsign() {
	_in=$dir/msg
	if [ "$2" = ECDSA ]; then
		plain dgst "-$3" -binary -out "$dir/msg.dgst" "$dir/msg"
		_in=$dir/msg.dgst
	fi
	run "pkcs11-tool --sign --id $1 --mechanism $2" p11tool --sign --id "$1" --mechanism "$2" \
		--signature-format openssl -i "$_in" -o "$dir/pt.sig"
}

# ---- keys made by pkcs11-tool, used through the provider ----
run "pkcs11-tool --keypairgen RSA" p11tool --keypairgen --key-type rsa:2048 --label pt-rsa --id a1
run "pkcs11-tool --keypairgen EC" p11tool --keypairgen --key-type EC:prime256v1 --label pt-ec --id a2
for k in pt-rsa:a1:SHA256-RSA-PKCS pt-ec:a2:ECDSA; do
	l=${k%%:*}
	rest=${k#*:}
	kid=${rest%%:*}
	mech=${rest#*:}
	run "req -x509 with the pkcs11-tool key $l" p11 req -new -x509 -days 2 -key "$(key "$l")" \
		-subj "/CN=$l" -addext keyUsage=critical,digitalSignature,keyCertSign -out "$dir/$l.crt"
	run "verify the $l certificate" plain verify -CAfile "$dir/$l.crt" "$dir/$l.crt"
	expect_in "$dir/out" "$l.crt: OK" "$l certificate"
	plain x509 -in "$dir/$l.crt" -noout -pubkey > "$dir/$l.pub"
	# pkcs11-tool signs with the key the certificate names
	ptsign "$kid" "$mech" sha256
	run "verify the pkcs11-tool signature ($l) with the certificate's key" plain dgst -sha256 \
		-verify "$dir/$l.pub" -signature "$dir/pt.sig" "$dir/msg"
	# and the provider signs what the same public key verifies
	run "dgst -sign with $l" p11 dgst -sha256 -sign "$(key "$l")" -out "$dir/sig" "$dir/msg"
	run "dgst -verify ($l)" plain dgst -sha256 -verify "$dir/$l.pub" -signature "$dir/sig" "$dir/msg"
	ok "a key pkcs11-tool generated ($l) works through the provider"
done
# pkcs11-tool exports the RSA public key itself: it is the one in the certificate
run "pkcs11-tool --read-object pubkey" p11tool --read-object --type pubkey --label pt-rsa -o "$dir/pt-rsa.der"
plain pkey -pubin -inform DER -in "$dir/pt-rsa.der" > "$dir/want.pub"
cmp -s "$dir/want.pub" "$dir/pt-rsa.pub" || fail "the certificate's key is not pkcs11-tool's public key"
ok "the provider's certificate carries the public key pkcs11-tool reads"
# the check can fail: another key's signature does not verify
ptsign a2 ECDSA sha256
run_fails "pt-ec's signature verified with pt-rsa's key" plain dgst -sha256 -verify "$dir/pt-rsa.pub" \
	-signature "$dir/pt.sig" "$dir/msg"

# ---- a key from p11ca key gen, used through pkcs11-tool ----
keygen gen-ec ec:p384
id=$(sed -n 's/.*;id=\([^;]*\).*/\1/p' "$dir/gen-ec.uri" | tr -d '%')
[ -n "$id" ] || fail "no id in the URI p11ca key gen printed"
ptsign "$id" ECDSA sha384
run "verify the pkcs11-tool signature with p11ca's public key" plain dgst -sha384 \
	-verify "$dir/gen-ec.pub" -signature "$dir/pt.sig" "$dir/msg"
ok "a key from p11ca key gen signs through pkcs11-tool"

# ---- certificates on the token, loaded by value through the STORE ----
ku=digitalSignature,keyCertSign selfsign gen-ec localhost -addext subjectAltName=DNS:localhost
plain x509 -in "$dir/gen-ec.crt" -outform DER -out "$dir/gen-ec.der"
run "pkcs11-tool --write-object cert" p11tool --write-object "$dir/gen-ec.der" --type cert \
	--id "$id" --label gen-ec
run "x509 -in pkcs11: (certificate by URI)" p11 x509 -in "$tok;object=gen-ec;type=cert" \
	-out "$dir/fromtoken.pem"
plain x509 -in "$dir/gen-ec.crt" > "$dir/want.pem"
cmp -s "$dir/fromtoken.pem" "$dir/want.pem" || fail "x509 -in pkcs11: gave another certificate"
# the object= URI names key and certificate: each use takes what it expects
run "x509 -in pkcs11: without type=" p11 x509 -in "$tok;object=gen-ec" -out "$dir/fromtoken.pem"
cmp -s "$dir/fromtoken.pem" "$dir/want.pem" || fail "x509 -in pkcs11: (no type) gave another certificate"
ok "a certificate on the token loads by URI"
serve "$cnf" -key "$(key gen-ec)" -cert "$tok;object=gen-ec"
fetch /dev/null "s_server -key pkcs11: -cert pkcs11:" -CAfile "$dir/gen-ec.crt" -verify_hostname localhost
tls_check "s_server -key pkcs11: -cert pkcs11:" TLSv1.3
ok "s_server with key and certificate both given as pkcs11: URIs"

# ---- a public key through the STORE: its public-key object, no login ----
# (a login rewrites SoftHSM2's token.object: its time says whether one happened)
tobj=$(ls "$dir"/token/tokens/*/token.object)
stamp=$(stat -c '%y %s' "$tobj")
run "pkey -pubin of a key with a public-key object" p11 pkey -pubin -in "$(key gen-ec)" -pubout \
	-out "$dir/gen-ec.store.pub"
[ "$(stat -c '%y %s' "$tobj")" = "$stamp" ] || fail "reading a public key through the STORE logged in"
plain pkey -pubin -in "$dir/gen-ec.pub" > "$dir/want.pub"
cmp -s "$dir/gen-ec.store.pub" "$dir/want.pub" || fail "the STORE gave another public key"
ok "a public key loads through the STORE without a login"

# ---- a key without public-key object finds its public half in its certificate ----
keygen lone ec:p256
ku=digitalSignature,keyCertSign selfsign lone lone
lid=$(sed -n 's/.*;id=\([^;]*\).*/\1/p' "$dir/lone.uri" | tr -d '%')
run "delete the public-key object of lone" "$P11CA" key delete --yes --module "$module" \
	--pin-file "$pin_file" "$tok;object=lone;type=public"
run_fails "pkey -pubin of a key with no public half anywhere" p11 pkey -pubin -in "$(key lone)" -pubout
plain x509 -in "$dir/lone.crt" -outform DER -out "$dir/lone.der"
run "pkcs11-tool --write-object cert (lone)" p11tool --write-object "$dir/lone.der" --type cert \
	--id "$lid" --label lone-cert
run "pkey -pubin: the public half from the certificate" p11 pkey -pubin -in "$(key lone)" -pubout \
	-out "$dir/lone-uri.pub"
plain pkey -pubin -in "$dir/lone.pub" > "$dir/want.pub"
cmp -s "$dir/lone-uri.pub" "$dir/want.pub" || fail "the public half taken from the certificate is wrong"
run "req -new with the key whose public half is its certificate's" p11 req -new -key "$(key lone)" \
	-subj /CN=lone -out "$dir/lone.csr"
csr_verify "$dir/lone.csr" "key with its public half from the certificate"
ok "a key without public-key object takes its public half from its certificate on the token"

done_ok
