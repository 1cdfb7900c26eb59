#!/bin/sh
# provider-cms.sh - openssl cms with token keys through the p11ca provider:
# -sign -nodetach (RSA PKCS#1 v1.5 and PSS, ECDSA; OpenSSL 3.0's CMS has no
# Ed25519 signing) verified by the default provider, and
# -decrypt -inkey pkcs11:... of messages the default provider encrypted to a
# --decrypt RSA key, with PKCS#1 v1.5 and RSA-OAEP (SHA-256) key transport.
# The PIN comes from P11CA_PIN here, not from a file.
. "$top_srcdir/tests/provider-lib.sh"

write_cnf "$cnf" env
P11CA_PIN=$(cat "$pin_file")
export P11CA_PIN

keygen rsa rsa:2048 --decrypt
keygen ec256 ec:p256
ku=digitalSignature,keyEncipherment,keyCertSign selfsign rsa "CMS RSA"
ku=digitalSignature,keyCertSign selfsign ec256 "CMS P-256"

head -c 3000 /dev/urandom > "$dir/msg"

for k in rsa:rsaEncryption:pkcs1 rsa:rsassaPss:pss ec256:ecdsa-with-SHA256:; do
	l=${k%%:*}
	rest=${k#*:}
	alg=${rest%%:*}
	pad=${rest#*:}
	run "cms -sign with $l $pad" p11 cms -sign -binary -nodetach -md sha256 -in "$dir/msg" \
		-signer "$dir/$l.crt" -inkey "$(key "$l")" ${pad:+-keyopt rsa_padding_mode:$pad} \
		-outform DER -out "$dir/signed.der"
	run "cms -verify ($l $pad)" plain cms -verify -binary -inform DER -in "$dir/signed.der" \
		-CAfile "$dir/$l.crt" -out "$dir/verified"
	expect_in "$dir/out" "Verification successful" "CMS signature with $l $pad"
	cmp -s "$dir/msg" "$dir/verified" || fail "cms -verify ($l $pad) gave back other content"
	# the SignerInfo's signatureAlgorithm
	plain cms -cmsout -print -inform DER -in "$dir/signed.der" |
		sed -n '/signatureAlgorithm:/{n;p}' > "$dir/text"
	expect_in "$dir/text" "algorithm: $alg " "CMS signature algorithm ($l $pad)"
	ok "cms -sign -nodetach with $l ($alg)"
done
# the check can fail: with another trust anchor
run_fails "CMS signature verified with the wrong CA" plain cms -verify -binary -inform DER \
	-in "$dir/signed.der" -CAfile "$dir/rsa.crt" -out "$dir/verified"
# ... or with the content changed (a detached signature over another file)
run "cms -sign detached" p11 cms -sign -binary -md sha256 -in "$dir/msg" -signer "$dir/ec256.crt" \
	-inkey "$(key ec256)" -outform DER -out "$dir/detached.der"
run "cms -verify detached" plain cms -verify -binary -inform DER -in "$dir/detached.der" \
	-content "$dir/msg" -CAfile "$dir/ec256.crt" -out /dev/null
printf 'x' >> "$dir/msg.changed" && cat "$dir/msg" >> "$dir/msg.changed"
run_fails "a detached CMS signature verified over other content" plain cms -verify -binary \
	-inform DER -in "$dir/detached.der" -content "$dir/msg.changed" -CAfile "$dir/ec256.crt" -out /dev/null
ok "cms -verify rejects a wrong CA and changed content"

# encrypted by the default provider to the token key's certificate
decrypt_check() { # WHAT [keyopts...]
	what=$1
	shift
	run "cms -encrypt ($what)" plain cms -encrypt -binary -aes-256-cbc -in "$dir/msg" \
		-recip "$dir/rsa.crt" "$@" -outform DER -out "$dir/enc.der"
	run "cms -decrypt ($what)" p11 cms -decrypt -binary -inform DER -in "$dir/enc.der" \
		-recip "$dir/rsa.crt" -inkey "$(key rsa)" -out "$dir/dec"
	cmp -s "$dir/msg" "$dir/dec" || fail "cms -decrypt ($what) gave other content"
	ok "cms -decrypt -inkey pkcs11: $what"
}
decrypt_check "RSA PKCS#1 v1.5"
decrypt_check "RSA-OAEP SHA-256" -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256
plain cms -cmsout -print -inform DER -in "$dir/enc.der" > "$dir/text"
expect_in "$dir/text" "rsaesOaep" "the OAEP message really uses RSA-OAEP"
decrypt_check "RSA-OAEP SHA-1" -keyopt rsa_padding_mode:oaep

# the check can fail: a message for another recipient does not decrypt
run "software recipient" plain req -x509 -newkey rsa:2048 -nodes -keyout "$dir/other.key" \
	-subj /CN=other -days 2 -out "$dir/other.crt"
run "cms -encrypt (other recipient)" plain cms -encrypt -binary -aes-256-cbc -in "$dir/msg" \
	-recip "$dir/other.crt" -outform DER -out "$dir/enc.der"
run_fails "cms -decrypt of a message for another key" p11 cms -decrypt -binary -inform DER \
	-in "$dir/enc.der" -recip "$dir/rsa.crt" -inkey "$(key rsa)" -out "$dir/dec"
ok "cms -decrypt fails for a message to another key"

done_ok
