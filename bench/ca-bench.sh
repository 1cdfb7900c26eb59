#!/bin/sh
# ca-bench.sh - `p11ca ca` against `openssl ca` with libp11's pkcs11 engine
# (issue 4, section 9), side by side in one run, on one SoftHSM2 token, with
# the same CA key and CA certificate for both tools:
#
#  (a) BENCH_CA_BATCH (300) CSRs issued in one call:
#        p11ca ca sign --dir D --out-dir OUT csr/*.csr
#        openssl ca -batch -notext -infiles csr/*.csr   (libp11 engine)
#      for a CA key of RSA-2048 and of EC P-256 (made by `p11ca ca init
#      --new-key`, found by the engine through its label), best of
#      BENCH_CA_RUNS (3) alternating runs each, from the same empty database /
#      index.txt every run.  Both issue server-client certificates with the
#      CSR's subjectAltName; every certificate is verified.
#      Target: openssl time / p11ca time >= 2.5.
#  (b) one certificate issued with BENCH_CA_ROWS (1,000,000) certificates
#      already in the database (rows filled with the sqlite3 CLI, each with a
#      real certificate's DER) beside `openssl ca` with an index.txt of the
#      same rows (same serials and subjects).  Best of 3.  Target: >= 20.
#  (c) a CRL of BENCH_CA_ROWS revoked entries (a quarter keyCompromise):
#        p11ca ca crl --dir D --out crl.pem  vs  openssl ca -gencrl -out crl.pem
#      Both CRLs are verified against the CA certificate and must list the
#      same serials.  Best of 3 for time; peak RSS is the highest seen.
#      Targets: time ratio >= 3, peak memory ratio (openssl / p11ca) >= 3.
#
# Prints a summary table; exits 1 if a target is missed or a check fails.
# Environment: P11CA (p11ca binary), SOFTHSM_MODULE, OPENSSL_ENGINESDIR (as in
# `make bench`); BENCH_CA_ROWS (1000000), BENCH_CA_BATCH (300), BENCH_CA_RUNS
# (3), BENCH_CA_BIG_TYPE (rsa: the CA key of (b) and (c), rsa or ec),
# BENCH_CA_THREADS (unset: p11ca ca sign's default; else its --threads in (a)),
# BENCH_CA_KEEP (keep the work directory), TMPDIR (default /tmp: with a
# million rows the database is about 1 GB).
# Needs sqlite3 (the CLI) and, for memory figures, GNU time (/usr/bin/time)
# or python3.
set -eu
# openssl.cnf writers shared with the tests and the demo
. "$(dirname "$0")/../tests/openssl-cnf.sh"
rows=${BENCH_CA_ROWS:-1000000}
batch=${BENCH_CA_BATCH:-300}
runs=${BENCH_CA_RUNS:-3}
big=${BENCH_CA_BIG_TYPE:-rsa}
threads=${BENCH_CA_THREADS:+--threads $BENCH_CA_THREADS}
t_batch=2.5
t_big=20
t_crl=3
t_mem=3
top=$(cd "$(dirname "$0")/.." && pwd)
: "${P11CA:?}" "${SOFTHSM_MODULE:?need the SoftHSM2 module path}"
engine=${OPENSSL_ENGINESDIR:-}/pkcs11.so
fail() {
	echo "ca-bench: $*" >&2
	exit 1
}
now() {
	date +%s.%N
}
[ -f "$engine" ] || fail "no libp11 engine at $engine (apt-get install libengine-pkcs11-openssl)"
command -v sqlite3 > /dev/null 2>&1 || fail "sqlite3 not found (apt-get install sqlite3)"
"$P11CA" ca sign --help > /dev/null 2>&1 || fail "$P11CA has no 'ca sign' command"
case $big in rsa | ec) ;; *) fail "BENCH_CA_BIG_TYPE is rsa or ec" ;; esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-cabench.XXXXXX")
trap '[ -n "${BENCH_CA_KEEP:-}" ] || rm -rf "$dir"' EXIT
token_env=$("$top/softhsm-conf/mktoken" --dir "$dir/token" --label p11ca-cabench) || exit $?
eval "$token_env"
tok=$P11CA_TOKEN_URI
pin_file=$P11CA_PIN_FILE
unset P11CA_PIN_FILE P11CA_MODULE P11CA_PIN 2> /dev/null || true

# timed FILE CMD...: runs CMD, writes "SECONDS MAXRSS_KB CPU_SECONDS" to FILE
# (to 10 ms; the bench times wall clock with date around it); CMD's output
# goes to $dir/cmd.log.  GNU time when there, else python3.
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e %M' -o /dev/null true 2> /dev/null; then
	timed() {
		o=$1
		shift
		/usr/bin/time -f '%e %M %U %S' -o "$o" "$@" > "$dir/cmd.log" 2>&1 || return $?
		awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$o" > "$o.1" && mv "$o.1" "$o"
	}
elif command -v python3 > /dev/null 2>&1; then
	timed() {
		o=$1
		shift
		python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[2], "wb") as log:
    rc = subprocess.call(sys.argv[3:], stdout=log, stderr=subprocess.STDOUT)
t = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write("%.2f %d %.2f\n" % (t, ru.ru_maxrss, ru.ru_utime + ru.ru_stime))
sys.exit(rc)' "$o" "$dir/cmd.log" "$@"
	}
else
	fail "need GNU time (apt-get install time) or python3 for peak memory"
fi
# crlcount FILE: "ENTRIES KEYCOMPROMISE SERIALS_DIGEST" of a CRL (PEM or DER)
crlcount() {
	if command -v python3 > /dev/null 2>&1; then
		python3 -c '
import base64, hashlib, sys
d = open(sys.argv[1], "rb").read()
if d.startswith(b"-----"):
    d = base64.b64decode(b"".join(l for l in d.splitlines() if not l.startswith(b"-----")))
def tlv(o):
    t, l, o = d[o], d[o + 1], o + 2
    if l & 0x80:
        n = l & 0x7F
        l, o = int.from_bytes(d[o:o + n], "big"), o + n
    return t, o, l
_, o, _ = tlv(0)              # CertificateList
_, o, l = tlv(o)              # tbsCertList
end, seqs, n, kc, h = o + l, 0, 0, 0, hashlib.sha256()
while o < end:
    t, c, l = tlv(o)
    if t == 0x30:
        seqs += 1
        if seqs == 3:         # signature, issuer, revokedCertificates
            e, serials = c + l, []
            while c < e:
                _, ec, el = tlv(c)
                _, sc, sl = tlv(ec)
                serials.append(int.from_bytes(d[sc:sc + sl], "big"))
                if b"\x06\x03\x55\x1d\x15\x04\x03\x0a\x01\x01" in d[ec:ec + el]:
                    kc += 1
                n, c = n + 1, ec + el
            for s in sorted(serials):
                h.update(b"%x\n" % s)
    o = c + l
print(n, kc, h.hexdigest()[:16])' "$1"
	else
		openssl crl -in "$1" -noout -text | awk '/Serial Number:/ { n++ } /Key Compromise/ { k++ }
			END { print n + 0, k + 0, "-" }'
	fi
}
best() { # best OLD NEW
	echo "$2 ${1:-$2}" | awk '{ print ($1 < $2) ? $1 : $2 }'
}
ratio() {
	echo "$1 $2" | awk '{ printf "%.2f", $1 / ($2 > 0 ? $2 : 0.001) }'
}
summary=$dir/summary
missed=0
# row WHAT P11CA OPENSSL UNIT RATIO TARGET
row() {
	if awk -v r="$5" -v t="$6" 'BEGIN { exit !(r + 0 >= t + 0) }'; then ok=met; else ok=MISSED; missed=1; fi
	printf '%-44s %11s %11s %4s %8s %6s  %s\n' "$1" "$2" "$3" "$4" "$5" ">= $6" "$ok" >> "$summary"
}

echo "p11ca ca bench: $(nproc) cores, OpenSSL $(openssl version | cut -d' ' -f2)," \
	"SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2> /dev/null || echo '?')," \
	"libp11 $(dpkg-query -W -f='${Version}' libengine-pkcs11-openssl 2> /dev/null || echo '?')," \
	"SQLite $(sqlite3 --version | cut -d' ' -f1); $rows rows, $batch CSRs, best of $runs; in $dir"
# openssl ca signs on one thread; p11ca ca sign on several unless told: say so
ncpu=$(nproc)
[ "$ncpu" -le 8 ] || ncpu=8
echo "(a) p11ca ca sign: ${threads:-$ncpu threads (its default: the CPUs, at most 8)}, and a row with" \
	"--threads 1; openssl ca: 1 thread"

(
	umask 077
	openssl_cnf_engine "$engine" "$SOFTHSM_MODULE" "$pin_file" > "$dir/engine.cnf"
)

# ---- the two CAs: key on the token made by p11ca, one certificate for both ----
for k in rsa:rsa:2048 ec:ec:p256; do
	name=${k%%:*}
	"$P11CA" ca init --dir "$dir/$name.ca" --module "$SOFTHSM_MODULE" --pin-file "$pin_file" \
		--new-key "${k#*:}" --token "$tok" --label "ca-$name" \
		--subject "/O=p11ca bench/CN=p11ca bench CA $name" > "$dir/cmd.log" 2>&1 ||
		{ cat "$dir/cmd.log" >&2; fail "p11ca ca init ($name)"; }
	[ -f "$dir/$name.ca/ca.pem" ] || fail "p11ca ca init wrote no $dir/$name.ca/ca.pem"
	# openssl ca's configuration: what p11ca's server-client profile issues
	mkdir -p "$dir/$name.ossl"
	cat > "$dir/$name.ossl.cnf" << EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $dir/$name.ossl
database = \$dir/index.txt
serial = \$dir/serial
rand_serial = yes
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir/new
certificate = $dir/$name.ca/ca.pem
default_md = sha256
default_days = 365
default_crl_days = 7
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = copy
x509_extensions = leaf_ext
crl_extensions = crl_ext
[policy_any]
commonName = supplied
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[crl_ext]
authorityKeyIdentifier = keyid
EOF
done
# ossl_ca NAME ARGS...: openssl ca through the engine with CA NAME's key
ossl_ca() {
	n=$1
	shift
	OPENSSL_CONF=$dir/engine.cnf openssl ca -batch -notext -config "$dir/$n.ossl.cnf" -engine pkcs11 \
		-keyform engine -keyfile "$tok;object=ca-$n;type=private" -cert "$dir/$n.ca/ca.pem" "$@"
}
# ossl_reset NAME [INDEX]: openssl's CA directory with an empty (or INDEX's)
# index.txt (new_certs_dir is kept: see run_batch)
ossl_reset() {
	mkdir -p "$dir/$1.ossl/new"
	if [ -n "${2:-}" ]; then cp "$2" "$dir/$1.ossl/index.txt"; else : > "$dir/$1.ossl/index.txt"; fi
	echo "unique_subject = no" > "$dir/$1.ossl/index.txt.attr"
	echo 1000 > "$dir/$1.ossl/serial"
	echo 01 > "$dir/$1.ossl/crlnumber"
}
# verify_all CAFILE FILE...: prints how many verify
verify_all() {
	cafile=$1
	shift
	OPENSSL_CONF=/dev/null openssl verify -x509_strict -purpose sslserver -CAfile "$cafile" "$@" 2> /dev/null |
		grep -c ': OK$' || true
}
# extlist CERT: the certificate's extensions in name order, with criticality
# and the values that depend neither on the key nor on which CSR it was
extlist() {
	OPENSSL_CONF=/dev/null openssl x509 -in "$1" -noout -text |
		sed -n '/X509v3 extensions:/,/Signature Algorithm:/p' | sed '1d; $d' |
		awk '/^            [^ ]/ { if (e != "") print e; e = $0; next } { e = e " " $0 } END { print e }' |
		sed 's/  */ /g; s/^ //; s/keyid:[0-9A-F:]*//; s/: [0-9A-F:]*$/:/; s/host[0-9]*\./hostN./g; s/192\.0\.2\.[0-9]*/192.0.2.N/g' |
		sort | tr '\n' ';'
}

# ---- CSRs: software P-256 keys, one DNS SAN each plus one shared ----
mkdir -p "$dir/csr"
start=$(now)
i=1
while [ "$i" -le "$batch" ]; do
	OPENSSL_CONF=/dev/null openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=host$i.example.com" \
		-addext "subjectAltName=DNS:host$i.example.com,DNS:www.example.com,IP:192.0.2.$((i % 250 + 1))" \
		-out "$dir/csr/$(printf %05d "$i").csr" 2> /dev/null || fail "CSR $i"
	i=$((i + 1))
done
echo "$batch CSRs with software P-256 keys made in $(echo "$(now) $start" | awk '{ printf "%.1f", $1 - $2 }') s"
first_csr=$dir/csr/00001.csr

# ---- (a) one call issuing $batch certificates ----
# run_batch p11ca|p11ca1|openssl NAME RUN: prints the seconds it took and
# the CPU seconds (p11ca1: p11ca ca sign --threads 1).  Each run
# has directories of its own (p11ca: a copy of the new CA directory; both:
# the output directory), removed after all runs: ext4 is slow to create
# files right after as many were deleted, which is not what is measured.
run_batch() {
	out=$dir/out.$2.$1.$3
	mkdir -p "$out"
	if [ "$1" != openssl ]; then
		cp -a "$dir/$2.ca" "$out.ca"
	else
		ossl_reset "$2"
	fi
	sync
	rc=0
	t0=$(now)
	if [ "$1" = p11ca ]; then
		# shellcheck disable=SC2086 # $threads: nothing, or --threads N
		timed "$dir/tm" "$P11CA" ca sign --dir "$out.ca" --module "$SOFTHSM_MODULE" \
			--pin-file "$pin_file" $threads --out-dir "$out" "$dir"/csr/*.csr || rc=$?
	elif [ "$1" = p11ca1 ]; then
		timed "$dir/tm" "$P11CA" ca sign --dir "$out.ca" --module "$SOFTHSM_MODULE" \
			--pin-file "$pin_file" --threads 1 --out-dir "$out" "$dir"/csr/*.csr || rc=$?
	else
		# each certificate once, in -outdir, as p11ca writes it: -out (all of
		# them again, in one file) goes nowhere
		timed "$dir/tm" env OPENSSL_CONF="$dir/engine.cnf" openssl ca -batch -notext \
			-config "$dir/$2.ossl.cnf" -engine pkcs11 -keyform engine \
			-keyfile "$tok;object=ca-$2;type=private" -cert "$dir/$2.ca/ca.pem" \
			-outdir "$out" -out /dev/null -infiles "$dir"/csr/*.csr || rc=$?
	fi
	t1=$(now)
	if [ "$rc" != 0 ]; then
		tail -5 "$dir/cmd.log" >&2
		fail "$1 ($2 CA) failed to issue $batch certificates"
	fi
	if [ "$1" != openssl ]; then
		n=$(sqlite3 "$out.ca/ca.db" "SELECT count(*) FROM certs WHERE status = 'V'")
		[ "$n" = "$batch" ] || fail "p11ca's database holds $n certificates, not $batch"
	else
		n=$(grep -c '^V' "$dir/$2.ossl/index.txt" || true)
		[ "$n" = "$batch" ] || fail "openssl's index.txt holds $n certificates, not $batch"
	fi
	set -- "$1" "$2" "$out"/*.pem
	[ $# = $((batch + 2)) ] || fail "$1 ($2 CA) wrote $(($# - 2)) of $batch certificates"
	who=$1
	ca=$2
	shift 2
	ok=$(verify_all "$dir/$ca.ca/ca.pem" "$@")
	[ "$ok" = "$batch" ] || fail "only $ok of $batch certificates issued by $who ($ca CA) verify"
	cp "$1" "$dir/$who.$ca.sample.pem"
	echo "$t1 $t0 $(cut -d' ' -f3 "$dir/tm")" | awk '{ printf "%.3f %s", $1 - $2, $3 }'
}
for name in rsa ec; do
	bp=""
	bo=""
	b1=""
	cp=""
	co=""
	c1=""
	r=1
	while [ $r -le "$runs" ]; do
		if [ $((r % 2)) = 1 ]; then order="p11ca p11ca1 openssl"; else order="openssl p11ca1 p11ca"; fi
		for m in $order; do
			tc=$(run_batch "$m" "$name" "$r")
			t=${tc% *}
			echo "(a) $name CA, run $r: $m issued $batch in $t s (CPU ${tc#* } s)"
			if [ "$m" = p11ca ]; then
				bp=$(best "$bp" "$t")
				cp=$(best "$cp" "${tc#* }")
			elif [ "$m" = p11ca1 ]; then
				b1=$(best "$b1" "$t")
				c1=$(best "$c1" "${tc#* }")
			else
				bo=$(best "$bo" "$t")
				co=$(best "$co" "${tc#* }")
			fi
		done
		r=$((r + 1))
	done
	ep=$(extlist "$dir/p11ca.$name.sample.pem")
	eo=$(extlist "$dir/openssl.$name.sample.pem")
	if [ "$ep" != "$eo" ]; then
		echo "(a) warning: the certificates differ in their extensions:" >&2
		echo "    p11ca:   $ep" >&2
		echo "    openssl: $eo" >&2
		different=1
	fi
	row "(a) issue $batch, $name CA: seconds${threads:+ ($threads)}" "$bp" "$bo" s "$(ratio "$bo" "$bp")" $t_batch
	printf '%-44s %11s %11s %4s\n' "    certificates per second" \
		"$(echo "$batch $bp" | awk '{ printf "%.0f", $1 / $2 }')" \
		"$(echo "$batch $bo" | awk '{ printf "%.0f", $1 / $2 }')" "/s" >> "$summary"
	printf '%-44s %11s %11s %4s\n' "    CPU seconds (user + sys, least)" "$cp" "$co" s >> "$summary"
	printf '%-44s %11s %11s %4s\n' "    CPU per certificate" \
		"$(echo "$cp $batch" | awk '{ printf "%.2f", $1 * 1000 / $2 }')" \
		"$(echo "$co $batch" | awk '{ printf "%.2f", $1 * 1000 / $2 }')" ms >> "$summary"
	# openssl ca is one thread: the same work from p11ca on one thread
	printf '%-44s %11s %11s %4s %8s\n' "    p11ca --threads 1: seconds" "$b1" "$bo" s \
		"$(ratio "$bo" "$b1")" >> "$summary"
	printf '%-44s %11s %11s %4s\n' "    p11ca --threads 1: CPU per certificate" \
		"$(echo "$c1 $batch" | awk '{ printf "%.2f", $1 * 1000 / $2 }')" \
		"$(echo "$co $batch" | awk '{ printf "%.2f", $1 * 1000 / $2 }')" ms >> "$summary"
done
echo "(a) extensions of a p11ca certificate: $(extlist "$dir/p11ca.$big.sample.pem")"

# ---- (b) one certificate with $rows already issued ----
# the database: $rows rows in one transaction with the sqlite3 CLI, serials
# drawn as p11ca draws them (16 random bytes, top bits 01), each row with the
# DER of a real certificate p11ca issued (a sample from (a)) and one DNS SAN
# (schema version 2: a row of cert_sans, its type apart from its value); the
# rows are marked profile 'server' (the bench itself issues server-client).
# The serials are drawn into a temporary table first and both tables filled
# from it in serial order, so that each B-tree grows at its end (the drawn
# serials, about 50 MB for a million, stay in memory).
rm -rf "$dir"/out.*
db=$dir/$big.ca/ca.db
openssl x509 -in "$dir/p11ca.$big.sample.pem" -outform DER -out "$dir/sample.der"
t_now=$(date +%s)
start=$(now)
v=$(sqlite3 "$db" 'PRAGMA user_version')
[ "$v" = 2 ] || fail "$db: schema version $v; the bench fills version 2"
sqlite3 -batch "$db" > /dev/null << EOF || fail "filling the database"
PRAGMA synchronous = OFF;
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE sample AS SELECT readfile('$dir/sample.der') AS der;
CREATE TEMP TABLE fill(serial TEXT PRIMARY KEY, i INTEGER NOT NULL) WITHOUT ROWID;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO temp.fill (serial, i)
SELECT printf('%02X', 64 + abs(random()) % 64) || upper(hex(randomblob(15))), i FROM n;
BEGIN;
INSERT INTO certs (serial, subject, not_before, not_after, status, revoked_at, reason,
                   invalidity, profile, issued_at, der)
SELECT serial, '/CN=host' || i || '.example.com',
       $t_now - 86400 * 30 - i % 86400, $t_now + 86400 * 335 - i % 86400, 'V',
       NULL, NULL, NULL, 'server', $t_now - 86400 * 30 - i % 86400, sample.der
FROM temp.fill, sample ORDER BY serial;
INSERT INTO cert_sans (serial, pos, type, value)
SELECT serial, 0, 'DNS', 'host' || i || '.example.com' FROM temp.fill ORDER BY serial;
COMMIT;
DROP TABLE temp.fill;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
n=$(sqlite3 "$db" "SELECT count(*), sum(length(der)) FROM certs WHERE profile = 'server'")
echo "(b) database filled in $(echo "$(now) $start" | awk '{ printf "%.1f", $1 - $2 }') s:" \
	"${n%%|*} rows, ${n#*|} bytes of DER, ca.db $(du -m "$db" | cut -f1) MB"
[ "${n%%|*}" = "$rows" ] || fail "the database holds ${n%%|*} rows, not $rows"
# index_txt FILE: openssl's index.txt of the same rows
index_txt() {
	sqlite3 -batch -noheader -separator '|' "$db" "SELECT status,
		substr(strftime('%Y%m%d%H%M%S', not_after, 'unixepoch'), 3) || 'Z',
		CASE WHEN revoked_at IS NULL THEN '' ELSE
		substr(strftime('%Y%m%d%H%M%S', revoked_at, 'unixepoch'), 3) || 'Z' ||
		CASE reason WHEN 1 THEN ',keyCompromise' ELSE '' END END, serial, subject
		FROM certs WHERE profile = 'server'" |
		awk -F'|' -v OFS='\t' '{ print $1, $2, $3, $4, "unknown", $5 }' > "$1"
	n=$(wc -l < "$1")
	[ "$n" = "$rows" ] || fail "$1 has $n lines, not $rows"
}
start=$(now)
index_txt "$dir/index.valid"
echo "(b) index.txt of $rows V lines made in $(echo "$(now) $start" | awk '{ printf "%.1f", $1 - $2 }') s" \
	"($(du -m "$dir/index.valid" | cut -f1) MB)"
bp=""
bo=""
r=1
while [ $r -le "$runs" ]; do
	if [ $((r % 2)) = 1 ]; then order="p11ca openssl"; else order="openssl p11ca"; fi
	for m in $order; do
		rm -f "$dir/one.pem"
		rc=0
		if [ "$m" = p11ca ]; then
			sync
			t0=$(now)
			"$P11CA" ca sign --dir "$dir/$big.ca" --module "$SOFTHSM_MODULE" --pin-file "$pin_file" \
				--again --out "$dir/one.pem" "$first_csr" > "$dir/cmd.log" 2>&1 || rc=$?
			t1=$(now)
		else
			ossl_reset "$big" "$dir/index.valid"
			sync
			t0=$(now)
			ossl_ca "$big" -out "$dir/one.pem" -in "$first_csr" > "$dir/cmd.log" 2>&1 || rc=$?
			t1=$(now)
		fi
		[ "$rc" = 0 ] || { tail -5 "$dir/cmd.log" >&2; fail "(b) $m failed"; }
		[ "$(verify_all "$dir/$big.ca/ca.pem" "$dir/one.pem")" = 1 ] || fail "(b) $m: the certificate does not verify"
		t=$(echo "$t1 $t0" | awk '{ printf "%.3f", $1 - $2 }')
		echo "(b) run $r: $m issued 1 with $rows issued before in $t s"
		if [ "$m" = p11ca ]; then bp=$(best "$bp" "$t"); else bo=$(best "$bo" "$t"); fi
	done
	r=$((r + 1))
done
n=$(($(wc -l < "$dir/$big.ossl/index.txt") - rows))
[ "$n" = 1 ] || fail "(b) openssl's index.txt grew by $n lines"
n=$(sqlite3 "$db" "SELECT count(*) FROM certs WHERE profile <> 'server'")
[ "$n" = "$runs" ] || fail "(b) p11ca's database has $n new rows after $runs issuances"
row "(b) issue 1 after $rows, $big CA: seconds" "$bp" "$bo" s "$(ratio "$bo" "$bp")" $t_big

# ---- (c) a CRL of $rows revoked certificates ----
sqlite3 -batch "$db" > /dev/null << EOF || fail "revoking in the database"
PRAGMA synchronous = OFF;
UPDATE certs SET status = 'R', revoked_at = $t_now - 86400 - abs(random()) % 86400 * 20,
	reason = CASE WHEN abs(random()) % 4 = 0 THEN 1 ELSE 0 END
	WHERE profile = 'server';
PRAGMA wal_checkpoint(TRUNCATE);
EOF
n=$(sqlite3 "$db" "SELECT count(*), sum(reason = 1) FROM certs WHERE status = 'R'")
n_kc=${n#*|}
[ "${n%%|*}" = "$rows" ] || fail "(c) the database has ${n%%|*} revoked rows, not $rows"
index_txt "$dir/index.revoked"
[ "$(grep -c '^R' "$dir/index.revoked")" = "$rows" ] || fail "(c) index.txt has not $rows R lines"
bp=""
bo=""
mp=0
mo=0
serials_p11ca=""
serials_openssl=""
r=1
while [ $r -le "$runs" ]; do
	if [ $((r % 2)) = 1 ]; then order="p11ca openssl"; else order="openssl p11ca"; fi
	for m in $order; do
		rm -f "$dir/crl.pem"
		rc=0
		if [ "$m" != p11ca ]; then
			ossl_reset "$big" "$dir/index.revoked"
		fi
		sync
		t0=$(now)
		if [ "$m" = p11ca ]; then
			timed "$dir/tm" "$P11CA" ca crl --dir "$dir/$big.ca" --module "$SOFTHSM_MODULE" \
				--pin-file "$pin_file" --pem --out "$dir/crl.pem" || rc=$?
		else
			timed "$dir/tm" env OPENSSL_CONF="$dir/engine.cnf" openssl ca -batch -config "$dir/$big.ossl.cnf" \
				-engine pkcs11 -keyform engine -keyfile "$tok;object=ca-$big;type=private" \
				-cert "$dir/$big.ca/ca.pem" -gencrl -out "$dir/crl.pem" || rc=$?
		fi
		t1=$(now)
		[ "$rc" = 0 ] || { tail -5 "$dir/cmd.log" >&2; fail "(c) $m failed"; }
		read -r t kb cpu < "$dir/tm"
		t=$(echo "$t1 $t0" | awk '{ printf "%.3f", $1 - $2 }')
		echo "(c) run $r: $m made a CRL of $rows in $t s (CPU $cpu s), peak RSS $((kb / 1024)) MB"
		if [ "$m" = p11ca ]; then
			bp=$(best "$bp" "$t")
			if [ "$kb" -gt "$mp" ]; then mp=$kb; fi
		else
			bo=$(best "$bo" "$t")
			if [ "$kb" -gt "$mo" ]; then mo=$kb; fi
		fi
		if [ $r = 1 ]; then
			# check each CRL once: signature, entry count, same serials
			OPENSSL_CONF=/dev/null openssl crl -in "$dir/crl.pem" -noout -verify \
				-CAfile "$dir/$big.ca/ca.pem" > "$dir/cmd.log" 2>&1 ||
				{ cat "$dir/cmd.log" >&2; fail "(c) $m's CRL does not verify"; }
			grep -q 'verify OK' "$dir/cmd.log" || fail "(c) $m's CRL does not verify"
			crlcount "$dir/crl.pem" > "$dir/count"
			read -r entries kc digest < "$dir/count"
			echo "    $m's CRL verifies: $entries entries, $kc keyCompromise, serials $digest," \
				"$(($(wc -c < "$dir/crl.pem") / 1024)) KB PEM"
			[ "$entries" = "$rows" ] || fail "(c) $m's CRL has $entries entries, not $rows"
			[ "$kc" = "$n_kc" ] || fail "(c) $m's CRL has $kc keyCompromise entries, not $n_kc"
			if [ "$m" = p11ca ]; then serials_p11ca=$digest; else serials_openssl=$digest; fi
		fi
	done
	r=$((r + 1))
done
[ "$serials_p11ca" = "$serials_openssl" ] || fail "(c) the two CRLs do not list the same serials"
row "(c) CRL of $rows, $big CA: seconds" "$bp" "$bo" s "$(ratio "$bo" "$bp")" $t_crl
row "(c) CRL of $rows, $big CA: peak RSS" "$((mp / 1024))" "$((mo / 1024))" MB "$(ratio "$mo" "$mp")" $t_mem

echo
printf '%-44s %11s %11s %4s %8s %6s\n' "p11ca ca vs openssl ca + libp11 engine" p11ca openssl "" ratio target
cat "$summary"
echo "(ratio: openssl / p11ca; best of $runs, alternating; same token, CA key and certificate)"
[ -z "${different:-}" ] || echo "warning: the two tools' certificates differ in their extensions (above)"
[ $missed = 0 ] || fail "a target was missed"
echo "all targets met"
