#!/bin/sh
# ca-other-cas.sh - p11ca ca beyond one root, on a throwaway SoftHSM2
# token: a subordinate CA (RSA-2048 on the token: init --csr, signed by a
# root with the sub-ca profile, set-cert, pathlen, CRLs through the chain),
# an Ed25519 CA (pathlen, validity, ca.conf edits honoured) and the import
# of a real `openssl ca` directory whose key is on the token (reached by
# openssl through the p11ca provider): records, CRL numbers, refusals.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init ca-other-cas

# ---------------------------------------------------------------------
step "a root CA (EC P-256 on the token) and a leaf of it, to issue the sub-CA"
R=$WORK/root
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/C=GB/O=Example Ltd/CN=Example Root CA"
ROOT_SKI=$(xext "$R/ca.pem" subjectKeyIdentifier)
[ -n "$ROOT_SKI" ] || fail "root: no SKI"
swcsr plain "/CN=plain.example.com" -addext "subjectAltName=DNS:plain.example.com,IP:192.0.2.7"
run_ok ca sign --dir "$R" --out "$OUT/vcs.pem" "$SW/plain.csr"
check_leaf "$OUT/vcs.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7"
_tab=$(printf '\t')

# ---------------------------------------------------------------------
step "sub-CA (RSA-2048 on the token): init --csr, signed by the root (sub-ca), set-cert"
S=$WORK/sub
run_ok ca init --dir "$S" --new-key rsa:2048 --token "$TOK" --label subca \
	--subject "/C=GB/O=Example Ltd/CN=Example Issuing CA" --csr "$WORK/sub.csr"
[ -e "$S/ca.pem" ] && fail "ca init --csr wrote ca.pem"
openssl req -in "$WORK/sub.csr" -noout -verify 2>&1 | grep "verify OK" > /dev/null || fail "sub.csr does not verify"
openssl req -in "$WORK/sub.csr" -noout -text > "$WORK/sub.csr.txt"
grep -A1 "Basic Constraints" "$WORK/sub.csr.txt" | grep -q "CA:TRUE" || fail "sub.csr does not ask CA:TRUE"
grep -A1 "Key Usage" "$WORK/sub.csr.txt" | grep -q "Certificate Sign, CRL Sign" ||
	fail "sub.csr does not ask keyCertSign, cRLSign"
refuse 1 "sub/ca.pem: no CA certificate yet" "$S" sign --dir "$S" "$SW/plain.csr"
refuse 1 "CA:TRUE|CA certificate|sub-ca" "$R" sign --dir "$R" "$WORK/sub.csr"
run_ok ca sign --dir "$R" --profile sub-ca --days 30 --out "$OUT/sub.pem" "$WORK/sub.csr"
verify_ok "$R/ca.pem" "$OUT/sub.pem"
expect_ext "$OUT/sub.pem" basicConstraints "CA:TRUE, pathlen:0"
xcrit "$OUT/sub.pem" basicConstraints || fail "sub: basicConstraints is not critical"
expect_ext "$OUT/sub.pem" keyUsage "Certificate Sign, CRL Sign"
expect_ext "$OUT/sub.pem" authorityKeyIdentifier "$ROOT_SKI"
run_ok ca sign --dir "$R" --again --profile sub-ca --pathlen 1 --days 30 --out "$OUT/sub1.pem" "$WORK/sub.csr"
expect_ext "$OUT/sub1.pem" basicConstraints "CA:TRUE, pathlen:1"
# set-cert refuses a certificate of another key, and a leaf
refuse 1 "vcs.pem: not the certificate of the CA key" "$S" set-cert --dir "$S" "$OUT/vcs.pem"
[ -e "$S/ca.pem" ] && fail "a refused set-cert wrote ca.pem"
run_ok ca set-cert --dir "$S" "$OUT/sub.pem"
openssl x509 -in "$S/ca.pem" -outform DER -out "$WORK/sub-installed.der" || fail "$S/ca.pem"
openssl x509 -in "$OUT/sub.pem" -outform DER -out "$WORK/sub.der"
cmp -s "$WORK/sub-installed.der" "$WORK/sub.der" || fail "set-cert did not install sub.pem"
swcsr subleaf "/CN=leaf.example.com" -addext "subjectAltName=DNS:leaf.example.com"
run_ok ca sign --dir "$S" --out "$OUT/subleaf.pem" "$SW/subleaf.csr"
verify_ok "$R/ca.pem" "$OUT/subleaf.pem" -untrusted "$S/ca.pem"
# pathlen 0: the sub-CA issues no CA certificates
refuse any "pathlen" "$S" sign --dir "$S" --profile sub-ca "$WORK/sub.csr"
verify_fails "$R/ca.pem" "$OUT/subleaf.pem" "unable to get local issuer"
expect_ext "$OUT/subleaf.pem" subjectAltName "DNS:leaf.example.com"
expect_ext "$OUT/subleaf.pem" authorityKeyIdentifier "$(xext "$S/ca.pem" subjectKeyIdentifier)"
openssl x509 -in "$OUT/subleaf.pem" -noout -text | grep "Signature Algorithm: sha256WithRSAEncryption" > /dev/null ||
	fail "sub leaf: not sha256WithRSAEncryption"
# 365 days asked, capped at the sub-CA's 30
_leaf_end=$(date -d "$(openssl x509 -in "$OUT/subleaf.pem" -noout -enddate | sed 's/^notAfter=//')" +%s)
_sub_end=$(date -d "$(openssl x509 -in "$S/ca.pem" -noout -enddate | sed 's/^notAfter=//')" +%s)
[ "$_leaf_end" -le "$_sub_end" ] || fail "the sub leaf outlives its CA"
run_ok ca sign --dir "$S" --again --md sha512 "$SW/subleaf.csr"
cp "$WORK/out" "$OUT/subleaf512.pem"
openssl x509 -in "$OUT/subleaf512.pem" -noout -text | grep "sha512WithRSAEncryption" > /dev/null ||
	fail "--md sha512 with an RSA CA"
run_ok ca revoke --dir "$S" --cert "$OUT/subleaf512.pem" --reason cessationOfOperation
run_ok ca crl --dir "$S" --pem --out "$WORK/subcrl.pem"
openssl crl -in "$WORK/subcrl.pem" -noout -verify -CAfile "$S/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
	fail "the sub-CA's CRL does not verify"
cat "$R/ca.pem" "$S/ca.pem" > "$WORK/chain.pem"
verify_fails "$WORK/chain.pem" "$OUT/subleaf512.pem" "revoked" -crl_check -CRLfile "$WORK/subcrl.pem"
verify_ok "$WORK/chain.pem" "$OUT/subleaf.pem" -crl_check -CRLfile "$WORK/subcrl.pem"

# ---------------------------------------------------------------------
step "an Ed25519 CA (pathlen 1, 20 days); ca.conf edits are honoured"
ASAN_FAST=$ASAN_OPTIONS
ASAN_OPTIONS=$ASAN_FULL
E=$WORK/ed
run_ok ca init --dir "$E" --new-key ed25519 --token "$TOK" --label edca --subject "/CN=Ed CA" \
	--pathlen 1 --days 20
verify_ok "$E/ca.pem" "$E/ca.pem"
expect_ext "$E/ca.pem" basicConstraints "CA:TRUE, pathlen:1"
openssl x509 -in "$E/ca.pem" -noout -text | grep "Signature Algorithm: ED25519" > /dev/null ||
	fail "the Ed25519 CA is not signed with Ed25519"
run_ok ca sign --dir "$E" --out "$OUT/edleaf.pem" "$SW/subleaf.csr"
check_leaf "$OUT/edleaf.pem" "$E" "DNS:leaf.example.com"
openssl x509 -in "$OUT/edleaf.pem" -noout -checkend $((21 * 86400)) > /dev/null &&
	fail "the Ed25519 CA's leaf outlives it"
run_ok ca revoke --dir "$E" --cert "$OUT/edleaf.pem" --reason keycompromise \
	--invalidity-date 20250102030405Z
run_ok ca crl --dir "$E" --pem --out "$WORK/edcrl.pem"
openssl crl -in "$WORK/edcrl.pem" -noout -verify -CAfile "$E/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
	fail "the Ed25519 CA's CRL does not verify"
openssl crl -in "$WORK/edcrl.pem" -noout -text | grep -A1 "Invalidity Date" |
	grep "Jan  2 03:04:05 2025 GMT" > /dev/null || fail "--invalidity-date YYYYMMDDHHMMSSZ"
verify_fails "$E/ca.pem" "$OUT/edleaf.pem" "revoked" -crl_check -CRLfile "$WORK/edcrl.pem"
sed -i 's/^default_days *=.*/default_days = 5/; s/^crl_days *=.*/crl_days = 1/' "$E/ca.conf"
run_ok ca sign --dir "$E" "$SW/subleaf.csr"
cp "$WORK/out" "$OUT/ed5.pem"
openssl x509 -in "$OUT/ed5.pem" -noout -checkend $((4 * 86400)) > /dev/null ||
	fail "default_days = 5: valid for less than 5 days"
openssl x509 -in "$OUT/ed5.pem" -noout -checkend $((6 * 86400)) > /dev/null &&
	fail "default_days = 5 in ca.conf not honoured"
run_ok ca crl --dir "$E" --pem --out "$WORK/edcrl2.pem"
_next=$(date -d "$(openssl crl -in "$WORK/edcrl2.pem" -noout -nextupdate | sed 's/^nextUpdate=//')" +%s)
_want=$(($(date +%s) + 86400))
[ $((_next - _want)) -le 300 ] && [ $((_want - _next)) -le 300 ] ||
	fail "crl_days = 1 in ca.conf not honoured"

# ---------------------------------------------------------------------
ASAN_OPTIONS=$ASAN_FAST

step "import-openssl: a real openssl ca directory (its key on the token, through the provider)"
O=$WORK/ossl
mkdir -p "$O/newcerts"
: > "$O/index.txt"
echo 1000 > "$O/serial"
echo 0A > "$O/crlnumber"
# openssl itself reaches the token key through the p11ca provider
openssl_cnf_provider "$top_builddir/.libs/p11ca.so" "$MODULE" "$PIN_FILE" > "$O/provider.cnf"
"$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" --label oldca \
	--type ec:p256 > /dev/null || fail "key gen oldca"
OLDKEY="$TOK;object=oldca;type=private"
OPENSSL_CONF=$O/provider.cnf openssl req -x509 -key "$OLDKEY" -subj "/CN=Old Token CA" -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-out "$O/ca.pem" > "$WORK/ossl.out" 2>&1 || fail "openssl req -x509 on the token: $(cat "$WORK/ossl.out")"
cat > "$O/openssl.cnf" << EOF
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = $O
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.pem
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
copy_extensions = copy
[ policy_any ]
commonName = supplied
EOF
swcsr old1 "/CN=old1.example.com" -addext "subjectAltName=DNS:old1.example.com"
swcsr old2 "/CN=old2.example.com"
for i in 1 2; do
	OPENSSL_CONF=$O/provider.cnf openssl ca -batch -config "$O/openssl.cnf" -keyfile "$OLDKEY" -notext \
		-in "$SW/old$i.csr" -out "$WORK/old$i.pem" > "$WORK/ossl.out" 2>&1 || {
		cat "$WORK/ossl.out" >&2
		fail "openssl ca cannot issue old$i"
	}
done
OPENSSL_CONF=$O/provider.cnf openssl ca -config "$O/openssl.cnf" -keyfile "$OLDKEY" \
	-revoke "$WORK/old1.pem" -crl_reason keyCompromise > "$WORK/ossl.out" 2>&1 ||
	fail "openssl ca -revoke: $(cat "$WORK/ossl.out")"
[ "$(cut -f1,4 "$O/index.txt" | tr '\t\n' ': ')" = "R:1000 V:1001 " ] ||
	fail "openssl ca index: $(cat "$O/index.txt")"
# another CA's records are refused, whole
X=$WORK/other
run_ok ca init --dir "$X" --new-key ec:p256 --token "$TOK" --label other --subject "/CN=Other CA"
refuse 1 "not issued by this CA" "$X" import-openssl --dir "$X" "$O"
# the same CA moves in: its key and certificate, then its records
I=$WORK/imported
run_ok ca init --dir "$I" --key "$OLDKEY" --cert "$O/ca.pem"
openssl x509 -in "$O/ca.pem" | cmp -s - "$I/ca.pem" || fail "init --cert: ca.pem is not the old CA's"
run_ok ca import-openssl --dir "$I" "$O"
grep -qx "imported 2 records" "$WORK/out" || fail "import-openssl did not say how many: $(cat "$WORK/out" "$WORK/err")"
json_list "$I" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq 2 ] || fail "imported: $(cat "$WORK/list.txt")"
grep -q "^1000 revoked keyCompromise " "$WORK/list.txt" || fail "imported 1000: $(cat "$WORK/list.txt")"
grep -q "^1001 valid None " "$WORK/list.txt" || fail "imported 1001: $(cat "$WORK/list.txt")"
run_ok ca show --dir "$I" 1001 --der
openssl x509 -in "$WORK/old2.pem" -outform DER | cmp -s - "$WORK/out" ||
	fail "imported 1001: not the certificate openssl ca issued"
# CRL numbers go on from openssl's crlnumber (0A, the next one)
run_ok ca crl --dir "$I" --pem --out "$WORK/imported.crl"
[ "$(openssl crl -in "$WORK/imported.crl" -noout -crlnumber)" = "crlNumber=0x0A" ] ||
	fail "imported CA's first CRL: $(openssl crl -in "$WORK/imported.crl" -noout -crlnumber)"
openssl crl -in "$WORK/imported.crl" -noout -verify -CAfile "$O/ca.pem" 2>&1 | grep -q "verify OK" ||
	fail "the imported CA's CRL does not verify with the old certificate"
# importing again, a malformed line: the whole import refused
refuse 1 "1000|1001" "$I" import-openssl --dir "$I" "$O"
O2=$WORK/ossl2
mkdir -p "$O2/newcerts"
printf 'V\t301231000000Z\t\t3000\tunknown\t/CN=fine.example.com\nthis line is broken\n' \
	> "$O2/index.txt"
refuse 1 "ossl2: index.txt line 2: not an openssl ca index line" "$I" import-openssl --dir "$I" "$O2"
# rows without a certificate file: imported with a warning; an expired one
printf 'V\t301231000000Z\t\t3000\tunknown\t/CN=nocert.example.com\nV\t200101000000Z\t\t3001\tunknown\t/CN=expired.example.com\n' \
	> "$O2/index.txt"
run_ok ca import-openssl --dir "$I" "$O2"
grep -qi "warning" "$WORK/err" || fail "no warning for rows without a certificate: $(cat "$WORK/err")"
json_list "$I" > /dev/null
grep -q "^3000 valid None " "$WORK/list.txt" || fail "imported 3000: $(cat "$WORK/list.txt")"
grep -q "^3001 expired None " "$WORK/list.txt" || fail "imported 3001: $(cat "$WORK/list.txt")"
json_list "$I" --status expired > /dev/null
[ "$(cut -d' ' -f1 "$WORK/list.txt")" = 3001 ] || fail "--status expired: $(cat "$WORK/list.txt")"
run_ok ca export-index --dir "$I"
grep -q "^R$_tab.*,keyCompromise${_tab}1000$_tab" "$WORK/out" || fail "export-index of imported rows"
grep -q "^E$_tab.*${_tab}3001$_tab" "$WORK/out" || fail "export-index: 3001 not E"

# ---------------------------------------------------------------------
step "import-openssl: the certificate is the record; control bytes escaped; only regular files; CRL numbers bounded"
I3=$WORK/imported3
run_ok ca init --dir "$I3" --key "$OLDKEY" --cert "$O/ca.pem"
O3=$WORK/ossl3
mkdir -p "$O3/newcerts"
cp "$O/newcerts/"*.pem "$O3/newcerts/"
# 1001's line lies about its subject and expiry; 3002 (no certificate) has raw control bytes
awk -F"$_tab" -v OFS="$_tab" '$4 == "1001" { $2 = "491231235959Z"; $6 = "/CN=liar.example.com" } { print }' \
	"$O/index.txt" > "$O3/index.txt"
printf 'V\t301231000000Z\t\t3002\tunknown\t/CN=raw\033[31m\001\tx.example.com\n' >> "$O3/index.txt"
echo 7FFFFFFFFFFFFFFF > "$O3/crlnumber"
run_ok ca import-openssl --dir "$I3" "$O3"
grep -q "^p11ca: warning: .*serial 1001: index.txt says subject '/CN=liar.example.com', the certificate '/CN=old2.example.com'" \
	"$WORK/err" || fail "no warning for the subject index.txt got wrong: $(cat "$WORK/err")"
grep -q "^p11ca: warning: .*serial 1001: index.txt says it expires 2049-12-31T23:59:59Z" "$WORK/err" ||
	fail "no warning for the expiry index.txt got wrong: $(cat "$WORK/err")"
_end=$(date -u -d "$(openssl x509 -in "$WORK/old2.pem" -noout -enddate | sed 's/^notAfter=//')" +%Y-%m-%dT%H:%M:%SZ)
run_ok ca show --dir "$I3" 1001 --json
python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["subject"] == "/CN=old2.example.com" and d["not_after"] == sys.argv[1], d' \
	"$_end" < "$WORK/out" || fail "1001 is not the certificate's record: $(cat "$WORK/out")"
run_ok ca list --dir "$I3"
tr -d '\n' < "$WORK/out" | LC_ALL=C grep -q '[[:cntrl:]]' && fail "ca list printed raw control bytes"
grep -qF '/CN=raw\x1B[31m\x01\x09x.example.com' "$WORK/out" || fail "3002's subject not escaped: $(cat "$WORK/out")"
run_ok ca export-index --dir "$I3"
awk -F"$_tab" 'NF != 6' "$WORK/out" | grep -q . && fail "export-index: a line of other than 6 fields"
tr -d '\t\n' < "$WORK/out" | LC_ALL=C grep -q '[[:cntrl:]]' && fail "export-index wrote raw control bytes"
# the CRL number: the largest kept is used once, then refused rather than wrapped
run_ok ca crl --dir "$I3" --pem --out "$WORK/max.crl"
[ "$(openssl crl -in "$WORK/max.crl" -noout -crlnumber)" = "crlNumber=0x7FFFFFFFFFFFFFFF" ] ||
	fail "CRL number after 7FFFFFFFFFFFFFFF: $(openssl crl -in "$WORK/max.crl" -noout -crlnumber)"
refuse 1 "maximum" "$I3" crl --dir "$I3" --out "$WORK/max2.crl"
O5=$WORK/ossl5
mkdir -p "$O5/newcerts"
printf 'V\t301231000000Z\t\t5000\tunknown\t/CN=n.example.com\n' > "$O5/index.txt"
for n in 8000000000000000 FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF 0 -1 "1 2"; do
	echo "$n" > "$O5/crlnumber"
	refuse 1 "crlnumber" "$I3" import-openssl --dir "$I3" "$O5"
done
# a lower crlnumber imported later does not take CRL numbers back
echo 05 > "$O5/crlnumber"
run_ok ca import-openssl --dir "$I3" "$O5"
refuse 1 "maximum" "$I3" crl --dir "$I3" --out "$WORK/max2.crl"
# FIFOs, devices and big files are refused at once, not waited on or read without end
O4=$WORK/ossl4
refuse_file() {
	_db=$(db_state "$I3")
	_rc=0
	timeout 20 "$P11CA" ca import-openssl --dir "$I3" "$O4" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	[ "$_rc" = 1 ] || fail "import of $1: exit $_rc (124: it hung), want 1: $(cat "$WORK/err")"
	grep -q "$2" "$WORK/err" || fail "import of $1: $(cat "$WORK/err")"
	one_line "$WORK/err"
	[ "$(db_state "$I3")" = "$_db" ] || fail "import of $1 changed the database"
	rm -rf "$O4"
}
mkdir -p "$O4/newcerts" && mkfifo "$O4/index.txt"
refuse_file "a FIFO index.txt" "not a regular file"
mkdir -p "$O4/newcerts" && ln -s /dev/zero "$O4/index.txt"
refuse_file "/dev/zero as index.txt" "not a regular file"
mkdir -p "$O4/newcerts" && truncate -s 300M "$O4/index.txt"
refuse_file "a 300 MiB index.txt" "larger than"
mkdir -p "$O4/newcerts" && cp "$O5/index.txt" "$O4/" && mkfifo "$O4/crlnumber"
refuse_file "a FIFO crlnumber" "not a regular file"
mkdir -p "$O4/newcerts" && cp "$O5/index.txt" "$O4/" && mkfifo "$O4/newcerts/5000.pem"
refuse_file "a FIFO newcerts/5000.pem" "not a regular file"

# ca show: a serial prefix names one record, or it is refused as ambiguous
O6=$WORK/ossl6
mkdir -p "$O6/newcerts"
printf 'V\t301231000000Z\t\t0A0B0C0D01\tunknown\t/CN=p1.example.com\nV\t301231000000Z\t\t0A0B0C0D02\tunknown\t/CN=p2.example.com\n' \
	> "$O6/index.txt"
run_ok ca import-openssl --dir "$I3" "$O6"
refuse 1 "matches 2 certificates" "$I3" show --dir "$I3" 0a0b0c0d
run_ok ca show --dir "$I3" 0a:0b:0c:0d:02 --json
python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["serial"] == "0A0B0C0D02" and d["subject"] == "/CN=p2.example.com", d' \
	< "$WORK/out" || fail "ca show 0a:0b:0c:0d:02: $(cat "$WORK/out")"

echo "PASS: ca-other-cas"
