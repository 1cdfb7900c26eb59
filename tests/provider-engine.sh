#!/bin/sh
# provider-engine.sh - the same token keys through libp11's pkcs11 engine and
# through the p11ca provider (each openssl run with its own OPENSSL_CONF):
# what the engine signs verifies with the key the provider's certificate
# names and the other way round, a CA certificate made through the engine
# issues through the provider, and a pkcs11-tool key works through both.
# No Ed25519 key on this token: libp11 0.4.12 fails to list such a token.
. "$top_srcdir/tests/provider-lib.sh"

engine=${OPENSSL_ENGINESDIR:-}/pkcs11.so
if [ -z "${OPENSSL_ENGINESDIR:-}" ] || [ ! -f "$engine" ]; then
	skip "no libp11 engine at $engine"
fi
[ -n "${SOFTHSM_MODULE:-}" ] || skip "no SoftHSM2 module path for the engine"

# the engine's own configuration; its PIN from this file, not argv
ecnf=$dir/engine.cnf
(
	umask 077
	openssl_cnf_engine "$engine" "$SOFTHSM_MODULE" "$pin_file" > "$ecnf"
)
eng() {
	OPENSSL_CONF=$ecnf openssl "$@"
}
# ekey LABEL: the engine wants type=private
ekey() {
	echo "$tok;object=$1;type=private"
}

keygen rsa rsa:2048
keygen ec256 ec:p256
printf 'engine and provider\n' > "$dir/msg"

for k in rsa:sha256WithRSAEncryption ec256:ecdsa-with-SHA256; do
	l=${k%%:*}
	alg=${k#*:}
	# the engine makes a CA certificate with the key
	run "req -x509 through the engine ($l)" eng req -new -x509 -days 2 -engine pkcs11 -keyform engine \
		-key "$(ekey "$l")" -subj "/CN=engine-$l" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,digitalSignature -out "$dir/e-$l.crt"
	run "verify the engine's certificate ($l)" plain verify -CAfile "$dir/e-$l.crt" "$dir/e-$l.crt"
	same_pubkey "$dir/e-$l.crt" "$dir/$l.pub" "engine certificate ($l)"
	# the provider makes one with the same key: the same public key
	selfsign "$l" "provider-$l"
	plain x509 -in "$dir/$l.crt" -noout -text > "$dir/text"
	expect_in "$dir/text" "Signature Algorithm: $alg" "provider certificate ($l)"
	# signatures cross over
	run "dgst -sign through the engine ($l)" eng dgst -sha256 -engine pkcs11 -keyform engine \
		-sign "$(ekey "$l")" -out "$dir/e.sig" "$dir/msg"
	plain x509 -in "$dir/$l.crt" -noout -pubkey > "$dir/p.pub"
	run "engine signature verified with the provider certificate's key ($l)" plain dgst -sha256 \
		-verify "$dir/p.pub" -signature "$dir/e.sig" "$dir/msg"
	run "dgst -sign through the provider ($l)" p11 dgst -sha256 -sign "$(key "$l")" -out "$dir/p.sig" \
		"$dir/msg"
	plain x509 -in "$dir/e-$l.crt" -noout -pubkey > "$dir/e.pub"
	run "provider signature verified with the engine certificate's key ($l)" plain dgst -sha256 \
		-verify "$dir/e.pub" -signature "$dir/p.sig" "$dir/msg"
	# the engine's CA certificate, the provider signing as that CA
	run "leaf CSR" plain req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/leaf.key" -subj /CN=leaf -out "$dir/leaf.csr"
	run "x509 -req -CAkey pkcs11: with the engine's CA certificate ($l)" p11 x509 -req \
		-in "$dir/leaf.csr" -CA "$dir/e-$l.crt" -CAkey "$(key "$l")" -set_serial 7 -days 2 \
		-out "$dir/leaf.pem"
	run "verify the leaf under the engine's CA ($l)" plain verify -CAfile "$dir/e-$l.crt" "$dir/leaf.pem"
	expect_in "$dir/out" "leaf.pem: OK" "leaf under the engine's CA ($l)"
	ok "$l: the key works through the libp11 engine and through p11ca alike"
done
# the check can fail: the RSA key's signature does not verify with the EC key
run "dgst -sign (rsa), for the negative check" p11 dgst -sha256 -sign "$(key rsa)" -out "$dir/rsa.sig" \
	"$dir/msg"
run_fails "an RSA signature verified with the EC key" plain dgst -sha256 -verify "$dir/e.pub" \
	-signature "$dir/rsa.sig" "$dir/msg"

# a key pkcs11-tool made, through the engine and the provider
if command -v pkcs11-tool > /dev/null 2>&1; then
	ENG_PIN=$(cat "$pin_file")
	export ENG_PIN
	run "pkcs11-tool --keypairgen" pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$test_name" \
		--login --pin env:ENG_PIN --keypairgen --key-type rsa:2048 --label pt --id 0f0e
	unset ENG_PIN
	run "req -x509 through the engine (pkcs11-tool key)" eng req -new -x509 -days 2 -engine pkcs11 \
		-keyform engine -key "$(ekey pt)" -subj /CN=pt-engine -out "$dir/e-pt.crt"
	run "req -x509 through the provider (pkcs11-tool key)" p11 req -new -x509 -days 2 -key "$(key pt)" \
		-subj /CN=pt-provider -out "$dir/p-pt.crt"
	for c in e-pt p-pt; do
		run "verify $c" plain verify -CAfile "$dir/$c.crt" "$dir/$c.crt"
	done
	plain x509 -in "$dir/e-pt.crt" -noout -pubkey > "$dir/a.pub"
	plain x509 -in "$dir/p-pt.crt" -noout -pubkey > "$dir/b.pub"
	cmp -s "$dir/a.pub" "$dir/b.pub" || fail "engine and provider see different public keys for pt"
	ok "a pkcs11-tool key works through the engine and through p11ca"
else
	skip_part pkcs11-tool-key "pkcs11-tool is not installed"
fi

done_ok
