#!/bin/sh
# cert-formats.sh - cert show and cert convert take CSRs and CRLs as well as
# certificates, PEM or DER, detected: a DER CSR converts to the PEM `openssl
# req -outform PEM` writes (and back); a CRL of a p11ca CA (ca crl: DER by
# default, which `openssl crl -inform DER` reads) converts DER <-> PEM as
# `openssl crl` does; cert show (text, --json, --text) names what each holds;
# garbage is refused with one line.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init cert-formats

step "a CSR: DER -> PEM -> DER, as openssl req converts it"
swcsr web "/O=Example/CN=web.example.com" -addext "subjectAltName=DNS:web.example.com,IP:192.0.2.9" \
	-addext extendedKeyUsage=serverAuth,clientAuth
openssl req -in "$SW/web.csr" -outform DER -out "$WORK/web.csr.der"
run_ok "$P11CA" cert convert "$WORK/web.csr.der" "$WORK/web.csr.pem"
openssl req -inform DER -in "$WORK/web.csr.der" -outform PEM -out "$WORK/want.csr.pem"
cmp -s "$WORK/web.csr.pem" "$WORK/want.csr.pem" || fail "cert convert: a DER CSR to PEM differs from openssl req's"
head -1 "$WORK/web.csr.pem" | grep -qx -- "-----BEGIN CERTIFICATE REQUEST-----" || fail "not a PEM CSR"
run_ok "$P11CA" cert convert "$WORK/web.csr.pem" "$WORK/back.csr.der"
cmp -s "$WORK/back.csr.der" "$WORK/web.csr.der" || fail "cert convert: PEM CSR to DER differs"
run_ok "$P11CA" cert convert "$WORK/web.csr.der" - --to der
cmp -s "$WORK/out" "$WORK/web.csr.der" || fail "cert convert --to der of a DER CSR"

step "cert show of a CSR"
for f in "$WORK/web.csr.der" "$SW/web.csr"; do
	run_ok "$P11CA" cert show "$f"
	grep -qx "Type: *certificate signing request" "$WORK/out" || fail "cert show $f: $(cat "$WORK/out")"
	grep -qx "Subject: */O=Example/CN=web.example.com" "$WORK/out" || fail "cert show $f: subject"
	grep -qx "Subject alt names: *DNS:web.example.com, IP:192.0.2.9" "$WORK/out" ||
		fail "cert show $f: SANs: $(cat "$WORK/out")"
	grep -qx "Extended key usage: *serverAuth, clientAuth" "$WORK/out" || fail "cert show $f: EKU"
	grep -qx "Self-signature: *ok" "$WORK/out" || fail "cert show $f: self-signature"
done
run_ok "$P11CA" cert show "$WORK/web.csr.der" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["type"] == "csr" \
	and d["subject"] == "/O=Example/CN=web.example.com" and d["signature_ok"] is True \
	and d["subject_alt_names"] == ["DNS:web.example.com", "IP:192.0.2.9"] \
	and d["key_bits"] == 256, d' "$WORK/out" || fail "cert show --json of a CSR: $(cat "$WORK/out")"
run_ok "$P11CA" cert show "$WORK/web.csr.der" --text
grep -q "Certificate Request:" "$WORK/out" || fail "cert show --text of a CSR"
# a CSR whose signature does not verify: one byte of the signature flipped
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-3]^=1; open(sys.argv[2],"wb").write(b)' \
	"$WORK/web.csr.der" "$WORK/bad.csr.der"
run_ok "$P11CA" cert show "$WORK/bad.csr.der"
grep -qx "Self-signature: *BAD" "$WORK/out" || fail "cert show: a bad CSR signature shown ok"

step "a CRL of a p11ca CA: ca crl writes DER by default"
R=$WORK/root
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/O=Example/CN=Example Root CA"
run_ok ca sign --dir "$R" --out "$OUT/web.pem" "$SW/web.csr"
serial=$(serial_of "$OUT/web.pem")
run_ok ca revoke --dir "$R" --serial "$serial" --reason superseded
run_ok ca crl --dir "$R" --out "$WORK/root.crl"
openssl crl -inform DER -in "$WORK/root.crl" -noout -verify -CAfile "$R/ca.pem" 2>&1 |
	grep -q "verify OK" || fail "openssl crl -inform DER does not read ca crl's default output"
run_ok ca crl --dir "$R" --der --out "$WORK/root2.crl"
openssl crl -inform DER -in "$WORK/root2.crl" -noout > /dev/null 2>&1 || fail "ca crl --der: not DER"
run_ok ca crl --dir "$R" --pem --out "$WORK/root3.crl"
openssl crl -in "$WORK/root3.crl" -noout > /dev/null 2>&1 || fail "ca crl --pem: not PEM"

step "a CRL: DER <-> PEM as openssl crl converts it"
run_ok "$P11CA" cert convert "$WORK/root.crl" "$WORK/root.crl.pem"
openssl crl -inform DER -in "$WORK/root.crl" -outform PEM -out "$WORK/want.crl.pem"
cmp -s "$WORK/root.crl.pem" "$WORK/want.crl.pem" || fail "cert convert: a DER CRL to PEM differs from openssl crl's"
run_ok "$P11CA" cert convert "$WORK/root.crl.pem" "$WORK/back.crl"
openssl crl -in "$WORK/root.crl.pem" -outform DER -out "$WORK/want.crl.der"
cmp -s "$WORK/back.crl" "$WORK/want.crl.der" || fail "cert convert: a PEM CRL to DER differs from openssl crl's"
cmp -s "$WORK/back.crl" "$WORK/root.crl" || fail "cert convert: DER -> PEM -> DER changed the CRL"

step "cert show of a CRL"
for f in "$WORK/root.crl" "$WORK/root.crl.pem"; do
	run_ok "$P11CA" cert show "$f"
	grep -qx "Type: *certificate revocation list" "$WORK/out" || fail "cert show $f: $(cat "$WORK/out")"
	grep -qx "Issuer: */O=Example/CN=Example Root CA" "$WORK/out" || fail "cert show $f: issuer"
	grep -qx "CRL number: *01" "$WORK/out" || fail "cert show $f: CRL number: $(cat "$WORK/out")"
	grep -qx "Entries: *1" "$WORK/out" || fail "cert show $f: entries"
	grep -Eq "^  $serial  [0-9T:-]+Z  superseded\$" "$WORK/out" || fail "cert show $f: the entry"
done
run_ok "$P11CA" cert show "$WORK/root.crl" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["type"] == "crl" \
	and d["crl_number"] == "01" and d["entries"] == 1 and d["revoked"][0]["serial"] == sys.argv[2] \
	and d["revoked"][0]["reason"] == "superseded" and d["next_update"], d' "$WORK/out" "$serial" ||
	fail "cert show --json of a CRL: $(cat "$WORK/out")"
run_ok "$P11CA" cert show "$WORK/root.crl" --text
grep -q "Certificate Revocation List (CRL):" "$WORK/out" || fail "cert show --text of a CRL"

step "certificates still work, garbage is refused"
run_ok "$P11CA" cert show "$OUT/web.pem"
grep -q "^Serial: *$serial\$" "$WORK/out" || fail "cert show of a certificate"
printf 'garbage\n' > "$WORK/garbage"
expect_fail 1 "garbage: " "$P11CA" cert show "$WORK/garbage"
one_line "$WORK/err"
[ -s "$WORK/out" ] && fail "output for garbage"
head -c 100 "$WORK/root.crl" > "$WORK/cut.crl"
expect_fail 1 "cut.crl: " "$P11CA" cert convert "$WORK/cut.crl" "$WORK/cut.pem"
[ -e "$WORK/cut.pem" ] && fail "cert convert wrote output for a truncated CRL"

pass "cert show/convert of CSRs and CRLs"
