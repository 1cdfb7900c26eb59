#!/bin/sh
# ca-concurrency.sh - p11ca ca under load, on a throwaway SoftHSM2 token:
# 4 processes x 50 issuances, and 4 x 5 revocations + CRLs, on one
# database; kill -9 during a batch of 300 leaves all or none of it (and no
# certificate on disk that the database does not know), the database
# consistent and the CA usable.  The slowest of the ca tests (about 40 s
# on 2 busy cores).
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
		--dir "$K" --again --threads 2 --out-dir "$WORK/kill-out" $BATCH > /dev/null 2> "$WORK/kill.err" &
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
	run_ok ca sign --dir "$K" --again "$SW/c0.csr"
	cp "$WORK/out" "$WORK/after-kill.pem"
	verify_ok "$K/ca.pem" "$WORK/after-kill.pem"
	[ "$(db_count "$K")" -eq $((after + 1)) ] || fail "ca sign after kill -9 did not add a row"
	db_ok "$K"
done
[ $killed -gt 0 ] || fail "every batch had finished before kill -9: nothing tested"
json_list "$K" > /dev/null
[ "$(wc -l < "$WORK/list.txt")" -eq "$(db_count "$K")" ] || fail "ca list after the kills"

echo "PASS: ca-concurrency"
