#!/bin/sh
# provider-errors.sh - what the p11ca provider says when a pkcs11: URI is
# wrong: nothing matches (the error names the URI), several keys match (two
# keys with the same label, or no object= at all: the p11ca command refuses,
# openssl's STORE lists them all), an unknown URI attribute
# (named), a wrong PIN (reported, never shown).  Every case must make openssl
# exit non-zero.  The PIN comes from P11CA_PIN.
. "$top_srcdir/tests/provider-lib.sh"

write_cnf "$cnf" env
P11CA_PIN=$(cat "$pin_file")
export P11CA_PIN

keygen first ec:p256
keygen second rsa:2048

# fails_with WHAT PATTERN CMD...: CMD fails and its output matches PATTERN
fails_with() {
	_w=$1
	_p=$2
	shift 2
	run_fails "$_w" "$@"
	expect_in "$dir/out" "$_p" "$_w: error message"
	ok "$_w"
}

# the same key works, so the failures below are the URI's
run "req -new with a good URI" p11 req -new -key "$(key first)" -subj /CN=x -out "$dir/x.csr"

# a URI that matches nothing: the error names it
bad="$tok;object=no-such-key"
fails_with "req -new, no matching key" "nothing matches $bad" \
	p11 req -new -key "$bad" -subj /CN=x -out "$dir/x.csr"
fails_with "dgst -sign, no matching key" "nothing matches $bad" \
	p11 dgst -sha256 -sign "$bad" -out "$dir/sig" "$dir/x.csr"
bad="$tok;object=first;id=%01%02"
fails_with "req -new, label and id of different keys" "nothing matches $bad" \
	p11 req -new -key "$bad" -subj /CN=x -out "$dir/x.csr"
bad="pkcs11:token=no-such-token;object=first"
fails_with "req -new, unknown token" "no token matches $bad" \
	p11 req -new -key "$bad" -subj /CN=x -out "$dir/x.csr"
fails_with "x509 -in a URI with no certificate" "nothing matches $tok;object=first" \
	p11 x509 -in "$tok;object=first" -noout

# several keys match: the p11ca command refuses and names the candidates;
# openssl's STORE enumerates them (issue 12), its programs take the first
fails_with "p11ca key sign, URI without object" "matches 2 private keys: '(first|second)', '(first|second)'" \
	"$P11CA" key sign --module "$module" --pin-file "$pin_file" --key "$tok" --in "$dir/x.csr" --out "$dir/sig"
run "storeutl -keys, URI without object" p11 storeutl -noout -keys "$tok"
expect_in "$dir/out" "^Total found: 2$" "storeutl -keys lists both keys"
if command -v pkcs11-tool > /dev/null 2>&1 && [ -n "${SOFTHSM_MODULE:-}" ]; then
	# p11ca refuses a second key with a label in use; pkcs11-tool does not
	run "pkcs11-tool --keypairgen (same label)" pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label "$test_name" --login --pin env:P11CA_PIN --keypairgen \
		--key-type EC:prime256v1 --label first --id 0102
	fails_with "p11ca key sign, two keys with the same label" "$tok;object=first matches 2 private keys" \
		"$P11CA" key sign --module "$module" --pin-file "$pin_file" --key "$(key first)" --in "$dir/x.csr" --out "$dir/sig"
	run "storeutl -keys, two keys with the same label" p11 storeutl -noout -keys "$(key first)"
	expect_in "$dir/out" "^Total found: 2$" "storeutl -keys lists both keys labelled first"
	# ... and the id tells them apart
	run "req -new with label and id" p11 req -new -key "$(key first);id=%01%02" -subj /CN=x \
		-out "$dir/x.csr"
	csr_verify "$dir/x.csr" "the pkcs11-tool key picked by its id"
	ok "label plus id= picks one of two keys with the same label"
else
	skip_part same-label "no pkcs11-tool or no SoftHSM2 path: two keys with the same label not tried"
fi

# an unknown attribute: named
fails_with "req -new, unknown URI attribute" "unknown attribute 'colour'" \
	p11 req -new -key "$tok;object=second;colour=blue" -subj /CN=x -out "$dir/x.csr"
fails_with "req -new, malformed percent-encoding" "malformed pkcs11: URI" \
	p11 req -new -key "$tok;object=second;id=%zz" -subj /CN=x -out "$dir/x.csr"

# a wrong PIN: reported, never printed
printf 'not-the-pin-4711\n' > "$dir/wrong-pin"
write_cnf "$dir/wrong.cnf"
sed -i "s|^p11ca-pin-file = .*|p11ca-pin-file = $dir/wrong-pin|" "$dir/wrong.cnf"
unset P11CA_PIN
fails_with "req -new with a wrong PIN" "wrong PIN|CKR_PIN_INCORRECT" \
	env OPENSSL_CONF="$dir/wrong.cnf" openssl req -new -key "$(key second)" -subj /CN=x -out "$dir/x.csr"
if grep -q "not-the-pin-4711" "$dir/out"; then
	fail "the wrong PIN appears in the error output"
fi
# and no PIN at all, with the prompt off
fails_with "req -new without any PIN source" "needs a PIN" \
	env OPENSSL_CONF="$cnf" openssl req -new -key "$(key second)" -subj /CN=x -out "$dir/x.csr"

done_ok
