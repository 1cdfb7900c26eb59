#!/bin/sh
# provider-keygen.sh - key generation through OpenSSL (issue 12, item 5) and
# TLS under -propquery "?provider=p11ca" (item 7).
# openssl genpkey -propquery "?provider=p11ca" -pkeyopt pkcs11_uri:... makes
# EC P-256/P-384, RSA 2048/3072 and Ed25519 keys on the token: pkcs11-tool
# lists each private key sensitive and never extractable with CKA_ID = the
# SHA-1 of its public key (computed here from the SubjectPublicKeyInfo) and
# the usage asked for (pkcs11_key_usage:keyAgreement adds derive); a
# signature made through the provider verifies with the default provider;
# genpkey writes a pkcs11: URI reference, never key material (pkey -in
# pkcs11: -out writes nothing); a second
# genpkey on the same object= is refused, and so are RSA-8192, id= and RSA
# without a URI.  Then s_server -propquery "?provider=p11ca" -groups
# secp256r1 (and secp384r1) with a generated key: the handshake completes
# with that group (s_client's "Server Temp Key").
. "$top_srcdir/tests/provider-lib.sh"

command -v timeout > /dev/null 2>&1 || skip "no timeout command"
pq="?provider=p11ca"
printf 'generated through openssl genpkey\n' > "$dir/msg"

# gen LABEL ALGORITHM [-pkeyopt ...]: genpkey on the token; output $dir/LABEL.ref
gen() {
	_l=$1
	shift
	run "genpkey $_l" p11 genpkey -propquery "$pq" -algorithm "$@" \
		-pkeyopt "pkcs11_uri:$tok;object=$_l" -out "$dir/$_l.ref"
}
# ski PUBPEM: the SHA-1 of the subjectPublicKey BIT STRING's key bytes, in hex
ski() {
	plain pkey -pubin -in "$1" -outform DER -out "$dir/spki.der" 2> "$dir/out" ||
		fail "cannot read $1"
	# the SubjectPublicKeyInfo's last element: "OFF:d=1 hl=H l=LEN prim: BIT STRING"
	set -- $(plain asn1parse -inform DER -in "$dir/spki.der" |
		sed -n 's/^ *\([0-9]*\):d=1 *hl= *\([0-9]*\) l= *\([0-9]*\) prim: BIT STRING.*/\1 \2 \3/p')
	[ $# = 3 ] || fail "no BIT STRING in the public key"
	# skip the header and the unused-bits byte
	tail -c +$(($1 + $2 + 2)) "$dir/spki.der" | head -c $(($3 - 1)) | sha1sum | cut -d' ' -f1
}

check_key() { # LABEL WHAT
	_l=$1
	# genpkey wrote a reference to the key, nothing secret
	expect_in "$dir/$_l.ref" "^-----BEGIN PKCS#11 PROVIDER URI-----\$" "$2: genpkey output"
	if grep -q "PRIVATE KEY" "$dir/$_l.ref"; then
		fail "$2: genpkey wrote a private key"
	fi
	run "$2: read the reference" plain asn1parse -in "$dir/$_l.ref"
	expect_in "$dir/out" "UTF8STRING +:pkcs11:token=.*;object=$_l;id=.*;type=private\$" \
		"$2: the reference names the key"
	grep -q "d=1" "$dir/out" || fail "$2: the reference is no SEQUENCE"
	[ "$(grep -c "prim:" "$dir/out")" = 2 ] || fail "$2: the reference holds more than its URI"
	run_fails "$2: the reference is no key for the default provider" plain pkey -in "$dir/$_l.ref"
	# the public key, through the provider's store
	run "$2: public key" p11 pkey -pubin -in "$(key "$_l")" -pubout -out "$dir/$_l.pub"
	# a signature through the provider verifies with the default provider
	if [ "$_l" = ed ]; then
		run "$2: sign" p11 pkeyutl -sign -inkey "$(key "$_l")" -rawin -in "$dir/msg" \
			-out "$dir/$_l.sig"
		run "$2: verify" plain pkeyutl -verify -pubin -inkey "$dir/$_l.pub" -rawin \
			-in "$dir/msg" -sigfile "$dir/$_l.sig"
	else
		run "$2: sign" p11 dgst -sha256 -sign "$(key "$_l")" -out "$dir/$_l.sig" "$dir/msg"
		run "$2: verify" plain dgst -sha256 -verify "$dir/$_l.pub" -signature "$dir/$_l.sig" \
			"$dir/msg"
	fi
	expect_in "$dir/out" "^(Verified OK|Signature Verified Successfully)$" "$2: signature"
	ok "genpkey $2: the token key signs, the default provider verifies"
}

gen ec256 EC -pkeyopt ec_paramgen_curve:P-256
check_key ec256 "EC P-256"
gen ec384 EC -pkeyopt ec_paramgen_curve:secp384r1
check_key ec384 "EC P-384"
gen rsa2048 RSA -pkeyopt rsa_keygen_bits:2048
check_key rsa2048 "RSA 2048"
gen rsa3072 RSA -pkeyopt rsa_keygen_bits:3072
check_key rsa3072 "RSA 3072"
gen ed ED25519
check_key ed "Ed25519"
# pkcs11_key_usage (latchset's name): an EC key that also derives (ECDH)
gen ecdh EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt pkcs11_key_usage:keyAgreement
run "ecdh: public key" p11 pkey -pubin -in "$(key ecdh)" -pubout -out "$dir/ecdh.pub"

# ---- what pkcs11-tool sees: sensitive, never extractable, CKA_ID = SKI ----
case "$module" in
/*)
	if command -v pkcs11-tool > /dev/null 2>&1; then
		# throwaway token: its PIN in argv is harmless
		run "pkcs11-tool --list-objects" pkcs11-tool --module "$module" \
			--token-label "$test_name" --login --pin "$(cat "$pin_file")" --list-objects
		cp "$dir/out" "$dir/objs"
		for l in ec256 ec384 rsa2048 rsa3072 ed ecdh; do
			# the private key object labelled $l, header to the next object
			awk -v l="$l" '/^[^ ]/ { if (keep) printf "%s", buf; buf = ""; keep = 0
				priv = /^Private Key Object/ }
				{ buf = buf $0 "\n" }
				priv && $1 == "label:" && $2 == l { keep = 1 }
				END { if (keep) printf "%s", buf }' "$dir/objs" > "$dir/obj"
			[ -s "$dir/obj" ] || fail "pkcs11-tool lists no private key '$l'"
			expect_in "$dir/obj" "Access: +sensitive, always sensitive, never extractable" \
				"pkcs11-tool: $l sensitive and never extractable"
			want=$(ski "$dir/$l.pub")
			expect_in "$dir/obj" "ID: +$want\$" "pkcs11-tool: CKA_ID of $l is its SKI"
			u="sign"
			[ "$l" != ecdh ] || u="sign, derive"
			expect_in "$dir/obj" "Usage: +$u\$" "pkcs11-tool: usage of $l"
		done
		ok "pkcs11-tool: every generated private key is sensitive, never extractable, CKA_ID = SKI; usage as asked"
	else
		skip_part pkcs11-tool "pkcs11-tool is not installed"
	fi
	;;
*) skip_part pkcs11-tool "pkcs11-tool needs the SoftHSM2 module's path" ;;
esac

# ---- refusals ----
# fails_with WHAT PATTERN genpkey-args...: genpkey fails, saying PATTERN, and
# writes nothing
fails_with() {
	_what=$1
	_pat=$2
	shift 2
	rm -f "$dir/none.ref"
	run_fails "$_what" p11 genpkey -propquery "$pq" "$@" -out "$dir/none.ref"
	expect_in "$dir/out" "$_pat" "$_what"
	if [ -s "$dir/none.ref" ] && grep -q "PRIVATE KEY" "$dir/none.ref"; then
		fail "$_what: a private key was written"
	fi
	ok "refused: $_what"
}
fails_with "a second key under the same object=" "label 'ec256' is already used" \
	-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt "pkcs11_uri:$tok;object=ec256"
fails_with "RSA-8192" "RSA-8192 refused" \
	-algorithm RSA -pkeyopt rsa_keygen_bits:8192 -pkeyopt "pkcs11_uri:$tok;object=big"
fails_with "id= in pkcs11_uri" "id= cannot be chosen" \
	-algorithm ED25519 -pkeyopt "pkcs11_uri:$tok;object=withid;id=%01"
fails_with "RSA without pkcs11_uri" "RSA keys are made on a token" -algorithm RSA
# an EC key without a URI is a software key (TLS key shares): never written
fails_with "EC without pkcs11_uri" "not on a PKCS#11 token" \
	-algorithm EC -pkeyopt ec_paramgen_curve:P-256
# a token key loaded again is not written out, not even as a reference
run_fails "pkey -in pkcs11: -out" p11 pkey -in "$(key ec256)" -out "$dir/again.pem"
expect_in "$dir/out" "stays on its PKCS#11 token" "pkey -in pkcs11: -out"
if [ -s "$dir/again.pem" ]; then
	fail "pkey -in pkcs11: -out wrote something"
fi
ok "refused: pkey -in pkcs11: -out (only genpkey writes the new key's URI)"
run "key list" "$P11CA" key list --module "$module" --token "$tok" --pin-file "$pin_file"
if grep -Eq " (big|withid) " "$dir/out"; then
	fail "a refused key is on the token"
fi
[ "$(grep -c "^private .* ec256 " "$dir/out")" = 1 ] || fail "ec256 is not on the token exactly once"
ok "refused keys left nothing on the token"

# ---- TLS: s_server -propquery "?provider=p11ca" -groups ... ----
ku=digitalSignature,keyCertSign selfsign ec256 localhost -addext subjectAltName=DNS:localhost
# tls_group GROUP SHOWN PROTOCOL: s_server on the genpkey key, key share on GROUP
tls_group() {
	serve "$cnf" -propquery "$pq" -groups "$1" -key "$(key ec256)" -cert "$dir/ec256.crt"
	fetch /dev/null "TLS with -propquery, $1, $3" -CAfile "$dir/ec256.crt" \
		-verify_hostname localhost "-tls$(echo "$3" | tr . _)"
	tls_check "TLS with -propquery, $1" "TLSv$3"
	expect_in "$dir/cli.log" "^Server Temp Key: ECDH, $2," "TLS with -propquery: group $1"
	ok "s_server -propquery \"$pq\" -groups $1: TLS $3 with ECDH $2"
}
tls_group secp256r1 prime256v1 1.3
tls_group secp384r1 secp384r1 1.3
tls_group secp256r1 prime256v1 1.2

done_ok
