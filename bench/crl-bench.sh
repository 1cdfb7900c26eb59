#!/bin/sh
# crl-bench.sh - the CRL store against OpenSSL (issue 10, section 6), side
# by side in one run, with one CRL of BENCH_CRL_N (1,000,000) entries
# (about 30 MB of DER, made by bench/crl-gen with a software EC P-256 CA):
#
#  (a) load: `p11ca crl add CRL.der --trust ca.pem` (parse + verify + index
#      + store) beside `openssl crl -noout` (load) and `openssl crl -CAfile
#      ca.pem -noout` (load + verify): wall time and peak RSS.
#      Target: p11ca's peak memory <= 1/3 of `openssl crl -noout`'s.
#  (b) one revocation check of a leaf: `p11ca verify LEAF --trust ca.pem
#      --crl-store DIR --revocation crl` beside `openssl verify -crl_check
#      -CAfile ca.pem -CRLfile crl.pem LEAF`; and bench/crl-lookup, 1,000
#      rev_store_lookup() calls in one process, as the limit.
#      Target: openssl time / p11ca time >= 20.
#
# Prints a table; exits 1 when a target is missed or a check fails.
# Environment: P11CA, CRL_GEN, CRL_LOOKUP (as `make bench-crl` sets them);
# BENCH_CRL_N (1000000) for a smaller CRL; BENCH_CRL_RUNS (3: best of, for
# times); BENCH_CRL_KEEP (keep the work directory); TMPDIR.
# Needs GNU time (/usr/bin/time, Debian package "time").
set -eu
n=${BENCH_CRL_N:-1000000}
runs=${BENCH_CRL_RUNS:-3}
t_mem=3
t_check=20
: "${P11CA:?}" "${CRL_GEN:?}" "${CRL_LOOKUP:?}"
fail() {
	echo "crl-bench: $*" >&2
	exit 1
}
[ -x /usr/bin/time ] || fail "GNU time not found (apt-get install time)"
W=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-crl-bench.XXXXXX")
[ -n "${BENCH_CRL_KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
trap 'exit 1' HUP INT TERM
cd "$W"

# measure NAME CMD...: best wall time of $runs runs into NAME.t, highest peak
# RSS (KiB) into NAME.m; the command's exit status must be 0 unless
# $allow_fail is set.
measure() {
	_name=$1
	shift
	_best="" _mem=0
	_i=0
	while [ $_i -lt "$runs" ]; do
		_i=$((_i + 1))
		[ -n "${before:-}" ] && eval "$before"
		/usr/bin/time -f '%e %M' -o time.out "$@" > "$_name.out" 2> "$_name.err" ||
			fail "$_name failed: $(cat "$_name.err")"
		read -r _t _m < time.out
		_best=$(awk -v b="$_best" -v t="$_t" 'BEGIN { print (b == "" || t + 0 < b + 0) ? t : b }')
		[ "$_m" -gt "$_mem" ] && _mem=$_m
	done
	echo "$_best" > "$_name.t"
	echo "$_mem" > "$_name.m"
}

echo "crl-bench: a CRL of $n entries, best of $runs runs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.pem -days 3650 -subj "/O=Bench/CN=Bench CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	2> /dev/null || fail "openssl req (CA)"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
	-subj "/CN=leaf.bench.example" 2> /dev/null || fail "openssl req (leaf)"
printf 'subjectAltName=DNS:leaf.bench.example\nbasicConstraints=critical,CA:FALSE\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x0123456789abcdef \
	-days 30 -extfile leaf.ext -out leaf.pem 2> /dev/null || fail "openssl x509 (leaf)"
"$CRL_GEN" "$n" ca.pem ca.key crl.der 2> gen.err || fail "crl-gen: $(cat gen.err)"
openssl crl -inform DER -in crl.der -out crl.pem || fail "openssl crl (PEM)"
size=$(stat -c %s crl.der)

# (a) load
before='rm -rf store'
measure add "$P11CA" crl add crl.der --trust ca.pem --crl-store store
before=''
grep -q "stored .*$n entries" add.out || fail "p11ca crl add said: $(cat add.out)"
# the same over HTTP: a distribution point on 127.0.0.1 (python3 http.server)
mkdir www && cp crl.der www/
port=$((20000 + $$ % 20000))
(cd www && exec python3 -m http.server --bind 127.0.0.1 "$port") > http.log 2>&1 &
http_pid=$!
trap 'kill $http_pid 2> /dev/null; [ -n "${BENCH_CRL_KEEP:-}" ] || rm -rf "$W"' EXIT
_i=0
until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
	"$port" 2> /dev/null; do
	_i=$((_i + 1))
	[ $_i -le 100 ] || fail "http.server did not start: $(cat http.log)"
	sleep 0.1
done
before='rm -rf store2'
measure fetch "$P11CA" crl fetch "http://127.0.0.1:$port/crl.der" --trust ca.pem --crl-store store2
before=''
grep -q "stored" fetch.out || fail "p11ca crl fetch said: $(cat fetch.out)"
measure ossl_load openssl crl -inform DER -in crl.der -noout
measure ossl_verify openssl crl -inform DER -in crl.der -CAfile ca.pem -noout
grep -q "verify OK" ossl_verify.err || fail "openssl crl does not verify the CRL"

# (b) one check
"$CRL_LOOKUP" store leaf.pem ca.pem 1000 > lookup.out || fail "crl-lookup failed"
read -r lookup_state lookup_us < lookup.out
[ "$lookup_state" = good ] || fail "crl-lookup says $lookup_state, want good"
measure one_lookup "$CRL_LOOKUP" store leaf.pem ca.pem 1
measure ossl_check openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem leaf.pem
measure p11_check "$P11CA" verify leaf.pem --trust ca.pem --crl-store store --revocation crl

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'
}
ok=1
t_add=$(cat add.t) m_add=$(cat add.m)
t_fetch=$(cat fetch.t) m_fetch=$(cat fetch.m)
t_load=$(cat ossl_load.t) m_load=$(cat ossl_load.m)
t_ver=$(cat ossl_verify.t) m_ver=$(cat ossl_verify.m)
t_oc=$(cat ossl_check.t) m_oc=$(cat ossl_check.m)
mem_ratio=$(ratio "$m_load" "$(awk -v a="$m_add" -v b="$m_fetch" 'BEGIN { print (a > b) ? a : b }')")
echo
printf '%-58s %9s %11s\n' "CRL of $n entries ($((size / 1048576)) MiB DER)" "time s" "peak MiB"
printf '%-58s %9s %11s\n' "p11ca crl add (verify + index + store)" "$t_add" "$((m_add / 1024))"
printf '%-58s %9s %11s\n' "p11ca crl fetch (HTTP 127.0.0.1 + verify + index + store)" "$t_fetch" \
	"$((m_fetch / 1024))"
printf '%-58s %9s %11s\n' "openssl crl -noout (load)" "$t_load" "$((m_load / 1024))"
printf '%-58s %9s %11s\n' "openssl crl -CAfile -noout (load + verify)" "$t_ver" "$((m_ver / 1024))"
printf '%-58s %9s %11s\n' "openssl verify -crl_check (one leaf)" "$t_oc" "$((m_oc / 1024))"
t_pc=$(cat p11_check.t) m_pc=$(cat p11_check.m)
printf '%-58s %9s %11s\n' "p11ca verify --revocation crl (one leaf, from the store)" \
	"$t_pc" "$((m_pc / 1024))"
printf '%-58s %9s %11s\n' "crl-lookup: a process opening the store, one lookup" \
	"$(cat one_lookup.t)" "$(($(cat one_lookup.m) / 1024))"
printf '%-58s %9s %11s\n' "rev_store_lookup, the limit (per lookup)" "${lookup_us}us" "-"
echo
mem_ok=$(awk -v r="$mem_ratio" -v t=$t_mem 'BEGIN { print (r >= t) ? "met" : "MISSED" }')
echo "store peak memory: openssl crl -noout / p11ca (the higher of crl add and crl fetch) = ${mem_ratio}x (target >= ${t_mem}x): $mem_ok"
[ "$mem_ok" = met ] || ok=0
lim_ratio=$(awk -v a="$t_oc" -v us="$lookup_us" 'BEGIN { printf "%.0f", a * 1e6 / (us > 0 ? us : 0.1) }')
chk_ratio=$(ratio "$t_oc" "$t_pc")
chk_ok=$(awk -v r="$chk_ratio" -v t=$t_check 'BEGIN { print (r >= t) ? "met" : "MISSED" }')
echo "one check: openssl verify -crl_check / p11ca verify = ${chk_ratio}x (target >= ${t_check}x): $chk_ok"
echo "(the store lookup itself: ${lim_ratio}x faster than openssl verify -crl_check)"
[ "$chk_ok" = met ] || ok=0
[ $ok = 1 ] || exit 1
