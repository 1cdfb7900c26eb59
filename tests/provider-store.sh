#!/bin/sh
# provider-store.sh - openssl storeutl on a token through the p11ca provider
# (issue 12, items 1 and 2): the STORE hands OpenSSL every object a pkcs11:
# URI names (every private key, public key, certificate; the public half of
# a private key without public-key object), honours -keys/-certs, and finds
# certificates by -subject, -issuer/-serial and -fingerprint.  Keys of every
# type, made by p11ca and by pkcs11-tool; listings compared with what
# pkcs11-tool lists, public keys and certificates with the default provider.
# Private keys are never printed; the p11ca command still refuses a --key
# URI that names several keys.
. "$top_srcdir/tests/provider-lib.sh"

command -v pkcs11-tool > /dev/null 2>&1 || skip "pkcs11-tool is not installed"
case "${SOFTHSM_MODULE:-}" in
/*) ;;
*) skip "pkcs11-tool needs the SoftHSM2 module's path (configure --with-softhsm-module)" ;;
esac
P11_PIN=$(cat "$pin_file")
export P11_PIN
# pkcs11-tool on the test token (the PIN from the environment, not argv)
pt() {
	pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$test_name" --login --pin env:P11_PIN "$@"
}
# pem_blocks FILE TYPE OUTPREFIX: each "-----BEGIN TYPE-----" block of FILE
# into OUTPREFIX.N (N from 1); prints how many
pem_blocks() {
	awk -v t="$2" -v p="$3" '
		$0 == "-----BEGIN " t "-----" { n++; f = p "." n }
		f != "" { print > f }
		$0 == "-----END " t "-----" { close(f); f = "" }
		END { print n + 0 }' "$1"
}
# b64 FILE TYPE: the base64 body of each "-----BEGIN TYPE-----" block of
# FILE, one a line, sorted (PEM written by OpenSSL compares as text)
b64() {
	awk -v t="$2" '$0 == "-----BEGIN " t "-----" { on = 1; l = ""; next }
		$0 == "-----END " t "-----" { on = 0; print l; next } on { l = l $0 }' "$1" | sort
}
# count_items FILE KIND: storeutl's "N: KIND" lines (private keys: OpenSSL
# 3.0 says "Pkey")
count_items() {
	_k=$2
	[ "$_k" != "Private key" ] || _k="(Pkey|Private key)"
	grep -Ec "^[0-9]+: $_k\$" "$1" || true
}
# pubder PEMFILE OUT: a public key (PEM SubjectPublicKeyInfo) as DER
pubder() {
	plain pkey -pubin -in "$1" -outform DER -out "$2" 2> "$dir/err" || fail "$1 is not a public key"
}
# certpub CERT OUT: the DER public key of a certificate
certpub() {
	plain x509 -in "$1" -noout -pubkey > "$dir/cp.pem" 2> "$dir/err" || fail "cannot read $1"
	pubder "$dir/cp.pem" "$2"
}

# ---- the token: keys by p11ca and by pkcs11-tool, certificates ----
keygen rsa rsa:2048
keygen ec ec:p256
keygen ed ed25519
keygen nopub ec:p256
run "pkcs11-tool --keypairgen RSA" pt --keypairgen --key-type rsa:2048 --label pt-rsa --id 0a01
run "pkcs11-tool --keypairgen EC" pt --keypairgen --key-type EC:prime256v1 --label pt-ec --id 0a02
# self-signed certificates of the token keys, stored next to them
for l in rsa ec ed nopub pt-rsa; do
	run "req -x509 with $l" p11 req -new -x509 -days 2 -key "$(key "$l")" -subj "/O=p11ca test/CN=store-$l" \
		-out "$dir/$l.crt"
	run "p11ca cert install $l" "$P11CA" cert install --module "$module" --pin-file "$pin_file" \
		--key "$(key "$l")" "$dir/$l.crt"
done
# nopub: no public-key object, its public half is in its certificate
run "delete nopub's public-key object" "$P11CA" key delete --yes --module "$module" \
	--pin-file "$pin_file" "$tok;object=nopub;type=public"
# a lone certificate (no key on the token), its names PrintableStrings: a
# search by the same names as UTF8Strings must still find it
printf '[req]\ndistinguished_name = dn\nstring_mask = default\n[dn]\n' > "$dir/printable.cnf"
run "a software CA" plain req -new -x509 -days 2 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/lone.key" -config "$dir/printable.cnf" -subj "/O=p11ca test/CN=store-lone" \
	-set_serial 0x4a11ce -out "$dir/lone.crt"
plain asn1parse -in "$dir/lone.crt" > "$dir/asn1" 2>&1
expect_in "$dir/asn1" "PRINTABLESTRING +:store-lone" "the lone certificate's CN is a PrintableString"
plain x509 -in "$dir/lone.crt" -outform DER -out "$dir/lone.der"
run "pkcs11-tool --write-object (lone certificate)" pt --write-object "$dir/lone.der" --type cert \
	--id 0b0b --label lone
ncert_files="rsa ec ed nopub pt-rsa lone"

# what pkcs11-tool lists
run "pkcs11-tool --list-objects" pt --list-objects
cp "$dir/out" "$dir/objects"
n_priv=$(grep -c "^Private Key Object" "$dir/objects" || true)
n_pub=$(grep -c "^Public Key Object" "$dir/objects" || true)
n_cert=$(grep -c "^Certificate Object" "$dir/objects" || true)
[ "$n_priv $n_pub $n_cert" = "6 5 6" ] ||
	fail "pkcs11-tool lists $n_priv private keys, $n_pub public keys, $n_cert certificates (want 6, 5, 6)"

# ---- 1. enumeration ----
# storeutl -text pkcs11: every object of the token; nopub's public half too
run "storeutl -text pkcs11:" p11 storeutl -text pkcs11:
cp "$dir/out" "$dir/all"
got="$(count_items "$dir/all" "Private key") $(count_items "$dir/all" "Public key") $(count_items "$dir/all" Certificate)"
[ "$got" = "$n_priv $((n_pub + 1)) $n_cert" ] ||
	fail "storeutl -text pkcs11: lists $got (private, public, certificates), pkcs11-tool $n_priv $n_pub(+1 half) $n_cert"
expect_in "$dir/all" "^Total found: $((n_priv + n_pub + 1 + n_cert))\$" "storeutl total"
# private keys: never in the clear, only where they are
if grep -Eiq "priv:|privateExponent|prime1|exponent1|coefficient|BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY" "$dir/all"; then
	fail "storeutl -text printed private key material"
fi
expect_in "$dir/all" "private half on a PKCS#11 token, not extractable" "the private keys' text"
# every public key and certificate listed is one of the token's
b64 "$dir/all" "PUBLIC KEY" > "$dir/listed-pub"
b64 "$dir/all" CERTIFICATE > "$dir/listed-cert"
[ "$(grep -c . "$dir/listed-pub")" = $((n_pub + 1)) ] || fail "storeutl wrote $(grep -c . "$dir/listed-pub") public keys"
[ "$(grep -c . "$dir/listed-cert")" = "$n_cert" ] || fail "storeutl wrote $(grep -c . "$dir/listed-cert") certificates"
plain x509 -in "$dir/pt-rsa.crt" -noout -pubkey > "$dir/pt-rsa.pub"
for l in rsa ec ed nopub pt-rsa; do
	b64 "$dir/$l.pub" "PUBLIC KEY" | grep -qxFf - "$dir/listed-pub" ||
		fail "storeutl -text pkcs11: lists no public key equal to $l's"
done
for l in $ncert_files; do
	b64 "$dir/$l.crt" CERTIFICATE | grep -qxFf - "$dir/listed-cert" ||
		fail "storeutl -text pkcs11: does not list $l's certificate"
done
ok "storeutl -text pkcs11: $n_priv private keys, $((n_pub + 1)) public keys (one a private key's half), $n_cert certificates; no private material"

# -keys: only the private keys; -certs: only the certificates
run "storeutl -keys pkcs11:type=private" p11 storeutl -noout -keys pkcs11:type=private
got="$(count_items "$dir/out" "Private key") $(count_items "$dir/out" "Public key") $(count_items "$dir/out" Certificate)"
[ "$got" = "$n_priv 0 0" ] || fail "storeutl -keys pkcs11:type=private lists $got"
run "storeutl -certs pkcs11:type=cert" p11 storeutl -noout -certs pkcs11:type=cert
got="$(count_items "$dir/out" "Private key") $(count_items "$dir/out" "Public key") $(count_items "$dir/out" Certificate)"
[ "$got" = "0 0 $n_cert" ] || fail "storeutl -certs pkcs11:type=cert lists $got"
run "storeutl pkcs11:type=public" p11 storeutl -noout "$tok;type=public"
[ "$(count_items "$dir/out" "Public key")" = "$n_pub" ] || fail "storeutl type=public: $(cat "$dir/out")"
expect_in "$dir/out" "^Total found: $n_pub\$" "storeutl type=public: public keys only"
ok "storeutl -keys, -certs, type=public: exactly those objects"
# -certs is taken at its word: certificates need no PIN, so none is asked for
write_cnf "$dir/nopin.cnf" env
run "storeutl -certs pkcs11: without a PIN" env OPENSSL_CONF="$dir/nopin.cnf" openssl storeutl -noout \
	-certs pkcs11:
expect_in "$dir/out" "^Total found: $n_cert\$" "storeutl -certs without a PIN"
run_fails "storeutl -keys pkcs11: without a PIN" env OPENSSL_CONF="$dir/nopin.cnf" openssl storeutl \
	-noout -keys pkcs11:
expect_in "$dir/out" "needs a PIN" "storeutl -keys without a PIN"
ok "storeutl -certs reads no private object (no PIN needed); -keys says it needs one"

# one id, no type: the private key (first), its public key and its certificate
rsa_id=$(sed -n 's/.*;id=\([^;]*\).*/\1/p' "$dir/rsa.uri" | head -1)
[ -n "$rsa_id" ] || fail "no id in $(cat "$dir/rsa.uri")"
run "storeutl pkcs11:id=" p11 storeutl "pkcs11:id=$rsa_id"
grep -E "^[0-9]+: " "$dir/out" > "$dir/items"
sed 's/: Private key$/: Pkey/' "$dir/items" > "$dir/items2"
printf '0: Pkey\n1: Public key\n2: Certificate\n' | cmp -s - "$dir/items2" ||
	fail "storeutl pkcs11:id=$rsa_id lists: $(cat "$dir/items")"
plain x509 -in "$dir/rsa.crt" -noout -pubkey > "$dir/rsa-crt.pub"
[ "$(b64 "$dir/out" "PUBLIC KEY")" = "$(b64 "$dir/rsa-crt.pub" "PUBLIC KEY")" ] ||
	fail "the public key of pkcs11:id= is not the certificate's"
ok "storeutl pkcs11:id=...: private key, public key (the certificate's), certificate"

# a private key without public-key object: its public half, alone with -pubin
run "pkey -pubin nopub" p11 pkey -pubin -in "$(key nopub)" -outform DER -out "$dir/l.der"
pubder "$dir/nopub.pub" "$dir/want.der"
cmp -s "$dir/l.der" "$dir/want.der" || fail "pkey -pubin of nopub is not its public key"
run "pkey -pubin pt-ec" p11 pkey -pubin -in "$tok;object=pt-ec" -outform DER -out "$dir/l.der"
run "pkcs11-tool --read-object pt-ec" pt --read-object --type pubkey --id 0a02 -o "$dir/pt-ec.der"
plain pkey -pubin -inform DER -in "$dir/pt-ec.der" -outform DER -out "$dir/want.der"
cmp -s "$dir/l.der" "$dir/want.der" || fail "pkey -pubin of pt-ec is not what pkcs11-tool reads"
ok "public keys from the store: the token's (a public-key object, or a private key's half)"

# single-key loads take the private key of a URI that names a key, its
# public key and its certificate
run "req -new -key pkcs11:id=" p11 req -new -key "pkcs11:id=$rsa_id" -subj /CN=single -out "$dir/s.csr"
csr_verify "$dir/s.csr" "req -key pkcs11:id="
plain req -in "$dir/s.csr" -noout -pubkey > "$dir/s.pem"
pubder "$dir/s.pem" "$dir/l.der"
pubder "$dir/rsa.pub" "$dir/want.der"
cmp -s "$dir/l.der" "$dir/want.der" || fail "req -key pkcs11:id= used another key"
for l in ec ed pt-rsa; do
	run "x509 -new -key $l" p11 x509 -new -subj "/CN=x509-$l" -days 1 -key "$tok;object=$l" \
		-out "$dir/x-$l.crt"
	run "verify x509 -new $l" plain verify -CAfile "$dir/x-$l.crt" "$dir/x-$l.crt"
	certpub "$dir/x-$l.crt" "$dir/l.der"
	certpub "$dir/$l.crt" "$dir/c.der"
	cmp -s "$dir/l.der" "$dir/c.der" || fail "x509 -new -key $l: another key"
done
ok "req -key / x509 -new -key by URI: the named private key"

# the p11ca command still refuses a URI naming several keys
printf 'msg\n' > "$dir/msg"
run_fails "p11ca key sign with the token's URI" "$P11CA" key sign --module "$module" \
	--pin-file "$pin_file" --key "$tok" --in "$dir/msg" --out "$dir/sig"
expect_in "$dir/out" "matches $n_priv private keys" "p11ca key sign, ambiguous --key"
ok "p11ca key sign --key naming $n_priv keys: refused"

# ---- 2. search criteria ----
# storeutl -certs -subject: exactly the one certificate
for l in rsa lone; do
	run "storeutl -subject $l" p11 storeutl -certs -subject "/O=p11ca test/CN=store-$l" pkcs11:type=cert
	expect_in "$dir/out" "^Total found: 1\$" "storeutl -subject store-$l"
	pem_blocks "$dir/out" CERTIFICATE "$dir/found" > /dev/null
	cmp -s "$dir/found.1" "$dir/$l.crt" || fail "storeutl -subject store-$l found another certificate"
done
run "storeutl -subject absent" p11 storeutl -certs -subject "/O=p11ca test/CN=absent" pkcs11:type=cert
expect_in "$dir/out" "^Total found: 0\$" "storeutl -subject of an absent name"
ok "storeutl -subject: the certificate (UTF8String and PrintableString names), none for an absent name"

# -issuer and -serial
serial=$(plain x509 -in "$dir/pt-rsa.crt" -noout -serial | sed 's/^serial=//')
run "storeutl -issuer -serial pt-rsa" p11 storeutl -certs -issuer "/O=p11ca test/CN=store-pt-rsa" \
	-serial "0x$serial" "$tok"
expect_in "$dir/out" "^Total found: 1\$" "storeutl -issuer -serial pt-rsa"
pem_blocks "$dir/out" CERTIFICATE "$dir/found" > /dev/null
cmp -s "$dir/found.1" "$dir/pt-rsa.crt" || fail "storeutl -issuer -serial found another certificate"
run "storeutl -issuer -serial lone" p11 storeutl -certs -issuer "/O=p11ca test/CN=store-lone" \
	-serial 0x4a11ce pkcs11:
expect_in "$dir/out" "^Total found: 1\$" "storeutl -issuer -serial lone"
pem_blocks "$dir/out" CERTIFICATE "$dir/found" > /dev/null
cmp -s "$dir/found.1" "$dir/lone.crt" || fail "storeutl -issuer -serial found another certificate (lone)"
run "storeutl -issuer -serial (wrong serial)" p11 storeutl -certs -issuer "/O=p11ca test/CN=store-lone" \
	-serial 0x4a11cf pkcs11:
expect_in "$dir/out" "^Total found: 0\$" "storeutl -issuer with another serial"
ok "storeutl -issuer -serial: the certificate, none with another serial"

# -fingerprint (SHA-256 and SHA-1 of the DER certificate, as x509 -fingerprint)
for md in sha256 sha1; do
	fp=$(plain x509 -in "$dir/ec.crt" -noout -fingerprint "-$md" | sed 's/^.*=//')
	run "storeutl -fingerprint ($md)" p11 storeutl "-$md" -fingerprint "$fp" pkcs11:
	expect_in "$dir/out" "^Total found: 1\$" "storeutl -$md -fingerprint"
	pem_blocks "$dir/out" CERTIFICATE "$dir/found" > /dev/null
	cmp -s "$dir/found.1" "$dir/ec.crt" || fail "storeutl -fingerprint ($md) found another certificate"
done
fp=$(plain x509 -in "$dir/x-ec.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')
run "storeutl -fingerprint (a certificate not on the token)" p11 storeutl -sha256 -fingerprint "$fp" pkcs11:
expect_in "$dir/out" "^Total found: 0\$" "storeutl -fingerprint of a certificate not stored"
ok "storeutl -fingerprint: the certificate x509 -fingerprint names, none for another"

# ---- every token: a second one, its certificate listed along ----
"$top_srcdir/softhsm-conf/mktoken" --dir "$dir/token" --label "$test_name-2" > /dev/null ||
	fail "mktoken: a second token"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$test_name-2" --login --pin env:P11_PIN \
	--write-object "$dir/lone.der" --type cert --id 0c0c --label lone2 > "$dir/out" 2>&1 ||
	fail "pkcs11-tool --write-object on the second token: $(cat "$dir/out")"
run "storeutl -certs pkcs11: (two tokens)" p11 storeutl -noout -certs pkcs11:
[ "$(count_items "$dir/out" Certificate)" = $((n_cert + 1)) ] ||
	fail "storeutl -certs pkcs11: over two tokens: $(cat "$dir/out")"
run "storeutl -subject (two tokens)" p11 storeutl -noout -certs -subject "/O=p11ca test/CN=store-lone" pkcs11:
expect_in "$dir/out" "^Total found: 2\$" "storeutl -subject over two tokens"
ok "storeutl -certs, -subject: every token's certificates"

unset P11_PIN
done_ok
