#!/bin/sh
# ca.sh - p11ca ca against a throwaway SoftHSM2 token: a root CA whose key
# is generated on the token (EC P-256); certificates for a single server, a
# three-peer cluster sharing one certificate and a cluster with a
# certificate per peer, each checked with `openssl verify/x509` (SANs, EKU,
# AKI = CA SKI, a positive serial of at least 64 bits, validity); profiles,
# PEM/DER, digests; revocation, CRLs (`openssl crl -verify`, the CRL number,
# reasons, invalidity dates, `openssl verify -crl_check`), list/show, an
# exported index answering `openssl ocsp -index`.  Bad input (garbage,
# truncated or badly signed CSRs, wildcards, invalid names, RSA-8192 and
# other refused keys, CA:TRUE, usages beyond the profile, unknown URI
# attributes, a wrong PIN, an unwritable destination) exits non-zero with
# one line and leaves the database and the token as they were, even when
# one bad CSR is among good ones.  The sub-CA, Ed25519 and imported CAs are
# in tests/ca-other-cas.sh, concurrency and kill -9 in
# tests/ca-concurrency.sh.
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init ca

# An RSA-8192 key takes long to make with two primes; five primes (a
# multi-prime key, same 8192-bit modulus in the CSR) take a second or two.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192 -pkeyopt rsa_keygen_primes:5 \
	-out "$SW/rsa8192.key" > /dev/null 2>&1 &
RSA8192_PID=$!
BG="$BG $RSA8192_PID"

# ---------------------------------------------------------------------
step "help and usage errors"
run_ok "$P11CA" --help
grep -q "^  ca " "$WORK/out" || fail "p11ca --help does not list ca"
for v in init set-cert sign revoke crl list show import-openssl export-index; do
	run_ok "$P11CA" ca "$v" --help
	grep -q "^usage: p11ca ca $v" "$WORK/out" || fail "p11ca ca $v --help: $(cat "$WORK/out")"
done
expect_fail 2 "'ca' needs one of" "$P11CA" ca frobnicate
expect_fail 2 "unrecognized option '--frobnicate'" "$P11CA" ca sign --frobnicate
refuse any "none/ca.conf: cannot read it" "$WORK/none" sign --dir "$WORK/none" "$WORK/none.csr"

# ---------------------------------------------------------------------
step "ca init: a root CA, its key generated on the token"
R=$WORK/root
_tok=$(tok_state)
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/C=GB/O=Example Ltd/CN=Example Root CA" \
	--crl-url http://crl.example.com/root.crl --crl-url http://crl2.example.com/root.crl \
	--ocsp-url http://ocsp.example.com/ \
	--ca-issuers-url http://pki.example.com/root.cer
# tok_state (what refuse compares) sees a key made on the token
_now=$(tok_state)
[ "$_now" != "$_tok" ] || fail "tok_state did not change when ca init made the root key"
for f in ca.conf ca.pem ca.db; do
	[ -s "$R/$f" ] || fail "ca init wrote no $R/$f"
done
[ "$(stat -c %a "$R")" = 700 ] || fail "$R has mode $(stat -c %a "$R"), want 700"
verify_ok "$R/ca.pem" "$R/ca.pem"
expect_subject "$R/ca.pem" "CN=Example Root CA,O=Example Ltd,C=GB"
[ "$(openssl x509 -in "$R/ca.pem" -noout -issuer -nameopt RFC2253)" = \
	"issuer=CN=Example Root CA,O=Example Ltd,C=GB" ] || fail "the root is not self-issued"
expect_ext "$R/ca.pem" basicConstraints "CA:TRUE"
xcrit "$R/ca.pem" basicConstraints || fail "root: basicConstraints is not critical"
expect_ext "$R/ca.pem" keyUsage "Certificate Sign, CRL Sign"
xcrit "$R/ca.pem" keyUsage || fail "root: keyUsage is not critical"
ROOT_SKI=$(xext "$R/ca.pem" subjectKeyIdentifier)
[ -n "$ROOT_SKI" ] || fail "root: no SKI"
expect_ext "$R/ca.pem" authorityKeyIdentifier "$ROOT_SKI"
openssl x509 -in "$R/ca.pem" -noout -text | grep "Signature Algorithm: ecdsa-with-SHA256" > /dev/null ||
	fail "root: not ecdsa-with-SHA256"
openssl x509 -in "$R/ca.pem" -noout -checkend $((3649 * 86400)) > /dev/null ||
	fail "root: valid for less than 3650 days"
openssl x509 -in "$R/ca.pem" -noout -checkend $((3651 * 86400)) > /dev/null &&
	fail "root: valid for more than 3650 days"
# the certificate carries the token key
"$P11CA" key pubkey --module "$MODULE" --pin-file "$PIN_FILE" "$TOK;object=root" \
	--out "$WORK/root.pub" || fail "no public key for the root key on the token"
openssl x509 -in "$R/ca.pem" -noout -pubkey > "$WORK/root-cert.pub"
cmp -s "$WORK/root.pub" "$WORK/root-cert.pub" || fail "root: ca.pem does not carry the token key"
# the configuration: the key's URI but never a PIN
grep -q "^\[ *p11ca *\]" "$R/ca.conf" || fail "ca.conf: no [p11ca] section"
grep -Eq "^key *= *pkcs11:.*object=root" "$R/ca.conf" || fail "ca.conf: no key URI"
grep -Eq "^default_days *= *365" "$R/ca.conf" || fail "ca.conf: default_days"
grep -Eq "^crl_url.* = *http://crl.example.com/root.crl" "$R/ca.conf" || fail "ca.conf: crl_url"
grep -qi "pin-value" "$R/ca.conf" && fail "ca.conf holds a pin-value"
grep -qF "$PIN" "$R/ca.conf" && fail "ca.conf holds the PIN"
[ "$(sqlite3 "$R/ca.db" 'pragma user_version')" = 4 ] || fail "ca.db: user_version is not 4"
[ "$(sqlite3 "$R/ca.db" 'pragma journal_mode')" = wal ] || fail "ca.db is not in WAL mode"
[ "$(db_count "$R")" = 0 ] || fail "a new CA's database is not empty"
run_ok ca list --dir "$R" --json
python3 -c 'import json,sys; assert json.load(sys.stdin) == []' < "$WORK/out" ||
	fail "ca list --json of an empty CA: $(cat "$WORK/out")"

step "ca init refuses an existing CA, unknown URI attributes, a wrong PIN"
refuse 1 "already|exist" "$R" init --dir "$R" --key "$TOK;object=root" --subject "/CN=again"
verify_ok "$R/ca.pem" "$R/ca.pem"
refuse 1 "unknown attribute 'bogus'" "$WORK/bogus1" init --dir "$WORK/bogus1" \
	--key "$TOK;bogus=1" --subject "/CN=Bogus CA"
refuse 1 "unknown attribute 'bogus'" "$WORK/bogus2" init --dir "$WORK/bogus2" \
	--key "$TOK;object=root;bogus=1" --subject "/CN=Bogus CA"
refuse 1 "unknown attribute 'bogus'" "$WORK/bogus3" init --dir "$WORK/bogus3" \
	--new-key ec:p256 --token "$TOK;bogus=1" --label bogus --subject "/CN=Bogus CA"
refuse any "8192|--force" "$WORK/big" init --dir "$WORK/big" --new-key rsa:8192 --token "$TOK" \
	--label big --subject "/CN=Big CA"
refuse any "--subject: unknown field .XX." "$WORK/badsubj" init --dir "$WORK/badsubj" --new-key ec:p256 --token "$TOK" \
	--label badsubj --subject "/XX=1/CN=Bad CA"
printf 'wrong-pin\n' > "$WORK/wrong.pin"
chmod 600 "$WORK/wrong.pin" # a PIN file others may read is warned about
_tok=$(tok_state)
expect_fail 1 "PIN|pin|log ?in" "$P11CA" ca init --module "$MODULE" --pin-file "$WORK/wrong.pin" \
	--dir "$WORK/wrongpin" --new-key ec:p256 --token "$TOK" --label wrongpin --subject "/CN=W CA"
one_line "$WORK/err"
_now=$(tok_state)
[ "$_now" = "$_tok" ] || fail "ca init with a wrong PIN changed the token"
for d in bogus1 bogus2 bogus3 big badsubj wrongpin; do
	for f in ca.conf ca.db ca.pem; do
		[ -e "$WORK/$d/$f" ] && fail "a refused ca init left $WORK/$d/$f"
	done
done

# ---------------------------------------------------------------------
step "flow (a): a single server, key on the token (csr --new-key), PEM on stdout"
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --new-key ec:p256 --label vcs \
	--token "$TOK" --fqdn vcs.example.com --out "$WORK/vcs.csr"
run_ok ca sign --dir "$R" "$WORK/vcs.csr"
cp "$WORK/out" "$OUT/vcs.pem"
[ "$(grep -c "BEGIN CERTIFICATE" "$OUT/vcs.pem")" -eq 1 ] || fail "ca sign: not one PEM certificate"
[ -s "$WORK/err" ] && fail "ca sign wrote to stderr without -v: $(cat "$WORK/err")"
check_leaf "$OUT/vcs.pem" "$R" "DNS:vcs.example.com"
expect_subject "$OUT/vcs.pem" "CN=vcs.example.com"
expect_ext "$OUT/vcs.pem" keyUsage "Digital Signature"
_cdp=$(xext "$OUT/vcs.pem" crlDistributionPoints)
for u in http://crl.example.com/root.crl http://crl2.example.com/root.crl; do
	echo "$_cdp" | grep -q "Full Name: .*URI:$u" || fail "vcs: CRL distribution points '$_cdp' lack $u"
done
_aia=$(xext "$OUT/vcs.pem" authorityInfoAccess)
echo "$_aia" | grep -q "OCSP - URI:http://ocsp.example.com/" || fail "vcs: AIA '$_aia' has no OCSP"
echo "$_aia" | grep -q "CA Issuers - URI:http://pki.example.com/root.cer" ||
	fail "vcs: AIA '$_aia' has no caIssuers"
openssl x509 -in "$OUT/vcs.pem" -noout -pubkey > "$WORK/vcs-cert.pub"
"$P11CA" key pubkey --module "$MODULE" --pin-file "$PIN_FILE" "$TOK;object=vcs" \
	--out "$WORK/vcs.pub" || fail "no public key for vcs"
cmp -s "$WORK/vcs.pub" "$WORK/vcs-cert.pub" || fail "vcs.pem does not carry the token key"
# default validity 365 days
openssl x509 -in "$OUT/vcs.pem" -noout -checkend $((364 * 86400)) > /dev/null ||
	fail "vcs: valid for less than 365 days"
openssl x509 -in "$OUT/vcs.pem" -noout -checkend $((366 * 86400)) > /dev/null &&
	fail "vcs: valid for more than 365 days"
VCS_SERIAL=$(serial_of "$OUT/vcs.pem")
[ "$(db_count "$R")" = 1 ] || fail "the database does not hold one row"
[ "$(sqlite3 "$R/ca.db" "select serial from certs")" = "$VCS_SERIAL" ] ||
	fail "the row's serial is not $VCS_SERIAL"

step "flow (b): a three-peer cluster sharing one certificate (--out FILE, -v)"
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --new-key ec:p256 --label shared \
	--token "$TOK" --fqdn exp1.example.com --cluster expc.example.com \
	--peer exp1.example.com --peer exp2.example.com --peer exp3.example.com --out "$WORK/shared.csr"
run_ok ca sign --dir "$R" -v --days 30 --out "$OUT/shared.pem" "$WORK/shared.csr"
[ -s "$WORK/out" ] && fail "ca sign --out wrote to stdout"
check_leaf "$OUT/shared.pem" "$R" \
	"DNS:exp1.example.com, DNS:expc.example.com, DNS:exp2.example.com, DNS:exp3.example.com"
expect_subject "$OUT/shared.pem" "CN=exp1.example.com"
SHARED_SERIAL=$(serial_of "$OUT/shared.pem")
grep -Eq "^issued $SHARED_SERIAL .*exp1\.example\.com" "$WORK/err" ||
	fail "-v did not print 'issued $SHARED_SERIAL ...': $(cat "$WORK/err")"
openssl x509 -in "$OUT/shared.pem" -noout -checkend $((29 * 86400)) > /dev/null ||
	fail "--days 30: valid for less than 30 days"
openssl x509 -in "$OUT/shared.pem" -noout -checkend $((31 * 86400)) > /dev/null &&
	fail "--days 30: valid for more than 30 days"

step "flow (c): a cluster with a certificate per peer, three CSRs in one call (--out-dir)"
for i in 1 2 3; do
	run_ok "$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --new-key ec:p256 \
		--label "peer$i" --token "$TOK" --fqdn "exp$i.example.com" --cluster expc.example.com \
		--out "$WORK/peer$i.csr"
done
run_ok ca sign --dir "$R" --out-dir "$OUT/peers" "$WORK/peer1.csr" "$WORK/peer2.csr" "$WORK/peer3.csr"
[ "$(ls "$OUT/peers" | wc -l)" -eq 3 ] || fail "--out-dir: $(ls "$OUT/peers")"
for f in "$OUT/peers"/*; do
	sn=$(serial_of "$f")
	cn=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=CN=//')
	[ "$(basename "$f")" = "$cn-$sn.pem" ] || fail "$f holds the certificate $sn of $cn"
	case "$cn" in
	exp[123].example.com) ;;
	*) fail "$f: subject CN '$cn'" ;;
	esac
	check_leaf "$f" "$R" "DNS:$cn, DNS:expc.example.com"
	cp "$f" "$OUT/${cn%%.*}.pem"
done
[ "$(ls "$OUT"/exp?.pem | wc -l)" -eq 3 ] || fail "the three peers did not get one certificate each"
[ "$(db_count "$R")" = 5 ] || fail "the database does not hold 5 rows"

step "profiles, key types, DER output, digests"
swcsr plain "/CN=plain.example.com" -addext "subjectAltName=DNS:plain.example.com,IP:192.0.2.7"
run_ok ca sign --dir "$R" --profile server --out "$OUT/server.pem" "$SW/plain.csr"
check_leaf "$OUT/server.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7" \
	"TLS Web Server Authentication"
run_ok ca sign --dir "$R" --again --profile client --out "$OUT/client.pem" "$SW/plain.csr"
check_leaf "$OUT/client.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7" \
	"TLS Web Client Authentication"
run_ok ca sign --dir "$R" --again --der --out "$OUT/plain.der" "$SW/plain.csr"
head -c 64 "$OUT/plain.der" | grep -q "BEGIN" && fail "--der wrote PEM"
openssl x509 -inform DER -in "$OUT/plain.der" -out "$OUT/plain.pem" || fail "--der: not DER"
check_leaf "$OUT/plain.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7"
run_ok ca sign --dir "$R" --again --md sha384 "$SW/plain.csr"
cp "$WORK/out" "$OUT/sha384.pem"
openssl x509 -in "$OUT/sha384.pem" -noout -text | grep "Signature Algorithm: ecdsa-with-SHA384" > /dev/null ||
	fail "--md sha384 not used"
# a DER CSR, Ed25519 and RSA-3072 keys
openssl req -in "$SW/plain.csr" -outform DER -out "$SW/plain.der"
openssl req -new -newkey ed25519 -nodes -keyout "$SW/ed.key" -subj "/CN=ed.example.com" \
	-addext "subjectAltName=DNS:ed.example.com" -out "$SW/ed.csr" 2> /dev/null
openssl req -new -newkey rsa:3072 -nodes -keyout "$SW/rsa3072.key" -subj "/CN=rsa.example.com" \
	-out "$SW/rsa3072.csr" 2> /dev/null
run_ok ca sign --dir "$R" --again --out-dir "$OUT/kinds" --der "$SW/plain.der" "$SW/ed.csr" "$SW/rsa3072.csr"
[ "$(ls "$OUT/kinds"/*.der | wc -l)" -eq 3 ] || fail "--out-dir --der: $(ls "$OUT/kinds")"
for f in "$OUT/kinds"/*.der; do
	openssl x509 -inform DER -in "$f" -out "${f%.der}.pem" || fail "$f is not DER"
	verify_ok "$R/ca.pem" "${f%.der}.pem"
done
# SAN types copied (email, URI); other CSR extensions not copied (-v warns)
swcsr names "/CN=names.example.com" \
	-addext "subjectAltName=DNS:names.example.com,email:pki@example.com,URI:https://names.example.com/" \
	-addext "nsComment=not copied" -addext "1.2.3.4.5=ASN1:UTF8String:not copied either"
run_ok ca sign --dir "$R" -v --out "$OUT/names.pem" "$SW/names.csr"
check_leaf "$OUT/names.pem" "$R" \
	"DNS:names.example.com, email:pki@example.com, URI:https://names.example.com/"
openssl x509 -in "$OUT/names.pem" -noout -text | grep "not copied\|1\.2\.3\.4\.5\|Netscape Comment" > /dev/null &&
	fail "a CSR extension other than SAN/KU/EKU was copied"
grep -q "warning: .*names\.csr.*not copied" "$WORK/err" ||
	fail "-v gave no warning for the extensions not copied: $(cat "$WORK/err")"
# a CSR's own extensions beyond the profile are refused, naming the usage
refuse 1 "clientAuth|Client Auth" "$R" sign --dir "$R" --profile server "$WORK/vcs.csr"
swcsr codesign "/CN=cs.example.com" -addext "subjectAltName=DNS:cs.example.com" \
	-addext "extendedKeyUsage=serverAuth,codeSigning"
refuse 1 "codeSigning|Code Signing" "$R" sign --dir "$R" "$SW/codesign.csr"
refuse 2 "--der with several CSRs needs --out-dir" "$R" sign --dir "$R" --der --out "$WORK/two.der" "$SW/plain.csr" "$SW/ed.csr"
refuse any "profile .frobnicate.: server, client" "$R" sign --dir "$R" --profile frobnicate "$SW/plain.csr"
# the PIN from the environment
P11CA_PIN=$PIN "$P11CA" ca sign --module "$MODULE" --dir "$R" --again --out "$OUT/envpin.pem" \
	"$SW/plain.csr" || fail "ca sign with P11CA_PIN failed"
verify_ok "$R/ca.pem" "$OUT/envpin.pem"

# ---------------------------------------------------------------------
step "bad CSRs: one line, exit 1, the database and the token untouched"
printf 'this is not a certificate request\n' > "$SW/garbage.csr"
head -c 1000 /dev/urandom > "$SW/random.csr"
_n=$(wc -c < "$SW/plain.der")
head -c $((_n - 40)) "$SW/plain.der" > "$SW/truncated.der"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SW/rsa2048.key" 2> /dev/null
openssl req -new -key "$SW/rsa2048.key" -subj "/CN=badsig.example.com" \
	-addext "subjectAltName=DNS:badsig.example.com" -outform DER -out "$SW/goodsig.der"
# flip a bit 10 bytes before the end: inside the RSA signature value
python3 -c '
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-10] ^= 0x01
open(sys.argv[2], "wb").write(d)' "$SW/goodsig.der" "$SW/badsig.der"
openssl req -inform DER -in "$SW/badsig.der" -noout -subject > /dev/null 2>&1 ||
	fail "the badly signed CSR does not even parse"
openssl req -inform DER -in "$SW/badsig.der" -noout -verify 2>&1 | grep "verify OK" > /dev/null &&
	fail "the badly signed CSR verifies"
swcsr wild "/CN=a.example.com" -addext "subjectAltName=DNS:a.example.com,DNS:*.example.com"
swcsr wildcn "/CN=*.example.com"
swcsr catrue "/CN=ca.example.com" -addext "basicConstraints=critical,CA:TRUE"
swcsr badname "/CN=bad_name.example.com" -addext "subjectAltName=DNS:bad_name.example.com"
openssl req -new -newkey rsa:1024 -nodes -keyout "$SW/rsa1024.key" -subj "/CN=small.example.com" \
	-out "$SW/rsa1024.csr" 2> /dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout "$SW/k1.key" \
	-subj "/CN=k1.example.com" -out "$SW/k1.csr" 2> /dev/null
openssl req -new -newkey ed448 -nodes -keyout "$SW/ed448.key" -subj "/CN=ed448.example.com" \
	-out "$SW/ed448.csr" 2> /dev/null
wait "$RSA8192_PID" || fail "cannot make an RSA-8192 key"
openssl req -new -key "$SW/rsa8192.key" -subj "/CN=big.example.com" \
	-addext "subjectAltName=DNS:big.example.com" -out "$SW/rsa8192.csr" ||
	fail "cannot make the RSA-8192 CSR"
openssl req -in "$SW/rsa8192.csr" -noout -text | grep "Public-Key: (8192 bit)" > /dev/null ||
	fail "not an 8192-bit CSR"

refuse 1 "garbage\.csr" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/garbage.csr"
refuse 1 "random\.csr" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/random.csr"
refuse 1 "truncated\.der" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/truncated.der"
refuse 1 "signature" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/badsig.der"
refuse 1 "wildcard" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/wild.csr"
refuse 1 "wildcard" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/wildcn.csr"
refuse 1 "8192" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/rsa8192.csr"
refuse 1 "1024" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/rsa1024.csr"
refuse 1 "secp256k1|curve" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/k1.csr"
refuse 1 "[Ee][Dd]448|key" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/ed448.csr"
refuse 1 "CA:TRUE|CA certificate|sub-ca" "$R" sign --dir "$R" --out-dir "$WORK/refused" \
	"$SW/catrue.csr"
refuse 1 "bad_name" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$SW/badname.csr"
refuse 1 "no-such\.csr" "$R" sign --dir "$R" --out-dir "$WORK/refused" "$WORK/no-such.csr"
# one bad CSR among good ones: nothing issued, nothing written
MULTI=1
for bad in garbage.csr badsig.der wild.csr catrue.csr rsa8192.csr; do
	refuse 1 "$bad" "$R" sign --dir "$R" --out-dir "$WORK/refused" \
		"$SW/plain.csr" "$WORK/peer1.csr" "$SW/$bad" "$SW/ed.csr"
	refuse 1 "$bad" "$R" sign --dir "$R" --out "$WORK/refused.pem" "$SW/plain.csr" "$SW/$bad"
	# only the bad one is named
	grep -Eq "plain\.csr|peer1\.csr|ed\.csr" "$WORK/err" &&
		fail "a good CSR was named: $(cat "$WORK/err")"
done
# a big batch (checked and signed in parallel threads) with one bad CSR
set --
i=0
while [ $i -lt 40 ]; do
	set -- "$@" "$SW/plain.csr"
	[ $i -eq 23 ] && set -- "$@" "$SW/wild.csr"
	i=$((i + 1))
done
refuse 1 "wild\.csr" "$R" sign --dir "$R" --threads 2 --out-dir "$WORK/refused" "$@"
set --
MULTI=""
[ -n "$(ls -A "$WORK/refused" 2> /dev/null)" ] && fail "a refused ca sign wrote $(ls "$WORK/refused")"
[ -s "$WORK/refused.pem" ] && fail "a refused ca sign wrote $WORK/refused.pem"
# an output that cannot be written: found before anything is issued
refuse 1 "no-such-dir" "$R" sign --dir "$R" --out-dir "$WORK/no-such-dir" "$SW/plain.csr"
refuse 1 "no-such-dir" "$R" sign --dir "$R" --out "$WORK/no-such-dir/x.pem" "$SW/plain.csr"
# a wrong PIN
_db=$(db_state "$R")
_tok=$(tok_state)
expect_fail 1 "PIN|pin|log ?in" "$P11CA" ca sign --module "$MODULE" --pin-file "$WORK/wrong.pin" \
	--dir "$R" --out-dir "$WORK/refused" "$SW/plain.csr"
one_line "$WORK/err"
_now=$(db_state "$R")
[ "$_now" = "$_db" ] || fail "ca sign with a wrong PIN changed the database"
_now=$(tok_state)
[ "$_now" = "$_tok" ] || fail "ca sign with a wrong PIN changed the token"
[ -n "$(ls -A "$WORK/refused" 2> /dev/null)" ] && fail "ca sign with a wrong PIN wrote a file"
# the key URI in ca.conf with an unknown attribute
cp -a "$R" "$WORK/root-bogus"
sed -i 's/^\(key *= *pkcs11:.*\)$/\1;bogus=1/' "$WORK/root-bogus/ca.conf"
grep -q "bogus=1" "$WORK/root-bogus/ca.conf" || fail "cannot edit ca.conf"
refuse 1 "unknown attribute 'bogus'" "$WORK/root-bogus" sign --dir "$WORK/root-bogus" \
	"$SW/plain.csr"
rm -rf "$WORK/root-bogus"
# the token fails to sign (tests/fault-module.c, given as the module, fails
# C_Sign or C_SignInit as P11CA_FAULTS says): a clear error, nothing
# recorded or written, no CRL number spent
FAULT_MODULE=$top_builddir/.libs/fault-module.so
[ -r "$FAULT_MODULE" ] || fail "$FAULT_MODULE is not built"
_module=$MODULE
for f in C_Sign:0x30:-1 C_SignInit:0x5:-1; do
	_n=$(db_count "$R")
	P11CA_FAULTS=$f
	export P11CA_FAULTS
	MODULE=$FAULT_MODULE
	# a line for each CSR
	MULTI=1
	refuse 1 "CKR_DEVICE_ERROR|CKR_GENERAL_ERROR" "$R" \
		sign --dir "$R" --again --out-dir "$WORK/refused" "$SW/plain.csr" "$SW/ed.csr"
	MULTI=""
	[ -z "$(ls -A "$WORK/refused")" ] || fail "ca sign ($f) wrote $(ls -A "$WORK/refused")"
	refuse 1 "CKR_DEVICE_ERROR|CKR_GENERAL_ERROR" "$R" crl --dir "$R" --out "$WORK/fault-crl.pem"
	[ ! -e "$WORK/fault-crl.pem" ] || fail "ca crl ($f) wrote a CRL"
	MODULE=$_module
	unset P11CA_FAULTS
	[ "$(db_count "$R")" = "$_n" ] || fail "ca sign ($f) added rows"
done

# ---------------------------------------------------------------------
step "policy: CA certificates only with --profile sub-ca; URLs; control characters; modes"
# default_profile = sub-ca in ca.conf does not make a plain 'ca sign' issue CA:TRUE
cp -a "$R" "$WORK/root-subdef"
sed -i 's/^default_profile *=.*/default_profile = sub-ca/' "$WORK/root-subdef/ca.conf"
grep -q "^default_profile = sub-ca" "$WORK/root-subdef/ca.conf" || fail "cannot edit ca.conf"
refuse 1 "default_profile.*--profile sub-ca" "$WORK/root-subdef" sign --dir "$WORK/root-subdef" \
	--out "$WORK/refused.pem" "$SW/plain.csr"
[ -e "$WORK/refused.pem" ] && fail "a refused ca sign wrote $WORK/refused.pem"
run_ok ca sign --dir "$WORK/root-subdef" --again --profile server --out "$WORK/subdef.pem" "$SW/plain.csr"
expect_ext "$WORK/subdef.pem" basicConstraints "CA:FALSE"
rm -rf "$WORK/root-subdef"
# a URL that would inject a second distribution point (or is no http URL) is refused
for u in 'http://x/,URI:http://evil/' 'http://x/ URI:http://evil/' 'ldap://x/crl' 'http://' \
	'http://user@x/crl' 'http://x:99999/crl' "http://x/\$ENV::HOME" 'file:///etc/passwd'; do
	refuse 2 "URL|url|port|host" "$WORK/badurl" init --dir "$WORK/badurl" --new-key ec:p256 \
		--token "$TOK" --label badurl --subject "/CN=Bad URL CA" --crl-url "$u"
	refuse 2 "URL|url|port|host" "$WORK/badurl" init --dir "$WORK/badurl" --new-key ec:p256 \
		--token "$TOK" --label badurl --subject "/CN=Bad URL CA" --ocsp-url "$u"
done
[ -e "$WORK/badurl" ] && fail "a refused ca init made $WORK/badurl"
# ... also when ca.conf is edited by hand
cp -a "$R" "$WORK/root-url"
sed -i 's|^crl_url = .*|crl_url = http://crl.example.com/root.crl,URI:http://evil.example.com/|' \
	"$WORK/root-url/ca.conf"
grep -q "evil" "$WORK/root-url/ca.conf" || fail "cannot edit ca.conf"
refuse 1 "crl_url.*','" "$WORK/root-url" sign --dir "$WORK/root-url" --out "$WORK/refused.pem" \
	"$SW/plain.csr"
rm -rf "$WORK/root-url"
# a CN without SAN holding ESC, a newline or a tab is refused whatever the profile
_esc=$(printf '\033')
swcsr cnesc "/CN=evil${_esc}[31m.example.com"
swcsr cnnl "/CN=Jane
Doe"
swcsr cntab "/CN=Jane	Doe"
for c in cnesc cnnl cntab; do
	for p in client ocsp server-client; do
		refuse 1 "control character|not a valid FQDN" "$R" sign --dir "$R" --profile "$p" \
			--out "$WORK/refused.pem" "$SW/$c.csr"
	done
done
grep -q "control character" "$WORK/err" || fail "no 'control character': $(cat "$WORK/err")"
# a CA directory or ca.conf others may write to: a warning on every use
cp -a "$R" "$WORK/root-mode"
swcsr cnjane "/CN=Jane Doe"
run_ok ca sign --dir "$WORK/root-mode" --profile client --out "$WORK/jane.pem" "$SW/cnjane.csr"
run_ok ca list --dir "$WORK/root-mode"
[ -s "$WORK/err" ] && fail "ca list warned about a private CA directory: $(cat "$WORK/err")"
chmod g+w "$WORK/root-mode/ca.conf"
run_ok ca list --dir "$WORK/root-mode"
grep -q "^p11ca: warning: .*ca.conf is group or world writable" "$WORK/err" ||
	fail "no warning for a group-writable ca.conf: $(cat "$WORK/err")"
chmod g-w "$WORK/root-mode/ca.conf"
chmod o+w "$WORK/root-mode"
run_ok ca list --dir "$WORK/root-mode"
grep -q "^p11ca: warning: the CA directory .*root-mode is group or world writable" "$WORK/err" ||
	fail "no warning for a world-writable CA directory: $(cat "$WORK/err")"
chmod o-w "$WORK/root-mode"
rm -rf "$WORK/root-mode"

# ---------------------------------------------------------------------
# an empty subject: the names are all in the SAN, which is then critical
# (a CA of its own: the listings below count the root's certificates)
run_ok ca init --dir "$WORK/es" --new-key ec:p256 --token "$TOK" --label es --subject "/CN=ES"
swcsr nosubj "/" -addext "subjectAltName=DNS:nosubj.example.com"
run_ok ca sign --dir "$WORK/es" "$SW/nosubj.csr" --out "$WORK/nosubj.pem"
openssl x509 -in "$WORK/nosubj.pem" -noout -text | grep -q "Subject Alternative Name: critical" ||
	fail "empty subject: the SAN is not critical"

step "list and show"
N_ROOT=$(db_count "$R")
run_ok ca list --dir "$R"
[ "$(wc -l < "$WORK/out")" -eq $((N_ROOT + 1)) ] || fail "ca list: not a header and $N_ROOT lines"
# columns (perhaps padded to align)
tail -n +2 "$WORK/out" | grep -Ev '^[0-9A-F]+  +valid  +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z  +/.' &&
	fail "ca list: lines not 'SERIAL  STATUS  NOT_AFTER  SUBJECT'"
grep -q "^$VCS_SERIAL  *valid  .*/CN=vcs\.example\.com$" "$WORK/out" || fail "ca list does not show vcs"
json_list "$R" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq "$N_ROOT" ] || fail "ca list --json: not $N_ROOT entries"
grep -q "^$SHARED_SERIAL valid None server-client$" "$WORK/list.txt" ||
	fail "ca list --json: $(grep "$SHARED_SERIAL" "$WORK/list.txt")"
run_ok ca show --dir "$R" "$VCS_SERIAL" --pem
cmp -s "$WORK/out" "$OUT/vcs.pem" || fail "ca show --pem is not the issued certificate"
run_ok ca show --dir "$R" "$VCS_SERIAL" --der
openssl x509 -inform DER -in "$WORK/out" -noout -serial > "$WORK/show.serial" ||
	fail "ca show --der: not DER"
[ "$(cat "$WORK/show.serial")" = "serial=$VCS_SERIAL" ] || fail "ca show --der: another certificate"
run_ok ca show --dir "$R" "$VCS_SERIAL" --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["serial"] == sys.argv[1], d' \
	"$VCS_SERIAL" < "$WORK/out" || fail "ca show --json: $(cat "$WORK/out")"
run_ok ca show --dir "$R" "$VCS_SERIAL"
grep -q "$VCS_SERIAL" "$WORK/out" || fail "ca show: no serial"
grep -q "vcs.example.com" "$WORK/out" || fail "ca show: no subject"
refuse 1 "no such certificate" "$R" show --dir "$R" 0123456789ABCDEF
# a unique prefix of a serial, as trust takes fingerprint prefixes (8 hex digits or more, any case)
run_ok ca show --dir "$R" "$(echo "$VCS_SERIAL" | cut -c1-10 | tr 'A-F' 'a-f')" --der
[ "$(openssl x509 -inform DER -in "$WORK/out" -noout -serial)" = "serial=$VCS_SERIAL" ] ||
	fail "ca show by a serial prefix: another certificate"
# --json that fails leaves standard output empty: nothing half-written to parse
ca list --dir "$WORK/no-such-ca" --json > "$WORK/out" 2> "$WORK/err" && fail "ca list of no CA succeeded"
[ -s "$WORK/out" ] && fail "ca list --json wrote '$(cat "$WORK/out")' and failed"
ca show --dir "$R" 0123456789ABCDEF --json > "$WORK/out" 2> "$WORK/err" && fail "ca show of no serial succeeded"
[ -s "$WORK/out" ] && fail "ca show --json wrote '$(cat "$WORK/out")' and failed"

# ---------------------------------------------------------------------
step "revoke; CRLs"
EXP1=$(serial_of "$OUT/exp1.pem")
EXP2=$(serial_of "$OUT/exp2.pem")
EXP3=$(serial_of "$OUT/exp3.pem")
run_ok ca revoke --dir "$R" --serial "$EXP2" --reason keyCompromise
run_ok ca revoke --dir "$R" --cert "$OUT/exp3.pem" --reason Superseded --invalidity-date 2025-01-02
run_ok ca revoke --dir "$R" --serial "$(serial_of "$OUT/client.pem")"
refuse 1 "serial $EXP2 is revoked already" "$R" revoke --dir "$R" --serial "$EXP2" --reason keyCompromise
refuse 1 "serial 0123456789ABCDEF: no such certificate" "$R" revoke --dir "$R" --serial 0123456789ABCDEF
refuse any "--reason .frobnicated.: unspecified, keyCompromise" "$R" revoke --dir "$R" --serial "$EXP1" --reason frobnicated
refuse any "--invalidity-date: .yesterday. is not a time" "$R" revoke --dir "$R" --serial "$EXP1" --invalidity-date yesterday
refuse 2 "future" "$R" revoke --dir "$R" --serial "$EXP1" --invalidity-date 2099-01-01
# serials are read by value: case, 0x, colons, leading zero bytes
run_ok ca show --dir "$R" "0x0000$(echo "$EXP1" | tr 'A-F' 'a-f')"
grep -q "^serial: *$EXP1$" "$WORK/out" || fail "show by value: $(head -1 "$WORK/out")"
# an unwritable CRL destination spends no CRL number
refuse 1 "cannot write .*/no/such/dir/crl.pem: .*No such file" "$R" crl --dir "$R" --out "$WORK/no/such/dir/crl.pem"

# DER by default (a distribution point serves DER: openssl -crl_download reads
# nothing else); --pem for PEM
run_ok ca crl --dir "$R" --out "$WORK/crl1.der"
head -c 1 "$WORK/crl1.der" | od -An -tx1 | grep -q "30" || fail "ca crl: not DER by default"
openssl crl -inform DER -in "$WORK/crl1.der" -noout -verify -CAfile "$R/ca.pem" 2>&1 |
	grep -q "verify OK" || fail "ca crl: openssl crl -inform DER does not read the default output"
openssl crl -inform DER -in "$WORK/crl1.der" -out "$WORK/crl1.pem"
[ "$(openssl crl -in "$WORK/crl1.pem" -noout -crlnumber)" = "crlNumber=0x01" ] ||
	fail "crl1 (DER): $(openssl crl -in "$WORK/crl1.pem" -noout -crlnumber)"
run_ok ca crl --dir "$R" --pem --out "$WORK/crl1p.pem"
head -1 "$WORK/crl1p.pem" | grep -q "^-----BEGIN X509 CRL-----$" || fail "ca crl --pem: not PEM"
openssl crl -in "$WORK/crl1p.pem" -noout -verify -CAfile "$R/ca.pem" 2>&1 | grep -q "verify OK" ||
	fail "ca crl --pem does not verify"
[ "$(openssl crl -in "$WORK/crl1p.pem" -noout -crlnumber)" = "crlNumber=0x02" ] ||
	fail "crl1p: $(openssl crl -in "$WORK/crl1p.pem" -noout -crlnumber)"
openssl crl -in "$WORK/crl1.pem" -noout -verify -CAfile "$R/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
	fail "crl1 does not verify"
[ "$(openssl crl -in "$WORK/crl1.pem" -noout -crlnumber)" = "crlNumber=0x01" ] ||
	fail "crl1: $(openssl crl -in "$WORK/crl1.pem" -noout -crlnumber)"
openssl crl -in "$WORK/crl1.pem" -noout -text > "$WORK/crl1.txt"
grep -q "Version 2 (0x1)" "$WORK/crl1.txt" || fail "crl1 is not v2"
grep -A1 "Authority Key Identifier" "$WORK/crl1.txt" | tail -1 | sed 's/^ *//; s/^keyid://' |
	grep -qx "$ROOT_SKI" || fail "crl1: AKI is not the CA's SKI"
[ "$(grep -c "Serial Number:" "$WORK/crl1.txt")" -eq 3 ] || fail "crl1 does not list 3 serials"
# crl_entry SERIAL: the CRL entry of SERIAL in $WORK/crl1.txt
crl_entry() {
	awk -v s="$1" '
		/Serial Number:/ { on = ($NF == s); next }
		/^    Signature Algorithm/ { on = 0 }
		on' "$WORK/crl1.txt"
}
crl_entry "$EXP2" | grep -A1 "CRL Reason Code" | grep -q "Key Compromise" ||
	fail "crl1: $EXP2 is not keyCompromise: $(crl_entry "$EXP2")"
crl_entry "$EXP3" | grep -A1 "CRL Reason Code" | grep -q "Superseded" ||
	fail "crl1: $EXP3 is not superseded: $(crl_entry "$EXP3")"
crl_entry "$EXP3" | grep -A1 "Invalidity Date" | grep -q "Jan  2 00:00:00 2025 GMT" ||
	fail "crl1: $EXP3 has no invalidity date 2025-01-02: $(crl_entry "$EXP3")"
CLIENT_SERIAL=$(serial_of "$OUT/client.pem")
crl_entry "$CLIENT_SERIAL" | grep -q "Revocation Date" || fail "crl1 does not list $CLIENT_SERIAL"
crl_entry "$CLIENT_SERIAL" | grep -q "Reason Code" &&
	fail "crl1: an unspecified reason is not omitted: $(crl_entry "$CLIENT_SERIAL")"
# nextUpdate = now + crl_days (7)
_next=$(date -d "$(openssl crl -in "$WORK/crl1.pem" -noout -nextupdate | sed 's/^nextUpdate=//')" +%s)
_want=$(($(date +%s) + 7 * 86400))
[ $((_next - _want)) -le 300 ] && [ $((_want - _next)) -le 300 ] ||
	fail "crl1: nextUpdate is not in 7 days"
verify_fails "$R/ca.pem" "$OUT/exp2.pem" "revoked" -crl_check -CRLfile "$WORK/crl1.pem"
verify_fails "$R/ca.pem" "$OUT/exp3.pem" "revoked" -crl_check -CRLfile "$WORK/crl1.pem"
for c in exp1 vcs shared server; do
	verify_ok "$R/ca.pem" "$OUT/$c.pem" -crl_check -CRLfile "$WORK/crl1.pem"
done
# a second CRL: number 3 (stdout, --pem); a third in DER, --days 2: number 4
run_ok ca crl --dir "$R" --pem
cp "$WORK/out" "$WORK/crl2.pem"
openssl crl -in "$WORK/crl2.pem" -noout -verify -CAfile "$R/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
	fail "crl2 does not verify"
[ "$(openssl crl -in "$WORK/crl2.pem" -noout -crlnumber)" = "crlNumber=0x03" ] ||
	fail "crl2: $(openssl crl -in "$WORK/crl2.pem" -noout -crlnumber)"
verify_fails "$R/ca.pem" "$OUT/exp2.pem" "revoked" -crl_check -CRLfile "$WORK/crl2.pem"
verify_ok "$R/ca.pem" "$OUT/exp1.pem" -crl_check -CRLfile "$WORK/crl2.pem"
run_ok ca crl --dir "$R" --der --days 2 --out "$WORK/crl3.der"
openssl crl -inform DER -in "$WORK/crl3.der" -noout -verify -CAfile "$R/ca.pem" 2>&1 |
	grep "verify OK" > /dev/null || fail "crl3 (DER) does not verify"
[ "$(openssl crl -inform DER -in "$WORK/crl3.der" -noout -crlnumber)" = "crlNumber=0x04" ] ||
	fail "crl3: not number 4"
_next=$(date -d "$(openssl crl -inform DER -in "$WORK/crl3.der" -noout -nextupdate |
	sed 's/^nextUpdate=//')" +%s)
_want=$(($(date +%s) + 2 * 86400))
[ $((_next - _want)) -le 300 ] && [ $((_want - _next)) -le 300 ] ||
	fail "crl3: --days 2 not honoured"

step "list after revocation: statuses, --status revoked"
json_list "$R" > /dev/null
grep -q "^$EXP2 revoked keyCompromise " "$WORK/list.txt" ||
	fail "list --json: $EXP2: $(grep "$EXP2" "$WORK/list.txt")"
grep -q "^$EXP3 revoked superseded " "$WORK/list.txt" ||
	fail "list --json: $EXP3: $(grep "$EXP3" "$WORK/list.txt")"
grep -q "^$EXP1 valid None " "$WORK/list.txt" || fail "list --json: $EXP1 is not valid"
[ "$(grep -c " revoked " "$WORK/list.txt")" -eq 3 ] || fail "list --json: not 3 revoked"
[ "$(grep -c " valid " "$WORK/list.txt")" -eq $((N_ROOT - 3)) ] || fail "list --json: valid count"
json_list "$R" --status revoked > /dev/null
[ "$(sort "$WORK/list.txt" | cut -d' ' -f1 | tr '\n' ' ')" = \
	"$(printf '%s\n' "$EXP2" "$EXP3" "$CLIENT_SERIAL" | sort | tr '\n' ' ')" ] ||
	fail "list --status revoked: $(cat "$WORK/list.txt")"
json_list "$R" --status valid > /dev/null
grep -q " revoked " "$WORK/list.txt" && fail "list --status valid shows a revoked certificate"
run_ok ca list --dir "$R" --status revoked
[ "$(tail -n +2 "$WORK/out" | grep -c "  revoked  ")" -eq 3 ] || fail "ca list --status revoked (text)"
[ "$(tail -n +2 "$WORK/out" | wc -l)" -eq 3 ] || fail "ca list --status revoked shows others"

# ---------------------------------------------------------------------
step "export-index: openssl ocsp -index answers revoked and good"
swcsr ocsp "/CN=ocsp.example.com"
run_ok ca sign --dir "$R" --profile ocsp --out "$OUT/ocsp.pem" "$SW/ocsp.csr"
verify_ok "$R/ca.pem" "$OUT/ocsp.pem"
expect_ext "$OUT/ocsp.pem" extendedKeyUsage "OCSP Signing"
openssl x509 -in "$OUT/ocsp.pem" -noout -text | grep "OCSP No Check" > /dev/null ||
	fail "ocsp profile: no id-pkix-ocsp-nocheck"
run_ok ca export-index --dir "$R" --out "$WORK/index.txt"
[ "$(wc -l < "$WORK/index.txt")" -eq "$(db_count "$R")" ] || fail "export-index: not one line a row"
_tab=$(printf '\t')
grep -Ev "^[VRE]${_tab}[0-9]{12}Z${_tab}([0-9]{12}Z(,[A-Za-z]+)?)?${_tab}[0-9A-F]+${_tab}unknown${_tab}/.+$" \
	"$WORK/index.txt" && fail "export-index: lines not in openssl's index.txt format"
grep -q "^R$_tab.*,keyCompromise$_tab$EXP2$_tab" "$WORK/index.txt" ||
	fail "export-index: $EXP2 not revoked for keyCompromise"
grep -q "^V$_tab.*$_tab$EXP1${_tab}unknown$_tab/CN=exp1.example.com$" "$WORK/index.txt" ||
	fail "export-index: $EXP1 not valid"
run_ok ca export-index --dir "$R"
cmp -s "$WORK/out" "$WORK/index.txt" || fail "export-index to stdout differs from --out"
# ocsp_status CERT: what the responder says of CERT
ocsp_status() {
	openssl ocsp -issuer "$R/ca.pem" -cert "$1" -no_nonce -reqout "$WORK/ocsp.req" \
		> /dev/null 2>&1 || fail "openssl ocsp: cannot make a request for $1"
	openssl ocsp -index "$WORK/index.txt" -CA "$R/ca.pem" -rsigner "$OUT/ocsp.pem" \
		-rkey "$SW/ocsp.key" -reqin "$WORK/ocsp.req" -respout "$WORK/ocsp.resp" -ndays 1 \
		> "$WORK/ocsp.out" 2>&1 || {
		cat "$WORK/ocsp.out" >&2
		fail "openssl ocsp -index refused the request for $1"
	}
	openssl ocsp -respin "$WORK/ocsp.resp" -CAfile "$R/ca.pem" -issuer "$R/ca.pem" \
		-cert "$1" -no_nonce > "$WORK/ocsp.out" 2>&1 || {
		cat "$WORK/ocsp.out" >&2
		fail "openssl ocsp: the response for $1 does not verify"
	}
	grep -q "Response verify OK" "$WORK/ocsp.out" || fail "OCSP response: $(cat "$WORK/ocsp.out")"
	sed -n "s|^$1: ||p" "$WORK/ocsp.out"
}
[ "$(ocsp_status "$OUT/exp2.pem")" = revoked ] || fail "OCSP: exp2 is not revoked"
grep -q "Reason: keyCompromise" "$WORK/ocsp.out" || fail "OCSP: no reason keyCompromise"
[ "$(ocsp_status "$OUT/exp1.pem")" = good ] || fail "OCSP: exp1 is not good"
[ "$(ocsp_status "$OUT/vcs.pem")" = good ] || fail "OCSP: vcs is not good"

step "the environment names the PIN file and the module when the options do not"
P11CA_PIN_FILE=$PIN_FILE P11CA_MODULE=$MODULE "$P11CA" ca crl --dir "$R" --pem --out "$WORK/crl-env.pem" \
	< /dev/null > "$WORK/out" 2> "$WORK/err" || fail "ca crl with P11CA_PIN_FILE: $(cat "$WORK/err")"
openssl crl -in "$WORK/crl-env.pem" -noout -verify -CAfile "$R/ca.pem" 2>&1 | grep -q "verify OK" ||
	fail "the CRL signed with the environment's PIN file does not verify"
# without either, there is no PIN and no terminal to ask (setsid: none even for a
# developer at one): a clear failure, nothing signed
setsid -w "$P11CA" ca crl --dir "$R" --module "$MODULE" --out "$WORK/crl-nopin.pem" < /dev/null \
	> "$WORK/out" 2> "$WORK/err" && fail "ca crl without any PIN source succeeded"
[ -e "$WORK/crl-nopin.pem" ] && fail "ca crl without a PIN wrote a CRL"

step "a ca.db of a schema version this release does not know: refused, not a byte changed"
V=$WORK/newer
mkdir "$V"
cp "$R/ca.conf" "$R/ca.pem" "$V/"
sqlite3 "$R/ca.db" ".backup '$V/ca.db'" || fail "sqlite3 .backup"
sqlite3 "$V/ca.db" "pragma user_version = 99" || fail "sqlite3: user_version"
[ "$(sqlite3 "$V/ca.db" "pragma user_version")" = 99 ] || fail "ca.db: user_version is not 99"
cp "$V/ca.db" "$WORK/newer.db"
ls -A "$V" > "$WORK/newer.ls"
for args in "sign --dir $V --out-dir $WORK/refused $SW/plain.csr" "revoke --dir $V --serial $EXP1" \
	"crl --dir $V --out $WORK/newer-crl.pem" "list --dir $V" "show --dir $V $EXP1" \
	"export-index --dir $V --out $WORK/newer-index.txt"; do
	# shellcheck disable=SC2086 # paths without spaces
	refuse any "ca.db: schema version 99; this release reads version 4" "$V" $args
	cmp -s "$V/ca.db" "$WORK/newer.db" || fail "ca $args changed ca.db of schema version 99"
	ls -A "$V" | cmp -s - "$WORK/newer.ls" || fail "ca $args left files in $V: $(ls -A "$V")"
done
[ -z "$(ls -A "$WORK/refused")" ] || fail "a refused ca sign wrote $(ls -A "$WORK/refused")"
for f in newer-crl.pem newer-index.txt; do
	[ ! -e "$WORK/$f" ] || fail "a refused ca command wrote $f"
done

echo "PASS: ca"
