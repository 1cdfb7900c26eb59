#!/bin/sh
# ca-concurrency.sh - p11ca ca under load, on a throwaway SoftHSM2 token:
# 4 processes x 50 issuances, and 4 x 5 revocations + CRLs, on one
# database; kill -9 during a batch of 300 (inside the transaction, after the
# commit, among the files: the test-only hook P11CA_TEST_CRASH) leaves all
# or none of it (and no certificate on disk that the database does not
# know), the database consistent and the CA usable.  The slowest of the ca
# tests (about 40 s on 2 busy cores).
. "$top_srcdir/tests/ca-lib.sh"
ca_lib_init ca-concurrency

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
			"$P11CA" ca sign --module "$MODULE" --pin-file "$PIN_FILE" --dir "$C" --again \
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
# each file's serial, read from the certificate, ends its name (one process for all)
python3 -c "$PY_CERT_SERIAL"'
for path in sys.argv[1:]:
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    serial = cert_serial(base64.b64decode(body))
    name = os.path.basename(path)[:-len(".pem")].rsplit("-", 1)[1]  # CN-SERIAL.pem
    assert serial == name, "%s holds serial %s" % (path, serial)
    print("serial=" + serial)
' "$WORK"/conc-out?/*.pem > "$WORK/conc-serials.all" || fail "a certificate is not the serial of its file name"
sort -u "$WORK/conc-serials.all" > "$WORK/conc-serials"
[ "$(wc -l < "$WORK/conc-serials")" -eq 200 ] || fail "not 200 distinct serials"
[ "$(db_count "$C")" = 200 ] || fail "the database holds $(db_count "$C") rows, not 200"
db_ok "$C"
json_list "$C" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq 200 ] || fail "ca list --json: not 200 entries"
[ "$(cut -d' ' -f1 "$WORK/list.txt" | sort -u | sed 's/^/serial=/')" = "$(cat "$WORK/conc-serials")" ] ||
	fail "the database's serials are not the issued ones"
dump_rows "$C" "$WORK/rows"
[ "$ROWS" = 200 ] || fail "dump_rows: $ROWS rows, not 200"
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
			"$P11CA" ca crl --module "$MODULE" --pin-file "$PIN_FILE" --dir "$C" --pem \
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
# (no pipeline after the loop: a fail inside would only end its subshell)
: > "$WORK/crlnumbers.all"
for f in "$WORK"/crls?/*.pem; do
	openssl crl -in "$f" -noout -verify -CAfile "$C/ca.pem" > "$WORK/crl-verify.out" 2>&1 ||
		fail "$f does not verify: $(cat "$WORK/crl-verify.out")"
	grep -q "verify OK" "$WORK/crl-verify.out" || fail "$f does not verify"
	openssl crl -in "$f" -noout -crlnumber >> "$WORK/crlnumbers.all" || fail "$f: no CRL number"
done
sort -u "$WORK/crlnumbers.all" > "$WORK/crlnumbers"
[ "$(wc -l < "$WORK/crlnumbers")" -eq 20 ] || fail "20 CRLs, but not 20 CRL numbers: $(cat "$WORK/crlnumbers")"
[ "$(sqlite3 "$C/ca.db" "select value from meta where key = 'crl_number'")" = 20 ] ||
	fail "the CRL number in the database is not 20"
[ "$(sqlite3 "$C/ca.db" "select count(*) from certs where status = 'R'")" = 20 ] ||
	fail "not 20 revoked"
db_ok "$C"

# ---------------------------------------------------------------------
step "kill -9 during a batch of 300, in each window: all or none, the database consistent"
K=$WORK/kill
run_ok ca init --dir "$K" --new-key ec:p256 --token "$TOK" --label kill --subject "/CN=Killed CA"
BATCH=""
i=0
while [ $i -lt 300 ]; do
	BATCH="$BATCH $SW/c$((i % 4)).csr"
	i=$((i + 1))
done
# batch CRASH: ca sign of the 300 CSRs, killed by SIGKILL where the test-only
# hook P11CA_TEST_CRASH says (tools/common/testhook.h; "" none), on a copy of
# the token (a kill during SoftHSM2's login could spoil its files); its exit
# status in $rc
batch() {
	rm -rf "$WORK/kill-out"
	mkdir "$WORK/kill-out"
	_conf=$(token_copy kill)
	rc=0
	# shellcheck disable=SC2086 # $BATCH is a list of paths without spaces
	SOFTHSM2_CONF=$_conf P11CA_TEST_CRASH=$1 "$P11CA" ca sign --module "$MODULE" \
		--pin-file "$PIN_FILE" --dir "$K" --again --threads 2 --out-dir "$WORK/kill-out" $BATCH \
		> /dev/null 2> "$WORK/kill.err" || rc=$?
}
batch ""
[ $rc -eq 0 ] || fail "a batch of 300 failed: $(cat "$WORK/kill.err")"
[ "$(db_count "$K")" -eq 300 ] || fail "a batch of 300 did not record 300 rows"
[ "$(ls "$WORK/kill-out" | wc -l)" -eq 300 ] || fail "a batch of 300 did not write 300 files"
# in-transaction:150: 150 rows inserted, none committed; after-commit: all
# committed, no file written yet; mid-files:151: 150 files started
for point in in-transaction:150 after-commit mid-files:151; do
	before=$(db_count "$K")
	batch "$point"
	[ $rc -eq 137 ] || fail "P11CA_TEST_CRASH=$point: exit $rc, not killed: $(cat "$WORK/kill.err")"
	after=$(db_count "$K") || fail "after kill -9 at $point the database cannot be read"
	written=$(ls "$WORK/kill-out" | grep -c '\.pem$' || true)
	others=$(ls "$WORK/kill-out" | grep -vc '\.pem$' || true)
	echo "    killed at $point: $((after - before)) rows committed, $written files, $others others"
	db_ok "$K"
	case $point in
	in-transaction:*)
		[ "$after" -eq "$before" ] || fail "killed inside the transaction: $((after - before)) rows committed"
		# nothing uncommitted on disk, not even a temporary file (a
		# certificate signed by the CA that its database does not know)
		[ "$written" -eq 0 ] && [ "$others" -eq 0 ] ||
			fail "killed before the commit: files on disk: $(ls "$WORK/kill-out" | head -3)"
		;;
	after-commit)
		[ "$after" -eq $((before + 300)) ] || fail "killed after the commit: $((after - before)) rows"
		[ "$written" -eq 0 ] && [ "$others" -eq 0 ] ||
			fail "killed before the files: $(ls "$WORK/kill-out" | head -3)"
		;;
	mid-files:*)
		[ "$after" -eq $((before + 300)) ] || fail "killed among the files: $((after - before)) rows"
		# the files there are whole certificates the database holds (a
		# temporary file may be left where the kill came mid-write)
		[ "$written" -gt 0 ] && [ "$written" -lt 300 ] ||
			fail "killed among the files, yet $written of 300 written"
		[ "$others" -le 2 ] || fail "killed among the files: $others temporary files"
		all_verify "$K/ca.pem" "$WORK/kill-out"
		sqlite3 "$K/ca.db" "select serial from certs" > "$WORK/kill-serials" ||
			fail "$K/ca.db: cannot read the serials"
		python3 -c "$PY_CERT_SERIAL"'
known = set(open(sys.argv[1]).read().split())
for path in sys.argv[2:]:
    text = open(path).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    serial = cert_serial(base64.b64decode(body))
    assert serial == os.path.basename(path)[:-len(".pem")].rsplit("-", 1)[-1], "%s holds serial %s" % (path, serial)
    assert serial in known, "%s: serial %s is not in the database" % (path, serial)
' "$WORK/kill-serials" "$WORK"/kill-out/*.pem || fail "a file written before the kill is not a recorded certificate"
		;;
	esac
	dump_rows "$K" "$WORK/rows"
	[ "$ROWS" = "$after" ] || fail "dump_rows after kill: $ROWS rows, not $after"
	all_verify "$K/ca.pem" "$WORK/rows"
	run_ok ca sign --dir "$K" --again "$SW/c0.csr"
	cp "$WORK/out" "$WORK/after-kill.pem"
	verify_ok "$K/ca.pem" "$WORK/after-kill.pem"
	[ "$(db_count "$K")" -eq $((after + 1)) ] || fail "ca sign after kill -9 did not add a row"
	db_ok "$K"
done
json_list "$K" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq "$(db_count "$K")" ] || fail "ca list after the kills"

echo "PASS: ca-concurrency"
