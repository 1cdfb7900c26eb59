#!/bin/sh
# provider-bench.sh [SECONDS] - the p11ca provider against its targets
# (issue 3, section 7), in one run on one SoftHSM2 token:
#
#  (a) `openssl ca -batch -infiles` issuing 300 certificates (CSRs made
#      beforehand with software keys) with the CA key on the token, through
#      the p11ca provider and through libp11's pkcs11 engine
#      (-engine pkcs11 -keyform engine), in alternating runs, best of 3 each.
#      Every issued certificate is verified.  Target: p11ca at least as fast
#      (engine time / p11ca time >= 1).
#  (b) EVP_DigestSign through the provider (key loaded by OSSL_STORE from its
#      pkcs11: URI) beside a bare C_Sign loop on the same key (bench-evp),
#      RSA-2048 and P-256, 1 and 2 threads, SECONDS (default 8) each.
#      Target: provider >= 0.95 of raw per signature.
#
# Exits 1 if a target is missed or a certificate or signature does not verify.
# Environment: P11CA, P11CA_PROVIDER, BENCH_EVP, SOFTHSM_MODULE,
# OPENSSL_ENGINESDIR (set by `make bench`); P11CA_BENCH_CERTS (300),
# P11CA_BENCH_RUNS (3), P11CA_BENCH_TARGET (0.95), P11CA_BENCH_CA_TYPE (rsa:2048),
# P11CA_BENCH_KEEP (keep the work directory), TMPDIR (default /dev/shm).
set -eu
# openssl.cnf writers shared with the tests and the demo
. "$(dirname "$0")/../tests/openssl-cnf.sh"
seconds=${1:-8}
ncerts=${P11CA_BENCH_CERTS:-300}
runs=${P11CA_BENCH_RUNS:-3}
target=${P11CA_BENCH_TARGET:-0.95}
ca_type=${P11CA_BENCH_CA_TYPE:-rsa:2048}
top=$(cd "$(dirname "$0")/.." && pwd)
: "${P11CA:?}" "${P11CA_PROVIDER:?}" "${BENCH_EVP:?}" "${SOFTHSM_MODULE:?need the SoftHSM2 module path}"
engine=${OPENSSL_ENGINESDIR:-}/pkcs11.so

# on tmpfs when possible: openssl ca writes 300 files per run, disk noise is not
# what is measured
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	base=/dev/shm
else
	base=${TMPDIR:-/tmp}
fi
dir=$(mktemp -d "$base/p11ca-pbench.XXXXXX")
trap '[ -n "${P11CA_BENCH_KEEP:-}" ] || rm -rf "$dir"' EXIT
token_env=$("$top/softhsm-conf/mktoken" --dir "$dir/token" --label p11ca-pbench) || exit $?
eval "$token_env"
tok=$P11CA_TOKEN_URI
pin_file=$P11CA_PIN_FILE
unset P11CA_PIN_FILE P11CA_MODULE P11CA_PIN 2> /dev/null || true
fail() {
	echo "provider-bench: $*" >&2
	exit 1
}
now() {
	date +%s.%N
}

echo "p11ca provider bench: $(nproc) cores, OpenSSL $(openssl version | cut -d' ' -f2)," \
	"SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2> /dev/null || echo '?')," \
	"libp11 $(dpkg-query -W -f='${Version}' libengine-pkcs11-openssl 2> /dev/null || echo '?')"

# ---- keys and configurations ----
for k in ca:$ca_type rsa:rsa:2048 ec:ec:p256; do
	"$P11CA" key gen --module "$SOFTHSM_MODULE" --token "$tok" --pin-file "$pin_file" \
		--label "${k%%:*}" --type "${k#*:}" > /dev/null || fail "key gen ${k%%:*}"
done
openssl_cnf_provider "$P11CA_PROVIDER" "$SOFTHSM_MODULE" "$pin_file" > "$dir/p11ca.cnf"
have_engine=0
if [ -f "$engine" ]; then
	have_engine=1
	(
		umask 077
		openssl_cnf_engine "$engine" "$SOFTHSM_MODULE" "$pin_file" > "$dir/engine.cnf"
	)
fi

# ---- (a) openssl ca -infiles ----
OPENSSL_CONF=$dir/p11ca.cnf openssl req -new -x509 -days 30 -key "$tok;object=ca" -subj "/CN=p11ca bench CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-out "$dir/ca.pem" 2> "$dir/err" || { cat "$dir/err" >&2; fail "CA certificate"; }
mkdir -p "$dir/csr"
start=$(now)
i=1
while [ $i -le "$ncerts" ]; do
	OPENSSL_CONF=/dev/null openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=host$i.example" -out "$dir/csr/$(printf %04d $i).csr" 2> /dev/null ||
		fail "CSR $i"
	i=$((i + 1))
done
echo "(a) $ncerts CSRs with software P-256 keys made in $(echo "$(now) $start" | awk '{ printf "%.1f", $1 - $2 }') s"
cat > "$dir/ca.cnf" << EOF
[ca]
default_ca = ca_default
[ca_default]
dir = $dir/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
default_md = sha256
default_days = 30
policy = policy_any
unique_subject = no
x509_extensions = leaf_ext
[policy_any]
commonName = supplied
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# run_ca p11ca|engine: one `openssl ca` issuing all; prints the seconds it took
run_ca() {
	rm -rf "$dir/ca"
	mkdir -p "$dir/ca/new"
	: > "$dir/ca/index.txt"
	echo 1000 > "$dir/ca/serial"
	t0=$(now)
	if [ "$1" = p11ca ]; then
		OPENSSL_CONF=$dir/p11ca.cnf openssl ca -batch -notext -config "$dir/ca.cnf" \
			-keyfile "$tok;object=ca" -cert "$dir/ca.pem" -out "$dir/issued.pem" \
			-infiles "$dir"/csr/*.csr > "$dir/ca.log" 2>&1 || rc=$?
	else
		OPENSSL_CONF=$dir/engine.cnf openssl ca -batch -notext -config "$dir/ca.cnf" -engine pkcs11 \
			-keyform engine -keyfile "$tok;object=ca;type=private" -cert "$dir/ca.pem" \
			-out "$dir/issued.pem" -infiles "$dir"/csr/*.csr > "$dir/ca.log" 2>&1 || rc=$?
	fi
	t1=$(now)
	if [ "${rc:-0}" != 0 ]; then
		tail -5 "$dir/ca.log" >&2
		fail "openssl ca through $1 failed"
	fi
	# all issued, and every one verifies (default provider only)
	n=$(grep -c '^V' "$dir/ca/index.txt" || true)
	[ "$n" = "$ncerts" ] || fail "openssl ca through $1 issued $n of $ncerts certificates"
	ok=$(OPENSSL_CONF=/dev/null openssl verify -CAfile "$dir/ca.pem" "$dir"/ca/new/*.pem 2> /dev/null |
		grep -c ': OK$' || true)
	[ "$ok" = "$ncerts" ] || fail "only $ok of $ncerts certificates issued through $1 verify"
	echo "$t1 $t0" | awk '{ printf "%.3f", $1 - $2 }'
}
best_p11ca=""
best_engine=""
r=1
while [ $r -le "$runs" ]; do
	# alternate which goes first
	if [ $((r % 2)) = 1 ]; then order="p11ca engine"; else order="engine p11ca"; fi
	for m in $order; do
		[ "$m" = engine ] && [ $have_engine = 0 ] && continue
		t=$(run_ca "$m")
		echo "    run $r: openssl ca through $m: $t s"
		if [ "$m" = p11ca ]; then
			best_p11ca=$(echo "$t ${best_p11ca:-$t}" | awk '{ print ($1 < $2) ? $1 : $2 }')
		else
			best_engine=$(echo "$t ${best_engine:-$t}" | awk '{ print ($1 < $2) ? $1 : $2 }')
		fi
	done
	r=$((r + 1))
done
missed=0
if [ $have_engine = 1 ]; then
	ratio=$(echo "$best_engine $best_p11ca" | awk '{ printf "%.3f", $1 / $2 }')
	printf '(a) openssl ca -infiles, %d certificates, CA key %s, best of %d:\n' "$ncerts" "$ca_type" "$runs"
	printf '    p11ca provider %8.3f s  (%6.0f cert/s)\n' "$best_p11ca" \
		"$(echo "$ncerts $best_p11ca" | awk '{ print $1 / $2 }')"
	printf '    libp11 engine  %8.3f s  (%6.0f cert/s)\n' "$best_engine" \
		"$(echo "$ncerts $best_engine" | awk '{ print $1 / $2 }')"
	printf '    engine time / p11ca time = %s (target >= 1)\n' "$ratio"
	if awk -v r="$ratio" 'BEGIN { exit !(r + 0 < 1) }'; then
		echo "    below target: openssl ca is slower through p11ca than through the engine"
		missed=1
	fi
else
	echo "(a) no libp11 engine at $engine: p11ca alone, best $best_p11ca s for $ncerts certificates"
fi

# ---- (b) EVP_DigestSign beside bare C_Sign ----
echo "(b) EVP_DigestSign through p11ca beside bare C_Sign, $seconds s per row:"
printf '    %-10s %7s %12s %12s %8s %12s %8s\n' key threads "raw sig/s" "p11ca sig/s" ratio \
	"reused ctx/s" ratio
for k in rsa ec; do
	for t in 1 2; do
		OPENSSL_CONF=/dev/null "$BENCH_EVP" --provider-dir "$(dirname "$P11CA_PROVIDER")" \
			--module "$SOFTHSM_MODULE" --token p11ca-pbench --pin-file "$pin_file" --label "$k" \
			--threads "$t" --seconds "$seconds" > "$dir/evp.out" || fail "bench-evp $k $t failed"
		sed 's/^/    /' "$dir/evp.out"
		if awk -v t="$target" '{ exit !($5 + 0 < t + 0) }' "$dir/evp.out"; then
			echo "    below target $target: $k, $t thread(s)"
			missed=1
		fi
	done
done
echo "    (p11ca: a new EVP_MD_CTX and EVP_DigestSignInit_ex per signature; reused ctx:"
echo "    one per thread, re-initialised; rsa = RSA-2048 PKCS#1 v1.5, ec = ECDSA P-256)"
[ $missed = 0 ] || fail "a target was missed"
echo "all targets met"
