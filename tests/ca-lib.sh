# ca-lib.sh - helpers shared by the `p11ca ca` tests (tests/ca.sh,
# tests/ca-other-cas.sh, tests/ca-concurrency.sh; sourced, not run): a
# throwaway SoftHSM2 token labelled "ca", software CSRs, certificate checks
# with `openssl x509/verify`, the CA database's state, refusals that change
# nothing, token copies for parallel processes.
. "$top_srcdir/tests/lib.sh"

# ca_lib_init NAME: lib_init NAME, the token $TOK, $SW (software keys and
# CSRs) and $OUT (certificates); background jobs listed in $BG end with the
# test.
ca_lib_init() {
	lib_init "$1"
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
}

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

# db_state DIR: a checksum of everything in DIR/ca.db; fails the test when
# sqlite3 fails or reads nothing (a checksum of no output would match any
# other failure: "unchanged" would pass vacuously).  Call it as
# `x=$(db_state DIR) || fail ...`, never inside [ ], which hides its status.
db_state() {
	_st=$(sqlite3 "$1/ca.db" "select serial, subject, not_before, not_after, status,
		revoked_at, reason, invalidity, profile, issued_at, hex(der) from certs order by serial;
		select serial, pos, type, value from cert_sans order by serial, pos;
		select key, value from meta order by key;
		pragma user_version;") || fail "$1/ca.db: sqlite3 cannot read it"
	[ -n "$_st" ] || fail "$1/ca.db: read nothing"
	printf '%s\n' "$_st" | cksum
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

# tok_state: what the token holds, read from SoftHSM2's object store itself
# (not through p11ca): every object file of every token of $SOFTHSM2_CONF,
# names and contents.  SoftHSM2 writes an object's file when the object is
# made, changed or destroyed, never when it is only used; token.object (the
# token's own record, rewritten on every login) is left out.  Fails the test
# when the store cannot be read (as db_state: call it in an assignment,
# never inside [ ]).
tok_state() {
	_td=$(sed -n 's/^directories\.tokendir *= *//p' "${SOFTHSM2_CONF:-}" 2>/dev/null)
	[ -n "$_td" ] && [ -d "$_td" ] || fail "no SoftHSM2 token directory in '${SOFTHSM2_CONF:-}'"
	_st=$(cd "$_td" && find . -type f -name '*.object' ! -name token.object | LC_ALL=C sort |
		xargs -r sha256sum) || fail "cannot read the object store $_td"
	printf '%s\n' "$_st" | cksum
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
	if [ -e "$_d/ca.db" ]; then
		_db=$(db_state "$_d") || exit 1
	fi
	_tok=$(tok_state) || exit 1
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
		_now=$(db_state "$_d") || exit 1
		[ "$_now" = "$_db" ] || fail "the database changed after: ca $*"
	fi
	_now=$(tok_state) || exit 1
	[ "$_now" = "$_tok" ] || fail "the token changed after: ca $*"
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
# each row's DER is a certificate whose serial is the row's serial; sets
# ROWS to the number of rows.  Not for $(...): a failure there would only
# end the subshell.
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
open(dest + "/count", "w").write("%d\n" % n)
sys.exit(1 if bad else 0)
' "$2" || fail "$1/ca.db: rows and certificates disagree"
	ROWS=$(cat "$2/count")
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
