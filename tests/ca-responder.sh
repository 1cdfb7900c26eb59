#!/bin/sh
# ca-responder.sh - p11ca ca responder: the delegated OCSP responder of a CA
# whose key is on a throwaway SoftHSM2 token.  Its key is generated on the
# CA key's token (sensitive, never extractable, as pkcs11-tool lists it);
# its certificate (profile ocsp) is checked with `openssl x509/verify
# -purpose ocsphelper`, recorded (ca list/show), written to
# D/ocsp-responder.pem and named in ca.conf, whose other lines stay as they
# were; a renewal gives a new serial for the same key; the CA key is
# refused as --key; RSA works too; a token failing C_Sign changes no file
# and leaves no key behind; an OCSP response signed through the provider
# with the responder key is accepted by `openssl ocsp -CAfile` (the
# delegated responder).  And the fault module's unplug switch: `p11ca key
# sign` fails clearly while the token is "unplugged" and works once it is
# back.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init ca-responder

R=$WORK/root
FAULT_MODULE=$top_builddir/.libs/fault-module.so
[ -r "$FAULT_MODULE" ] || fail "$FAULT_MODULE is not built"

# responder ARGS...: p11ca ca responder on the test's module
responder() {
	ca responder "$@"
}

# conf_value KEY: KEY's value in $R/ca.conf
conf_value() {
	sed -n "s/^$1 *= *//p" "$R/ca.conf"
}

# pubkey_of CERT: its SubjectPublicKeyInfo (PEM)
pubkey_of() {
	openssl x509 -in "$1" -noout -pubkey
}

# unchanged_by WHAT: ca.conf, ocsp-responder.pem and the database's row
# count are as saved by save_state
save_state() {
	cp "$R/ca.conf" "$WORK/saved.conf"
	cp "$R/ocsp-responder.pem" "$WORK/saved.pem"
	SAVED_ROWS=$(db_count "$R")
}
unchanged_by() {
	cmp -s "$R/ca.conf" "$WORK/saved.conf" || fail "$1 changed ca.conf"
	cmp -s "$R/ocsp-responder.pem" "$WORK/saved.pem" || fail "$1 changed ocsp-responder.pem"
	[ "$(db_count "$R")" = "$SAVED_ROWS" ] || fail "$1 recorded a certificate"
}

# check_responder CERT: a responder certificate of $R's CA
check_responder() {
	verify_ok "$R/ca.pem" "$1" -purpose ocsphelper
	expect_ext "$1" extendedKeyUsage "OCSP Signing"
	expect_ext "$1" keyUsage "Digital Signature"
	xcrit "$1" keyUsage || fail "$1: keyUsage is not critical"
	expect_ext "$1" basicConstraints "CA:FALSE"
	openssl x509 -in "$1" -noout -text | grep -q "OCSP No Check" ||
		fail "$1: no OCSP No Check (id-pkix-ocsp-nocheck)"
	expect_ext "$1" authorityKeyIdentifier "$(xext "$R/ca.pem" subjectKeyIdentifier)"
	[ -n "$(xext "$1" subjectKeyIdentifier)" ] || fail "$1 has no SKI"
	[ -z "$(xext "$1" crlDistributionPoints)" ] || fail "$1 has a CRL distribution point"
	[ "$(openssl x509 -in "$1" -noout -issuer -nameopt RFC2253)" = \
		"issuer=CN=Example Root CA,O=Example Ltd,C=GB" ] || fail "$1: the issuer is not the CA"
	[ "$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253)" = \
		"subject=CN=Example Root CA OCSP Responder,O=Example Ltd,C=GB" ] ||
		fail "$1: subject $(openssl x509 -in "$1" -noout -subject -nameopt RFC2253)"
	# not the CA key
	[ "$(pubkey_of "$1")" != "$(pubkey_of "$R/ca.pem")" ] || fail "$1 carries the CA key"
}

# ---------------------------------------------------------------------
step "help and usage errors"
run_ok "$P11CA" ca responder --help
grep -q "^usage: p11ca ca responder --dir D" "$WORK/out" || fail "ca responder --help"
run_ok "$P11CA" ca --help
grep -q "responder" "$WORK/out" || fail "p11ca ca --help does not list responder"
expect_fail 2 "needs --dir" "$P11CA" ca responder
expect_fail 2 "one or the other" "$P11CA" ca responder --dir "$R" --new-key ec:p256 --key "$TOK"
expect_fail 2 "names the key --new-key makes" "$P11CA" ca responder --dir "$R" --label x
expect_fail 2 "a number of days from 1 to 3650" "$P11CA" ca responder --dir "$R" --days 3651
expect_fail 2 "a number of days from 1 to 3650" "$P11CA" ca responder --dir "$R" --days 0
expect_fail 2 "a pkcs11: URI" "$P11CA" ca responder --dir "$R" --key "$SW/x.key"
expect_fail 2 "pin-value" "$P11CA" ca responder --dir "$R" --key "$TOK;object=x?pin-value=1"
one_line "$WORK/err"

# ---------------------------------------------------------------------
step "a CA, then its responder: a new EC key on the CA key's token"
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/C=GB/O=Example Ltd/CN=Example Root CA" \
	--crl-url http://127.0.0.1:1/root.crl --ocsp-url http://127.0.0.1:1/ocsp
# a line of the user's own survives the rewrite of ca.conf
printf '# kept: a comment of the CA operator\n' >> "$R/ca.conf"
cp "$R/ca.conf" "$WORK/conf.before"
expect_fail 1 "names no OCSP responder yet" responder --dir "$R"
one_line "$WORK/err"
run_ok responder --dir "$R" --new-key ec:p256
grep -Eq "^responder certificate [0-9A-F]{32}, valid until 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z, in $R/ocsp-responder.pem$" \
	"$WORK/out" || fail "ca responder said: $(cat "$WORK/out")"
S1=$(serial_of "$R/ocsp-responder.pem")
grep -q "^responder certificate $S1," "$WORK/out" || fail "the line names another serial than $S1"
check_responder "$R/ocsp-responder.pem"
openssl x509 -in "$R/ocsp-responder.pem" -noout -text | grep -q "ASN1 OID: prime256v1" ||
	fail "the responder key is not EC P-256"
# 30 days (ca.conf's default), from about now
openssl x509 -in "$R/ocsp-responder.pem" -noout -checkend $((29 * 86400)) > /dev/null ||
	fail "the responder certificate lives less than 29 days"
openssl x509 -in "$R/ocsp-responder.pem" -noout -checkend $((31 * 86400)) > /dev/null &&
	fail "the responder certificate lives more than 30 days"
# ca.conf: the three settings, no PIN, and every line it had before
RKEY=$(conf_value ocsp_key)
case "$RKEY" in
"pkcs11:"*"object=root%20OCSP%20responder"*"type=private"*) ;;
*) fail "ca.conf: ocsp_key is '$RKEY'" ;;
esac
[ "$(conf_value ocsp_cert)" = ocsp-responder.pem ] || fail "ca.conf: ocsp_cert $(conf_value ocsp_cert)"
[ "$(conf_value ocsp_days)" = 30 ] || fail "ca.conf: ocsp_days is '$(conf_value ocsp_days)'"
grep -qi "pin-value" "$R/ca.conf" && fail "ca.conf holds a pin-value"
grep -qF "$PIN" "$R/ca.conf" && fail "ca.conf holds the PIN"
grep -vxFf "$R/ca.conf" "$WORK/conf.before" && fail "ca.conf lost the lines above"
[ "$(grep -c "^ocsp_key" "$R/ca.conf")" = 1 ] || fail "ca.conf: not one ocsp_key"
# the record: ca list and ca show, profile ocsp
run_ok ca list --dir "$R"
grep -q "^$S1  valid  .*/CN=Example Root CA OCSP Responder$" "$WORK/out" ||
	fail "ca list: $(cat "$WORK/out")"
run_ok ca show --dir "$R" "$S1"
grep -q "^profile: *ocsp$" "$WORK/out" || fail "ca show: $(cat "$WORK/out")"
run_ok ca show --dir "$R" "$S1" --pem
cmp -s "$WORK/out" "$R/ocsp-responder.pem" || fail "the record is not ocsp-responder.pem"
# the certificate carries the token key named in ca.conf
"$P11CA" key pubkey --module "$MODULE" --pin-file "$PIN_FILE" "$RKEY" --out "$WORK/resp.pub" ||
	fail "no public key for $RKEY"
[ "$(cat "$WORK/resp.pub")" = "$(pubkey_of "$R/ocsp-responder.pem")" ] ||
	fail "ocsp-responder.pem does not carry the key ca.conf names"

step "the new key: on the token, sensitive, never extractable (pkcs11-tool)"
case "$MODULE" in
/*)
	if command -v pkcs11-tool > /dev/null 2>&1; then
		pkcs11-tool --module "$MODULE" --token-label ca --login --pin "$PIN" \
			--list-objects --type privkey > "$WORK/objs" 2>&1 ||
			fail "pkcs11-tool: $(cat "$WORK/objs")"
		grep -A4 "label: *root OCSP responder$" "$WORK/objs" > "$WORK/obj"
		[ -s "$WORK/obj" ] || fail "pkcs11-tool lists no 'root OCSP responder': $(cat "$WORK/objs")"
		grep -q "Access: .*always sensitive" "$WORK/obj" || fail "the key is not sensitive: $(cat "$WORK/obj")"
		grep -q "Access: .*never extractable" "$WORK/obj" ||
			fail "the key may have been extractable: $(cat "$WORK/obj")"
		grep -q "Usage: *sign" "$WORK/obj" || fail "the key cannot sign: $(cat "$WORK/obj")"
	else
		skip_part pkcs11-tool "pkcs11-tool is not installed"
	fi
	;;
*) skip_part pkcs11-tool "pkcs11-tool needs the SoftHSM2 module's path" ;;
esac

# ---------------------------------------------------------------------
step "renewal: no key option, a new serial for the same key"
run_ok responder --dir "$R"
S2=$(serial_of "$R/ocsp-responder.pem")
[ "$S2" != "$S1" ] || fail "the renewal kept serial $S1"
[ "$(cat "$WORK/resp.pub")" = "$(pubkey_of "$R/ocsp-responder.pem")" ] ||
	fail "the renewal changed the key"
check_responder "$R/ocsp-responder.pem"
[ "$(conf_value ocsp_key)" = "$RKEY" ] || fail "the renewal changed ocsp_key"
run_ok ca list --dir "$R"
grep -q "^$S1  valid" "$WORK/out" && grep -q "^$S2  valid" "$WORK/out" ||
	fail "ca list after renewal: $(cat "$WORK/out")"
# --days: the certificate's life, and ca.conf's ocsp_days for later renewals
run_ok responder --dir "$R" --days 7
openssl x509 -in "$R/ocsp-responder.pem" -noout -checkend $((8 * 86400)) > /dev/null &&
	fail "--days 7: the certificate lives more than 7 days"
[ "$(conf_value ocsp_days)" = 7 ] || fail "--days 7: ca.conf has ocsp_days $(conf_value ocsp_days)"
run_ok responder --dir "$R"
openssl x509 -in "$R/ocsp-responder.pem" -noout -checkend $((8 * 86400)) > /dev/null &&
	fail "ocsp_days = 7 was not used by the renewal"
grep -vxFf "$R/ca.conf" "$WORK/conf.before" && fail "ca.conf lost lines on renewal"

# ---------------------------------------------------------------------
step "the CA key is refused as the responder key; nothing changes"
save_state
expect_fail 1 "is the CA key" responder --dir "$R" --key "$(conf_value key)"
one_line "$WORK/err"
unchanged_by "--key with the CA key"
# a key that does not exist
expect_fail 1 "." responder --dir "$R" --key "$TOK;object=no-such-key;type=private"
unchanged_by "--key with a missing key"

# ---------------------------------------------------------------------
step "a token that fails C_Sign: no file changes, no key left behind"
save_state
for f in C_Sign:0x30:-1 C_SignInit:0x5:-1; do
	P11CA_FAULTS=$f "$P11CA" ca responder --module "$FAULT_MODULE" --pin-file "$PIN_FILE" \
		--dir "$R" --new-key ec:p256 --label faulty > "$WORK/out" 2> "$WORK/err" &&
		fail "ca responder succeeded with $f"
	grep -Eq "CKR_DEVICE_ERROR|CKR_GENERAL_ERROR" "$WORK/err" || fail "$f: $(cat "$WORK/err")"
	unchanged_by "a failing token ($f)"
	"$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" > "$WORK/keys" 2>&1 ||
		fail "key list: $(cat "$WORK/keys")"
	grep -q "faulty" "$WORK/keys" && fail "$f: the new key was left on the token"
done
# renewal alike
P11CA_FAULTS=C_Sign:0x30:-1 "$P11CA" ca responder --module "$FAULT_MODULE" \
	--pin-file "$PIN_FILE" --dir "$R" > "$WORK/out" 2> "$WORK/err" &&
	fail "the renewal succeeded with C_Sign failing"
unchanged_by "a failing renewal"

# ---------------------------------------------------------------------
step "an RSA-2048 responder replaces the EC one"
run_ok responder --dir "$R" --new-key rsa:2048 --label "root OCSP RSA"
check_responder "$R/ocsp-responder.pem"
openssl x509 -in "$R/ocsp-responder.pem" -noout -text | grep -q "Public-Key: (2048 bit)" ||
	fail "not an RSA-2048 responder"
openssl x509 -in "$R/ocsp-responder.pem" -noout -text | grep -q "Signature Algorithm: ecdsa-with-SHA256" ||
	fail "the responder certificate is not signed by the EC CA key"
case "$(conf_value ocsp_key)" in
*"object=root%20OCSP%20RSA"*) ;;
*) fail "ca.conf: ocsp_key is $(conf_value ocsp_key)" ;;
esac
[ "$(conf_value ocsp_days)" = 7 ] || fail "ocsp_days was not kept"
grep -vxFf "$R/ca.conf" "$WORK/conf.before" | grep -v "^ocsp_" && fail "ca.conf lost lines"

# ---------------------------------------------------------------------
step "OCSP responses signed through the provider with the responder key"
openssl_cnf_provider "$top_builddir/.libs/p11ca.so" "$MODULE" "$PIN_FILE" > "$WORK/provider.cnf"
swcsr leaf "/CN=leaf.example.com"
run_ok ca sign --dir "$R" --out "$OUT/leaf.pem" "$SW/leaf.csr"
# ocsp_answer CERT: the responder's signed answer about CERT, checked by openssl
ocsp_answer() {
	run_ok ca export-index --dir "$R" --out "$WORK/index.txt"
	openssl ocsp -issuer "$R/ca.pem" -cert "$1" -no_nonce -reqout "$WORK/ocsp.req" \
		> /dev/null 2>&1 || fail "openssl ocsp: no request for $1"
	OPENSSL_CONF=$WORK/provider.cnf openssl ocsp -index "$WORK/index.txt" -CA "$R/ca.pem" \
		-rsigner "$R/ocsp-responder.pem" -rkey "$(conf_value ocsp_key)" \
		-reqin "$WORK/ocsp.req" -respout "$WORK/ocsp.resp" -ndays 1 > "$WORK/ocsp.out" 2>&1 || {
		cat "$WORK/ocsp.out" >&2
		fail "openssl ocsp -index could not sign with the responder key"
	}
	openssl ocsp -respin "$WORK/ocsp.resp" -CAfile "$R/ca.pem" -issuer "$R/ca.pem" \
		-cert "$1" -no_nonce -resp_text > "$WORK/ocsp.out" 2>&1 || {
		cat "$WORK/ocsp.out" >&2
		fail "the response signed by the responder key does not verify"
	}
	grep -q "Response verify OK" "$WORK/ocsp.out" || fail "OCSP: $(cat "$WORK/ocsp.out")"
	grep -q "Responder Id: CN = Example Root CA OCSP Responder" "$WORK/ocsp.out" ||
		grep -q "Responder Id: C = GB, O = Example Ltd, CN = Example Root CA OCSP Responder" \
			"$WORK/ocsp.out" || fail "not signed by the delegated responder: $(cat "$WORK/ocsp.out")"
	sed -n "s|^$1: ||p" "$WORK/ocsp.out"
}
[ "$(ocsp_answer "$OUT/leaf.pem")" = good ] || fail "OCSP: leaf is not good"
run_ok ca revoke --dir "$R" --cert "$OUT/leaf.pem" --reason keyCompromise
[ "$(ocsp_answer "$OUT/leaf.pem")" = revoked ] || fail "OCSP: leaf is not revoked"
grep -q "Reason: keyCompromise" "$WORK/ocsp.out" || fail "OCSP: no reason keyCompromise"
# and a responder certificate of another CA is not accepted by openssl for this one
run_ok ca init --dir "$WORK/other" --new-key ec:p256 --token "$TOK" --label other \
	--subject "/CN=Other CA"
run_ok ca responder --dir "$WORK/other" --new-key ec:p256
openssl ocsp -issuer "$R/ca.pem" -cert "$OUT/leaf.pem" -no_nonce -reqout "$WORK/ocsp.req" > /dev/null 2>&1
OPENSSL_CONF=$WORK/provider.cnf openssl ocsp -index "$WORK/index.txt" -CA "$R/ca.pem" \
	-rsigner "$WORK/other/ocsp-responder.pem" \
	-rkey "$(sed -n 's/^ocsp_key *= *//p' "$WORK/other/ca.conf")" \
	-reqin "$WORK/ocsp.req" -respout "$WORK/ocsp.resp" -ndays 1 > /dev/null 2>&1 ||
	fail "openssl ocsp -index could not sign with the other responder"
openssl ocsp -respin "$WORK/ocsp.resp" -CAfile "$R/ca.pem" -issuer "$R/ca.pem" \
	-cert "$OUT/leaf.pem" -no_nonce > "$WORK/ocsp.out" 2>&1 &&
	grep -q "Response verify OK" "$WORK/ocsp.out" &&
	fail "a response by another CA's responder verified"

# ---------------------------------------------------------------------
step "ca.conf's responder settings are checked when read"
cp -a "$R" "$WORK/bad"
B=$WORK/bad/ca.conf
sed -i 's/^ocsp_days *=.*/ocsp_days = 3651/' "$B"
expect_fail 1 "ocsp_days = '3651' is not a number of days \(1-3650\)" "$P11CA" ca list --dir "$WORK/bad"
one_line "$WORK/err"
cp "$R/ca.conf" "$B"
sed -i '/^ocsp_cert/d' "$B"
expect_fail 1 "ocsp_key without ocsp_cert" "$P11CA" ca list --dir "$WORK/bad"
cp "$R/ca.conf" "$B"
sed -i 's/^\(ocsp_key *= *pkcs11:.*\)$/\1?pin-value=1234/' "$B"
expect_fail 1 "ocsp_key URI holds a pin-value" "$P11CA" ca list --dir "$WORK/bad"
grep -q 1234 "$WORK/err" && fail "the PIN is in the message"
cp "$R/ca.conf" "$B"
sed -i 's/^ocsp_key *=.*/ocsp_key = \/etc\/key.pem/' "$B"
expect_fail 1 "ocsp_key is not a pkcs11: URI" "$P11CA" ca list --dir "$WORK/bad"

# ---------------------------------------------------------------------
step "the fault module's unplug switch: key sign fails while unplugged, works after"
printf 'to be signed\n' > "$WORK/msg"
UNPLUG=$WORK/unplugged
# ksign: p11ca key sign with the responder key through the fault module
ksign() {
	P11CA_FAULTS_UNPLUG_FILE=$UNPLUG "$P11CA" key sign --module "$FAULT_MODULE" \
		--pin-file "$PIN_FILE" --key "$RKEY" --in "$WORK/msg" --out "$WORK/sig" \
		> "$WORK/out" 2> "$WORK/err"
}
ksign || fail "key sign through the fault module: $(cat "$WORK/err")"
openssl dgst -sha256 -verify "$WORK/resp.pub" -signature "$WORK/sig" "$WORK/msg" > /dev/null ||
	fail "the signature does not verify"
: > "$UNPLUG"
rm -f "$WORK/sig"
ksign && fail "key sign succeeded with the token unplugged"
one_line "$WORK/err"
grep -Eq "no token matches .*plugged in" "$WORK/err" ||
	fail "unplugged: no clear message: $(cat "$WORK/err")"
[ -e "$WORK/sig" ] && fail "key sign wrote a signature while unplugged"
rm -f "$UNPLUG"
ksign || fail "key sign after plugging back: $(cat "$WORK/err")"
openssl dgst -sha256 -verify "$WORK/resp.pub" -signature "$WORK/sig" "$WORK/msg" > /dev/null ||
	fail "the signature after plugging back does not verify"

pass "ca-responder"
