#!/bin/sh
# ca.sh - p11ca ca against a throwaway SoftHSM2 token: a root CA whose key
# is generated on the token (EC P-256), a subordinate CA (RSA-2048) and an
# Ed25519 CA; certificates for a single server, a three-peer cluster
# sharing one certificate and a cluster with a certificate per peer, each
# checked with `openssl verify/x509` (SANs, EKU, AKI = CA SKI, a positive
# serial of at least 64 bits, validity); profiles, PEM/DER, digests;
# revocation, CRLs (`openssl crl -verify`, the CRL number, reasons,
# invalidity dates, `openssl verify -crl_check`), list/show, an exported
# index answering `openssl ocsp -index`, import of a real `openssl ca`
# directory.  Bad input (garbage, truncated or badly signed CSRs,
# wildcards, invalid names, RSA-8192 and other refused keys, CA:TRUE, usages
# beyond the profile, unknown URI attributes, a wrong PIN, an unwritable
# destination) exits non-zero with one line and leaves the database and
# the token as they were, even when one bad CSR is among good ones.
# Concurrency: 4 processes x 50 issuances, and 4 x 5 revocations + CRLs, on
# one database; kill -9 during a batch of 300 leaves all or none of it (and
# no certificate on disk that the database does not know), the database
# consistent and the CA usable.  About 25 s on 2 cores.
. "$top_srcdir/tests/lib.sh"
lib_init ca
# Under AddressSanitizer, full unwinding at every malloc (which names the
# frames of SoftHSM2's own EdDSA leak for tests/lsan.supp) makes each p11ca
# run 8 times slower: only the Ed25519 CA's step needs it.
ASAN_FULL=${ASAN_OPTIONS:-}
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=1"
export ASAN_OPTIONS
need_cmd sqlite3 python3
new_token ca
TOK="pkcs11:token=ca"
SW=$WORK/sw
OUT=$WORK/certs
mkdir -p "$SW" "$OUT" "$OUT/peers" "$OUT/kinds" "$WORK/refused"

# background jobs (the RSA-8192 key, the concurrency loops) end with the test
BG=""
trap 'for _p in $BG; do kill "$_p" 2> /dev/null || true; done; rm -rf "$WORK"' EXIT

# An RSA-8192 key takes long to make with two primes; five primes (a
# multi-prime key, same 8192-bit modulus in the CSR) take a second or two.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192 -pkeyopt rsa_keygen_primes:5 \
	-out "$SW/rsa8192.key" > /dev/null 2>&1 &
RSA8192_PID=$!
BG="$BG $RSA8192_PID"

# ca VERB ARGS...: p11ca ca on the test's module, PIN from the file
ca() {
	_v=$1
	shift
	"$P11CA" ca "$_v" --module "$MODULE" --pin-file "$PIN_FILE" "$@"
}

# swcsr NAME SUBJECT [openssl req options...]: $SW/NAME.csr for a new
# software EC P-256 key $SW/NAME.key
swcsr() {
	_n=$1 _s=$2
	shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$SW/$_n.key" -subj "$_s" "$@" -out "$SW/$_n.csr" > "$WORK/req.err" 2>&1 || {
		cat "$WORK/req.err" >&2
		fail "openssl req for $_n"
	}
}

# xext CERT NAME: the value of extension NAME (e.g. subjectAltName), its
# lines joined with a space; "" when absent
xext() {
	openssl x509 -in "$1" -noout -ext "$2" 2> /dev/null | sed -n '2,$p' |
		sed 's/^ *//; s/^keyid://' | tr '\n' ' ' | sed 's/ *$//'
}

# xcrit CERT NAME: extension NAME is critical
xcrit() {
	openssl x509 -in "$1" -noout -ext "$2" 2> /dev/null | head -1 | grep -q "critical$"
}

# expect_ext CERT NAME WANT
expect_ext() {
	_got=$(xext "$1" "$2")
	[ "$_got" = "$3" ] || fail "$1: $2 is '$_got', want '$3'"
}

# serial_of CERT: the serial as `openssl x509 -serial` prints it
serial_of() {
	openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'
}

# verify_ok CAFILE CERT [openssl verify options...]
verify_ok() {
	_caf=$1 _c=$2
	shift 2
	openssl verify -CAfile "$_caf" "$@" "$_c" > "$WORK/verify.out" 2>&1 || {
		cat "$WORK/verify.out" >&2
		fail "$_c does not verify against $_caf"
	}
	grep -q ": OK$" "$WORK/verify.out" || fail "$_c: $(cat "$WORK/verify.out")"
}

# verify_fails CAFILE CERT REGEX [options...]: verification fails, saying REGEX
verify_fails() {
	_caf=$1 _c=$2 _re=$3
	shift 3
	if openssl verify -CAfile "$_caf" "$@" "$_c" > "$WORK/verify.out" 2>&1; then
		fail "$_c verified against $_caf $*, but should not"
	fi
	grep -Eq "$_re" "$WORK/verify.out" || fail "$_c: no '$_re' in: $(cat "$WORK/verify.out")"
}

SERVER_CLIENT="TLS Web Server Authentication, TLS Web Client Authentication"

# check_leaf CERT CADIR SANS [EKU]: a leaf certificate the CA in CADIR issued
check_leaf() {
	_c=$1 _d=$2
	verify_ok "$_d/ca.pem" "$_c"
	expect_ext "$_c" subjectAltName "$3"
	expect_ext "$_c" extendedKeyUsage "${4:-$SERVER_CLIENT}"
	expect_ext "$_c" basicConstraints "CA:FALSE"
	xcrit "$_c" basicConstraints || fail "$_c: basicConstraints is not critical"
	_ski=$(xext "$_d/ca.pem" subjectKeyIdentifier)
	[ -n "$_ski" ] || fail "$_d/ca.pem has no SKI"
	expect_ext "$_c" authorityKeyIdentifier "$_ski"
	[ -n "$(xext "$_c" subjectKeyIdentifier)" ] || fail "$_c has no SKI"
	_sn=$(serial_of "$_c")
	echo "$_sn" | grep -Eq '^[0-9A-F]{16,40}$' ||
		fail "$_c: serial '$_sn' is not positive, uppercase hex of at least 64 bits"
	openssl x509 -in "$_c" -noout -text | grep -A1 "Serial Number:" | grep "Negative" > /dev/null &&
		fail "$_c: negative serial"
	openssl x509 -in "$_c" -noout -checkend 86400 > /dev/null ||
		fail "$_c expires within a day"
	[ "$(openssl x509 -in "$_c" -noout -issuer -nameopt RFC2253)" = \
		"$(openssl x509 -in "$_d/ca.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject/issuer/')" ] ||
		fail "$_c: the issuer is not the CA's subject"
	return 0
}

# expect_subject CERT WANT (RFC 2253)
expect_subject() {
	_got=$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
	[ "$_got" = "$2" ] || fail "$1: subject '$_got', want '$2'"
}

# db_state DIR: a checksum of everything in DIR/ca.db
db_state() {
	sqlite3 "$1/ca.db" "select serial, subject, not_before, not_after, status,
		revoked_at, reason, invalidity, profile, issued_at, hex(der) from certs order by serial;
		select serial, pos, type, value from cert_sans order by serial, pos;
		select key, value from meta order by key;" | cksum
}

# db_count DIR: rows in DIR/ca.db
db_count() {
	sqlite3 "$1/ca.db" "select count(*) from certs"
}

# db_ok DIR: SQLite's integrity check passes
db_ok() {
	_r=$(sqlite3 "$1/ca.db" "pragma integrity_check") || fail "$1/ca.db: sqlite3 failed"
	[ "$_r" = ok ] || fail "$1/ca.db: integrity_check: $_r"
}

# tok_state: what the token holds
tok_state() {
	"$P11CA" key list --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" | cksum
}

# json_list DIR [list options...]: `ca list --json` as "SERIAL STATUS REASON PROFILE" lines
json_list() {
	_d=$1
	shift
	ca list --dir "$_d" --json "$@" > "$WORK/list.json" || fail "ca list --json failed"
	python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list), "not an array"
keys = {"serial", "status", "subject", "sans", "not_before", "not_after", "revoked_at",
        "reason", "invalidity_date", "profile"}
# the reason as a name, whether the list gives a name or an RFC 5280 code
names = {0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
         4: "superseded", 5: "cessationOfOperation", 6: "certificateHold",
         9: "privilegeWithdrawn", 10: "aACompromise"}
for r in rows:
    missing = keys - set(r)
    assert not missing, "missing %s in %r" % (missing, r)
    reason = r["reason"]
    if isinstance(reason, int):
        reason = names.get(reason, reason)
    print(r["serial"], r["status"], reason, r["profile"])
' "$WORK/list.json" > "$WORK/list.txt" || {
		cat "$WORK/list.json" >&2
		fail "ca list --json is not the JSON the spec describes"
	}
	cat "$WORK/list.txt"
}

# refuse CODE REGEX DIR ARGS...: p11ca ca ARGS exits CODE with one line
# "p11ca: ..." matching REGEX (with MULTI=1: some lines, each "p11ca: ...");
# DIR's database (when DIR/ca.db exists) and the token are as they were.
# CODE "any" accepts 1 or 2.
refuse() {
	_code=$1 _re=$2 _d=$3
	shift 3
	_db=""
	[ -e "$_d/ca.db" ] && _db=$(db_state "$_d")
	_tok=$(tok_state)
	_rc=0
	ca "$@" > "$WORK/out" 2> "$WORK/err" || _rc=$?
	case "$_code:$_rc" in
	any:1 | any:2 | "$_rc:$_rc") ;;
	*)
		cat "$WORK/out" "$WORK/err" >&2
		fail "exit $_rc (want $_code) from: ca $*"
		;;
	esac
	[ "$_rc" -ne 0 ] || fail "ca $* succeeded"
	grep -Eq -- "$_re" "$WORK/err" || {
		cat "$WORK/err" >&2
		fail "no '$_re' in the error output of: ca $*"
	}
	# several CSRs: a line for each bad one (and perhaps a summary)
	[ -n "${MULTI:-}" ] || one_line "$WORK/err"
	grep -qv "^p11ca: " "$WORK/err" && fail "error lines not starting 'p11ca: ': $(cat "$WORK/err")"
	if [ -n "$_db" ]; then
		[ "$(db_state "$_d")" = "$_db" ] || fail "the database changed after: ca $*"
	fi
	[ "$(tok_state)" = "$_tok" ] || fail "the token changed after: ca $*"
	return 0
}

# token_copy NAME: a copy of the token (same serial, label and keys) in its
# own SoftHSM2 configuration; prints the configuration's path.  SoftHSM2's
# file store is not safe for several processes at once (a login rewrites
# token.object, and another process reading it meanwhile may find no token,
# or fail C_Login with CKR_GENERAL_ERROR or CKR_USER_PIN_NOT_INITIALIZED:
# SoftHSMv2 issue 757), so processes run in parallel, or killed, each get a
# copy: what is shared and tested is the CA's database.
token_copy() {
	rm -rf "$WORK/tokcopy-$1"
	mkdir -p "$WORK/tokcopy-$1"
	cp -a "$TOKEN_DIR/tokens" "$WORK/tokcopy-$1/tokens"
	sed "s|^directories.tokendir = .*|directories.tokendir = $WORK/tokcopy-$1/tokens|" \
		"$SOFTHSM2_CONF" > "$WORK/tokcopy-$1/softhsm2.conf"
	echo "$WORK/tokcopy-$1/softhsm2.conf"
}

# PY_CERT_SERIAL: Python that reads a certificate's serial from its DER
# (cert_serial(der), uppercase hex, minimal), for the checks below
PY_CERT_SERIAL='import base64, binascii, os, sys
def tlv(b, i):
    tag, l = b[i], b[i + 1]
    i += 2
    if l & 0x80:
        n = l & 0x7f
        l = int.from_bytes(b[i:i + n], "big")
        i += n
    if i + l > len(b):
        raise ValueError("truncated")
    return tag, i, l
def cert_serial(der):
    tag, i, l = tlv(der, 0)
    assert tag == 0x30 and i + l == len(der), "not one SEQUENCE"
    tag, i, l = tlv(der, i)          # tbsCertificate
    assert tag == 0x30
    tag, j, l = tlv(der, i)
    if tag == 0xa0:                  # version
        i = j + l
        tag, j, l = tlv(der, i)
    assert tag == 0x02, "no serial INTEGER"
    v = der[j:j + l]
    assert v[0] < 0x80, "negative serial"
    if len(v) > 1 and v[0] == 0:
        assert v[1] >= 0x80, "serial not minimally encoded"
        v = v[1:]
    return binascii.hexlify(v).decode().upper()
'

# dump_rows DIR DEST: every row's certificate as DEST/N.pem; checks in Python that
# each row's DER is a certificate whose serial is the row's serial; prints
# the number of rows
dump_rows() {
	rm -rf "$2"
	mkdir -p "$2"
	sqlite3 "$1/ca.db" "select serial, hex(der) from certs" > "$2/rows" ||
		fail "$1/ca.db: cannot read the rows"
	python3 -c "$PY_CERT_SERIAL"'
dest, n, bad = sys.argv[1], 0, 0
for line in open(dest + "/rows"):
    serial, hexder = line.rstrip("\n").split("|")
    n += 1
    if not hexder:
        print("row %s has no DER" % serial, file=sys.stderr)
        bad += 1
        continue
    der = binascii.unhexlify(hexder)
    try:
        s = cert_serial(der)
    except Exception as e:
        print("row %s: DER does not parse: %s" % (serial, e), file=sys.stderr)
        bad += 1
        continue
    if s != serial:
        print("row %s holds a certificate with serial %s" % (serial, s), file=sys.stderr)
        bad += 1
    b64 = base64.b64encode(der).decode()
    with open("%s/%d.pem" % (dest, n), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n")
        for k in range(0, len(b64), 64):
            f.write(b64[k:k + 64] + "\n")
        f.write("-----END CERTIFICATE-----\n")
print(n)
sys.exit(1 if bad else 0)
' "$2" || fail "$1/ca.db: rows and certificates disagree"
}

# all_verify CAFILE DIR: every DIR/*.pem parses and verifies (one openssl run)
all_verify() {
	_n=$(ls "$2" | grep -c '\.pem$' || true)
	[ "$_n" -gt 0 ] || return 0
	openssl verify -CAfile "$1" "$2"/*.pem > "$WORK/verify.out" 2>&1 || {
		grep -v ": OK$" "$WORK/verify.out" | head >&2
		fail "certificates in the database do not verify"
	}
	[ "$(grep -c ": OK$" "$WORK/verify.out")" -eq "$_n" ] || fail "not all $_n certificates verify"
}

# ---------------------------------------------------------------------
step "help and usage errors"
run_ok "$P11CA" --help
grep -q "^  ca " "$WORK/out" || fail "p11ca --help does not list ca"
for v in init set-cert sign revoke crl list show import-openssl export-index; do
	run_ok "$P11CA" ca "$v" --help
	grep -q "^usage: p11ca ca $v" "$WORK/out" || fail "p11ca ca $v --help: $(cat "$WORK/out")"
done
expect_fail 2 "." "$P11CA" ca frobnicate
expect_fail 2 "." "$P11CA" ca sign --frobnicate
refuse any "." "$WORK/none" sign --dir "$WORK/none" "$WORK/none.csr"

# ---------------------------------------------------------------------
step "ca init: a root CA, its key generated on the token"
R=$WORK/root
run_ok ca init --dir "$R" --new-key ec:p256 --token "$TOK" --label root \
	--subject "/C=GB/O=Example Ltd/CN=Example Root CA" \
	--crl-url http://crl.example.com/root.crl --crl-url http://crl2.example.com/root.crl \
	--ocsp-url http://ocsp.example.com/ \
	--ca-issuers-url http://pki.example.com/root.cer
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
[ "$(sqlite3 "$R/ca.db" 'pragma user_version')" = 2 ] || fail "ca.db: user_version is not 2"
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
refuse any "." "$WORK/badsubj" init --dir "$WORK/badsubj" --new-key ec:p256 --token "$TOK" \
	--label badsubj --subject "/XX=1/CN=Bad CA"
printf 'wrong-pin\n' > "$WORK/wrong.pin"
_tok=$(tok_state)
expect_fail 1 "PIN|pin|log ?in" "$P11CA" ca init --module "$MODULE" --pin-file "$WORK/wrong.pin" \
	--dir "$WORK/wrongpin" --new-key ec:p256 --token "$TOK" --label wrongpin --subject "/CN=W CA"
one_line "$WORK/err"
[ "$(tok_state)" = "$_tok" ] || fail "ca init with a wrong PIN changed the token"
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
	[ "$(basename "$f")" = "$sn.pem" ] || fail "$f holds the certificate $sn"
	cn=$(openssl x509 -in "$f" -noout -subject -nameopt RFC2253 | sed 's/^subject=CN=//')
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
run_ok ca sign --dir "$R" --profile client --out "$OUT/client.pem" "$SW/plain.csr"
check_leaf "$OUT/client.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7" \
	"TLS Web Client Authentication"
run_ok ca sign --dir "$R" --der --out "$OUT/plain.der" "$SW/plain.csr"
head -c 64 "$OUT/plain.der" | grep -q "BEGIN" && fail "--der wrote PEM"
openssl x509 -inform DER -in "$OUT/plain.der" -out "$OUT/plain.pem" || fail "--der: not DER"
check_leaf "$OUT/plain.pem" "$R" "DNS:plain.example.com, IP Address:192.0.2.7"
run_ok ca sign --dir "$R" --md sha384 "$SW/plain.csr"
cp "$WORK/out" "$OUT/sha384.pem"
openssl x509 -in "$OUT/sha384.pem" -noout -text | grep "Signature Algorithm: ecdsa-with-SHA384" > /dev/null ||
	fail "--md sha384 not used"
# a DER CSR, Ed25519 and RSA-3072 keys
openssl req -in "$SW/plain.csr" -outform DER -out "$SW/plain.der"
openssl req -new -newkey ed25519 -nodes -keyout "$SW/ed.key" -subj "/CN=ed.example.com" \
	-addext "subjectAltName=DNS:ed.example.com" -out "$SW/ed.csr" 2> /dev/null
openssl req -new -newkey rsa:3072 -nodes -keyout "$SW/rsa3072.key" -subj "/CN=rsa.example.com" \
	-out "$SW/rsa3072.csr" 2> /dev/null
run_ok ca sign --dir "$R" --out-dir "$OUT/kinds" --der "$SW/plain.der" "$SW/ed.csr" "$SW/rsa3072.csr"
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
refuse 2 "." "$R" sign --dir "$R" --der --out "$WORK/two.der" "$SW/plain.csr" "$SW/ed.csr"
refuse any "." "$R" sign --dir "$R" --profile frobnicate "$SW/plain.csr"
# the PIN from the environment
P11CA_PIN=$PIN "$P11CA" ca sign --module "$MODULE" --dir "$R" --out "$OUT/envpin.pem" \
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
[ "$(db_state "$R")" = "$_db" ] || fail "ca sign with a wrong PIN changed the database"
[ "$(tok_state)" = "$_tok" ] || fail "ca sign with a wrong PIN changed the token"
[ -n "$(ls -A "$WORK/refused" 2> /dev/null)" ] && fail "ca sign with a wrong PIN wrote a file"
# the key URI in ca.conf with an unknown attribute
cp -a "$R" "$WORK/root-bogus"
sed -i 's/^\(key *= *pkcs11:.*\)$/\1;bogus=1/' "$WORK/root-bogus/ca.conf"
grep -q "bogus=1" "$WORK/root-bogus/ca.conf" || fail "cannot edit ca.conf"
refuse 1 "unknown attribute 'bogus'" "$WORK/root-bogus" sign --dir "$WORK/root-bogus" \
	"$SW/plain.csr"
rm -rf "$WORK/root-bogus"

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
refuse 1 "." "$R" show --dir "$R" 0123456789ABCDEF

# ---------------------------------------------------------------------
step "revoke; CRLs"
EXP1=$(serial_of "$OUT/exp1.pem")
EXP2=$(serial_of "$OUT/exp2.pem")
EXP3=$(serial_of "$OUT/exp3.pem")
run_ok ca revoke --dir "$R" --serial "$EXP2" --reason keyCompromise
run_ok ca revoke --dir "$R" --cert "$OUT/exp3.pem" --reason Superseded --invalidity-date 2025-01-02
run_ok ca revoke --dir "$R" --serial "$(serial_of "$OUT/client.pem")"
refuse 1 "." "$R" revoke --dir "$R" --serial "$EXP2" --reason keyCompromise
refuse 1 "." "$R" revoke --dir "$R" --serial 0123456789ABCDEF
refuse any "." "$R" revoke --dir "$R" --serial "$EXP1" --reason frobnicated
refuse any "." "$R" revoke --dir "$R" --serial "$EXP1" --invalidity-date yesterday
refuse 2 "future" "$R" revoke --dir "$R" --serial "$EXP1" --invalidity-date 2099-01-01
# serials are read by value: case, 0x, colons, leading zero bytes
run_ok ca show --dir "$R" "0x0000$(echo "$EXP1" | tr 'A-F' 'a-f')"
grep -q "^serial: *$EXP1$" "$WORK/out" || fail "show by value: $(head -1 "$WORK/out")"
# an unwritable CRL destination spends no CRL number
refuse 1 "." "$R" crl --dir "$R" --out "$WORK/no/such/dir/crl.pem"

run_ok ca crl --dir "$R" --out "$WORK/crl1.pem"
head -1 "$WORK/crl1.pem" | grep -q "^-----BEGIN X509 CRL-----$" || fail "ca crl: not PEM"
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
# a second CRL: number 2 (stdout); a third in DER, --days 2: number 3
run_ok ca crl --dir "$R"
cp "$WORK/out" "$WORK/crl2.pem"
openssl crl -in "$WORK/crl2.pem" -noout -verify -CAfile "$R/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
	fail "crl2 does not verify"
[ "$(openssl crl -in "$WORK/crl2.pem" -noout -crlnumber)" = "crlNumber=0x02" ] ||
	fail "crl2: $(openssl crl -in "$WORK/crl2.pem" -noout -crlnumber)"
verify_fails "$R/ca.pem" "$OUT/exp2.pem" "revoked" -crl_check -CRLfile "$WORK/crl2.pem"
verify_ok "$R/ca.pem" "$OUT/exp1.pem" -crl_check -CRLfile "$WORK/crl2.pem"
run_ok ca crl --dir "$R" --der --days 2 --out "$WORK/crl3.der"
openssl crl -inform DER -in "$WORK/crl3.der" -noout -verify -CAfile "$R/ca.pem" 2>&1 |
	grep "verify OK" > /dev/null || fail "crl3 (DER) does not verify"
[ "$(openssl crl -inform DER -in "$WORK/crl3.der" -noout -crlnumber)" = "crlNumber=0x03" ] ||
	fail "crl3: not number 3"
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
refuse 1 "." "$S" sign --dir "$S" "$SW/plain.csr"
refuse 1 "CA:TRUE|CA certificate|sub-ca" "$R" sign --dir "$R" "$WORK/sub.csr"
run_ok ca sign --dir "$R" --profile sub-ca --days 30 --out "$OUT/sub.pem" "$WORK/sub.csr"
verify_ok "$R/ca.pem" "$OUT/sub.pem"
expect_ext "$OUT/sub.pem" basicConstraints "CA:TRUE, pathlen:0"
xcrit "$OUT/sub.pem" basicConstraints || fail "sub: basicConstraints is not critical"
expect_ext "$OUT/sub.pem" keyUsage "Certificate Sign, CRL Sign"
expect_ext "$OUT/sub.pem" authorityKeyIdentifier "$ROOT_SKI"
run_ok ca sign --dir "$R" --profile sub-ca --pathlen 1 --days 30 --out "$OUT/sub1.pem" "$WORK/sub.csr"
expect_ext "$OUT/sub1.pem" basicConstraints "CA:TRUE, pathlen:1"
# set-cert refuses a certificate of another key, and a leaf
refuse 1 "." "$S" set-cert --dir "$S" "$OUT/vcs.pem"
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
run_ok ca sign --dir "$S" --md sha512 "$SW/subleaf.csr"
cp "$WORK/out" "$OUT/subleaf512.pem"
openssl x509 -in "$OUT/subleaf512.pem" -noout -text | grep "sha512WithRSAEncryption" > /dev/null ||
	fail "--md sha512 with an RSA CA"
run_ok ca revoke --dir "$S" --cert "$OUT/subleaf512.pem" --reason cessationOfOperation
run_ok ca crl --dir "$S" --out "$WORK/subcrl.pem"
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
run_ok ca crl --dir "$E" --out "$WORK/edcrl.pem"
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
run_ok ca crl --dir "$E" --out "$WORK/edcrl2.pem"
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
grep -q "2" "$WORK/out" "$WORK/err" || fail "import-openssl did not say how many: $(cat "$WORK/out" "$WORK/err")"
json_list "$I" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq 2 ] || fail "imported: $(cat "$WORK/list.txt")"
grep -q "^1000 revoked keyCompromise " "$WORK/list.txt" || fail "imported 1000: $(cat "$WORK/list.txt")"
grep -q "^1001 valid None " "$WORK/list.txt" || fail "imported 1001: $(cat "$WORK/list.txt")"
run_ok ca show --dir "$I" 1001 --der
openssl x509 -in "$WORK/old2.pem" -outform DER | cmp -s - "$WORK/out" ||
	fail "imported 1001: not the certificate openssl ca issued"
# CRL numbers go on from openssl's crlnumber (0A, the next one)
run_ok ca crl --dir "$I" --out "$WORK/imported.crl"
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
refuse 1 "." "$I" import-openssl --dir "$I" "$O2"
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
step "concurrency: 4 processes x 50 issuances on one database"
C=$WORK/conc
run_ok ca init --dir "$C" --new-key ec:p256 --token "$TOK" --label conc --subject "/CN=Busy CA"
for i in 0 1 2 3; do
	swcsr "c$i" "/CN=c$i.example.com" -addext "subjectAltName=DNS:c$i.example.com"
done
_t0=$(date +%s)
PIDS=""
for p in 1 2 3 4; do
	mkdir "$WORK/conc-out$p"
	_conf=$(token_copy "conc$p")
	(
		SOFTHSM2_CONF=$_conf
		i=0
		while [ $i -lt 50 ]; do
			"$P11CA" ca sign --module "$MODULE" --pin-file "$PIN_FILE" --dir "$C" \
				--out-dir "$WORK/conc-out$p" "$SW/c$((i % 4)).csr" 2>> "$WORK/conc-err$p" ||
				{
					echo "process $p, issuance $i: exit $?" >> "$WORK/conc-err$p"
					exit 1
				}
			i=$((i + 1))
		done
	) &
	PIDS="$PIDS $!"
	BG="$BG $!"
done
_bad=0
for pid in $PIDS; do
	wait "$pid" || _bad=1
done
echo "    200 issuances in $(($(date +%s) - _t0)) s"
if [ $_bad -ne 0 ]; then
	cat "$WORK"/conc-err? >&2
	fail "concurrent ca sign failed"
fi
[ "$(cat "$WORK"/conc-out?/* | grep -c "BEGIN CERTIFICATE")" -eq 200 ] ||
	fail "concurrent issuance did not write 200 certificates"
[ "$(ls "$WORK"/conc-out? | grep '\.pem$' | sort -u | wc -l)" -eq 200 ] || fail "not 200 distinct file names"
# each file's serial, read from the certificate, is its name (one process for all)
python3 -c "$PY_CERT_SERIAL"'
for path in sys.argv[1:]:
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    serial = cert_serial(base64.b64decode(body))
    name = os.path.basename(path)[:-len(".pem")]
    assert serial == name, "%s holds serial %s" % (path, serial)
    print("serial=" + serial)
' "$WORK"/conc-out?/*.pem | sort -u > "$WORK/conc-serials" || fail "a certificate is not the serial of its file name"
[ "$(wc -l < "$WORK/conc-serials")" -eq 200 ] || fail "not 200 distinct serials"
[ "$(db_count "$C")" = 200 ] || fail "the database holds $(db_count "$C") rows, not 200"
db_ok "$C"
json_list "$C" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq 200 ] || fail "ca list --json: not 200 entries"
[ "$(cut -d' ' -f1 "$WORK/list.txt" | sort -u | sed 's/^/serial=/')" = "$(cat "$WORK/conc-serials")" ] ||
	fail "the database's serials are not the issued ones"
[ "$(dump_rows "$C" "$WORK/rows")" = 200 ] || fail "dump_rows: not 200"
all_verify "$C/ca.pem" "$WORK/rows"

step "concurrency: 4 processes x 5 CRLs, revoking as they go: CRL numbers 1 to 20"
cut -d' ' -f1 "$WORK/list.txt" | head -20 > "$WORK/to-revoke"
PIDS=""
for p in 1 2 3 4; do
	mkdir "$WORK/crls$p"
	_conf=$(token_copy "conc$p")
	(
		SOFTHSM2_CONF=$_conf
		for i in 1 2 3 4 5; do
			"$P11CA" ca revoke --module "$MODULE" --pin-file "$PIN_FILE" --dir "$C" \
				--serial "$(sed -n "$(((p - 1) * 5 + i))p" "$WORK/to-revoke")" \
				2>> "$WORK/crl-err$p" || exit 1
			"$P11CA" ca crl --module "$MODULE" --pin-file "$PIN_FILE" --dir "$C" \
				--out "$WORK/crls$p/$i.pem" 2>> "$WORK/crl-err$p" || exit 1
		done
	) &
	PIDS="$PIDS $!"
	BG="$BG $!"
done
_bad=0
for pid in $PIDS; do
	wait "$pid" || _bad=1
done
if [ $_bad -ne 0 ]; then
	grep "^p11ca: " "$WORK"/crl-err? | grep -v "revoked \|CRL number" >&2
	fail "concurrent ca revoke/crl failed"
fi
for f in "$WORK"/crls?/*.pem; do
	openssl crl -in "$f" -noout -verify -CAfile "$C/ca.pem" 2>&1 | grep "verify OK" > /dev/null ||
		fail "$f does not verify"
	openssl crl -in "$f" -noout -crlnumber
done | sort -u > "$WORK/crlnumbers"
[ "$(wc -l < "$WORK/crlnumbers")" -eq 20 ] || fail "20 CRLs, but not 20 CRL numbers: $(cat "$WORK/crlnumbers")"
[ "$(sqlite3 "$C/ca.db" "select value from meta where key = 'crl_number'")" = 20 ] ||
	fail "the CRL number in the database is not 20"
[ "$(sqlite3 "$C/ca.db" "select count(*) from certs where status = 'R'")" = 20 ] ||
	fail "not 20 revoked"
db_ok "$C"

# ---------------------------------------------------------------------
step "kill -9 during a batch of 300: all or none, the database consistent"
K=$WORK/kill
run_ok ca init --dir "$K" --new-key ec:p256 --token "$TOK" --label kill --subject "/CN=Killed CA"
BATCH=""
i=0
while [ $i -lt 300 ]; do
	BATCH="$BATCH $SW/c$((i % 4)).csr"
	i=$((i + 1))
done
# batch_start: ca sign of the 300 CSRs in the background (pid in $pid), on
# a copy of the token (a kill during SoftHSM2's login could spoil its files)
batch_start() {
	rm -rf "$WORK/kill-out"
	mkdir "$WORK/kill-out"
	_conf=$(token_copy kill)
	# shellcheck disable=SC2086 # $BATCH is a list of paths without spaces
	SOFTHSM2_CONF=$_conf "$P11CA" ca sign --module "$MODULE" --pin-file "$PIN_FILE" \
		--dir "$K" --threads 2 --out-dir "$WORK/kill-out" $BATCH > /dev/null 2> "$WORK/kill.err" &
	pid=$!
	BG="$BG $pid"
}
ms() {
	echo $(($(date +%s%N) / 1000000))
}
# an uncut batch, to know when it commits (T ms after the start): the kills
# are spread around that moment
_t0=$(ms)
batch_start
T=""
while kill -0 "$pid" 2> /dev/null; do
	if [ -z "$T" ] && [ "$(db_count "$K")" -eq 300 ]; then
		T=$(($(ms) - _t0))
	fi
done
wait "$pid" || fail "a batch of 300 failed: $(cat "$WORK/kill.err")"
_all=$(($(ms) - _t0))
: "${T:=$_all}"
[ "$(db_count "$K")" -eq 300 ] || fail "a batch of 300 did not record 300 rows"
[ "$(ls "$WORK/kill-out" | wc -l)" -eq 300 ] || fail "a batch of 300 did not write 300 files"
echo "    a batch of 300 is committed after about $T ms, done after $_all ms"
_r=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
killed=0
for pct in 5 10 20 35 50 70 100 $((_r % 100 + 5)); do
	before=$(db_count "$K")
	_d=$((T * pct / 100))
	delay=$(printf '%d.%03d' $((_d / 1000)) $((_d % 1000)))
	batch_start
	sleep "$delay"
	workers=$(ps -o pid= --ppid "$pid" 2> /dev/null || true)
	BG="$BG $workers"
	kill -9 "$pid" 2> /dev/null || true
	rc=0
	wait "$pid" 2> /dev/null || rc=$?
	# no child process outlives the killed command by long
	t=0
	for w in $workers; do
		while kill -0 "$w" 2> /dev/null; do
			[ $t -lt 100 ] || fail "worker $w still runs 10 s after its parent was killed"
			sleep 0.1
			t=$((t + 1))
		done
	done
	if [ $rc -eq 137 ]; then
		what=killed
		killed=$((killed + 1))
	else
		what="had finished (exit $rc)"
	fi
	after=$(db_count "$K") || fail "after kill -9 at $delay s the database cannot be read"
	written=$(ls "$WORK/kill-out" | grep -c '\.pem$' || true)
	others=$(ls "$WORK/kill-out" | grep -vc '\.pem$' || true)
	echo "    after $delay s ($pct%): $what, $((after - before)) rows committed, $written files," \
		"$others others"
	db_ok "$K"
	[ "$after" -eq "$before" ] || [ "$after" -eq $((before + 300)) ] ||
		fail "kill -9 at $delay s left $((after - before)) of 300 rows"
	# nothing uncommitted on disk: not even a temporary file (it would hold a
	# certificate signed by the CA that its database does not know)
	[ "$written" -eq 0 ] && [ "$others" -eq 0 ] || [ "$after" -eq $((before + 300)) ] ||
		fail "kill -9 at $delay s: certificates on disk but not in the database:" \
			"$(ls "$WORK/kill-out" | head -3)"
	[ "$(dump_rows "$K" "$WORK/rows")" = "$after" ] || fail "dump_rows after kill"
	all_verify "$K/ca.pem" "$WORK/rows"
	run_ok ca sign --dir "$K" "$SW/c0.csr"
	cp "$WORK/out" "$WORK/after-kill.pem"
	verify_ok "$K/ca.pem" "$WORK/after-kill.pem"
	[ "$(db_count "$K")" -eq $((after + 1)) ] || fail "ca sign after kill -9 did not add a row"
	db_ok "$K"
done
[ $killed -gt 0 ] || fail "every batch had finished before kill -9: nothing tested"
json_list "$K" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq "$(db_count "$K")" ] || fail "ca list after the kills"

echo "PASS: ca"
