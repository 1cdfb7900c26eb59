#!/bin/sh
# provider-ecdh.sh - ECDH on the token through the p11ca provider
# (CKM_ECDH1_DERIVE): 'openssl pkeyutl -derive -inkey pkcs11:...' with P-256
# and P-384 keys made by 'p11ca key gen --derive' and by
# 'pkcs11-tool --usage-derive' gives the secret the default provider computes
# from the peer's private key and the token key's public key; CMS messages
# the default provider encrypted to a token key's certificate (ECDH key
# agreement, X9.63 KDF, AES key wrap) decrypt with -inkey pkcs11:...  A key
# without CKA_DERIVE and a peer on another curve fail with one clear line;
# no output holds private key material.
. "$top_srcdir/tests/provider-lib.sh"

keygen d256 ec:p256 --derive
keygen d384 ec:p384 --derive
keygen nod ec:p256

# the peers: software keys on the same curves, and one on another
for c in P-256 P-384; do
	run "peer key $c" plain genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$c \
		-out "$dir/peer-$c.key"
	run "peer public key $c" plain pkey -in "$dir/peer-$c.key" -pubout -out "$dir/peer-$c.pub"
done

# derive_check LABEL PUBPEM CURVE WHAT: the token's secret is OpenSSL's
derive_check() {
	run "pkeyutl -derive with $4" p11 pkeyutl -derive -inkey "$(key "$1")" \
		-peerkey "$dir/peer-$3.pub" -out "$dir/s1"
	run "pkeyutl -derive by the default provider ($4)" plain pkeyutl -derive \
		-inkey "$dir/peer-$3.key" -peerkey "$2" -out "$dir/s2"
	[ -s "$dir/s1" ] || fail "pkeyutl -derive with $4 wrote nothing"
	cmp -s "$dir/s1" "$dir/s2" || fail "the token's ECDH secret ($4) is not OpenSSL's"
	ok "pkeyutl -derive -inkey pkcs11: ($4): the default provider's secret"
}
derive_check d256 "$dir/d256.pub" P-256 "p11ca key gen --derive, P-256"
derive_check d384 "$dir/d384.pub" P-384 "p11ca key gen --derive, P-384"
# the check can fail: another peer, another secret
run "pkeyutl -derive by the default provider (another peer)" plain pkeyutl -derive \
	-inkey "$dir/peer-P-256.key" -peerkey "$dir/nod.pub" -out "$dir/s3"
run "pkeyutl -derive (d256)" p11 pkeyutl -derive -inkey "$(key d256)" \
	-peerkey "$dir/peer-P-256.pub" -out "$dir/s1"
! cmp -s "$dir/s1" "$dir/s3" || fail "two key pairs derived one secret"

# keys pkcs11-tool made with --usage-derive
if command -v pkcs11-tool > /dev/null 2>&1 && [ -n "${SOFTHSM_MODULE:-}" ]; then
	PT_PIN=$(cat "$pin_file")
	export PT_PIN
	for k in pt256:prime256v1:P-256:0e01 pt384:secp384r1:P-384:0e02; do
		l=${k%%:*}
		rest=${k#*:}
		curve=${rest%%:*}
		rest=${rest#*:}
		c=${rest%%:*}
		id=${rest#*:}
		run "pkcs11-tool --keypairgen $curve --usage-derive" pkcs11-tool \
			--module "$SOFTHSM_MODULE" --token-label "$test_name" --login --pin env:PT_PIN \
			--keypairgen --key-type "EC:$curve" --usage-derive --label "$l" --id "$id"
		run "public key of $l" p11 pkey -pubin -in "$tok;object=$l;type=public" -pubout \
			-out "$dir/$l.pub"
		derive_check "$l" "$dir/$l.pub" "$c" "pkcs11-tool --usage-derive, $c"
	done
	unset PT_PIN
else
	skip_part pkcs11-tool "pkcs11-tool or the SoftHSM2 module path is missing"
fi

# a key without CKA_DERIVE: one clear line, non-zero exit
run_fails "pkeyutl -derive with a key without CKA_DERIVE" p11 pkeyutl -derive \
	-inkey "$(key nod)" -peerkey "$dir/peer-P-256.pub" -out "$dir/s1"
expect_in "$dir/out" "not allowed to derive \(CKA_DERIVE is false\).*--derive" \
	"a key without CKA_DERIVE"
sed 's/^/  | /' "$dir/out"
ok "a key without CKA_DERIVE is refused, saying so"
# a peer on another curve
run_fails "pkeyutl -derive with a peer on another curve" p11 pkeyutl -derive \
	-inkey "$(key d256)" -peerkey "$dir/peer-P-384.pub" -out "$dir/s1"
expect_in "$dir/out" "peer key is on curve secp384r1, this key on prime256v1" \
	"a peer on another curve"
sed 's/^/  | /' "$dir/out"
ok "a peer on another curve is refused, saying so"

# CMS: the default provider encrypts to the token key's certificate (ECDH
# key agreement), the provider decrypts with -inkey pkcs11:
ku=digitalSignature,keyAgreement,keyCertSign selfsign d256 "ECDH P-256"
ku=digitalSignature,keyAgreement,keyCertSign selfsign d384 "ECDH P-384"
head -c 2000 /dev/urandom > "$dir/msg"
for k in d256:aes-128-cbc d384:aes-256-cbc; do
	l=${k%%:*}
	cipher=${k#*:}
	run "cms -encrypt to $l" plain cms -encrypt -binary -$cipher -in "$dir/msg" \
		-recip "$dir/$l.crt" -outform DER -out "$dir/enc.der"
	plain cms -cmsout -print -inform DER -in "$dir/enc.der" > "$dir/text"
	expect_in "$dir/text" "dhSinglePass-stdDH" "the CMS message to $l uses ECDH key agreement"
	run "cms -decrypt -inkey pkcs11: ($l)" p11 cms -decrypt -binary -inform DER \
		-in "$dir/enc.der" -recip "$dir/$l.crt" -inkey "$(key "$l")" -out "$dir/dec"
	cmp -s "$dir/msg" "$dir/dec" || fail "cms -decrypt ($l) gave other content"
	ok "cms -decrypt -inkey pkcs11: with an EC recipient key ($l)"
done
# the check can fail: a message for another EC key does not decrypt
run "software EC recipient" plain req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/other.key" -subj /CN=other -days 2 -out "$dir/other.crt"
run "cms -encrypt (other recipient)" plain cms -encrypt -binary -aes-128-cbc -in "$dir/msg" \
	-recip "$dir/other.crt" -outform DER -out "$dir/enc.der"
run_fails "cms -decrypt of a message for another key" p11 cms -decrypt -binary -inform DER \
	-in "$dir/enc.der" -recip "$dir/d256.crt" -inkey "$(key d256)" -out "$dir/dec"
ok "cms -decrypt fails for a message to another key"

# no private key material in any output: the token keys cannot be written
run_fails "pkey writing a token key" p11 pkey -in "$(key d256)" -out "$dir/priv.pem"
if grep -l "PRIVATE KEY" "$dir"/*.pem "$dir"/*.pub "$dir"/*.crt "$dir"/s1 "$dir"/out \
	> "$dir/leaked" 2> /dev/null; then
	grep -v "/peer-\|/other" "$dir/leaked" > "$dir/leaked2" || true
	[ ! -s "$dir/leaked2" ] || fail "private key material in $(cat "$dir/leaked2")"
fi
ok "no private key material in any output"

done_ok
