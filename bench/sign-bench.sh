#!/bin/sh
# sign-bench.sh [SECONDS] - signatures/s through libp11ca beside a bare
# PKCS#11 C_SignInit+C_Sign loop, same SoftHSM2 token, same run, alternating
# rounds; RSA-2048 and P-256, 1 and 2 threads.  Prints the ratio per row and
# exits 1 if token bench fails, any ratio is below the target (0.95) or a
# sampled signature (either side) failed to verify (the badsig column).  Run from the build directory (`make bench`) or give P11CA=path.
set -eu
seconds=${1:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
p11ca=${P11CA:-./p11ca}
target=${P11CA_BENCH_TARGET:-0.95}

dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
env=$("$top/softhsm-conf/mktoken" --dir "$dir" --label p11ca-bench) || exit $?
eval "$env"

echo "p11ca sign bench: $(nproc) cores, $seconds s per key and thread count, SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo '?')"
# not through a pipe: token bench's own status (1 when a signature did not
# verify) must not be lost behind tee's
rc=0
"$p11ca" token bench --token "$P11CA_TOKEN_URI" --pin-file "$P11CA_PIN_FILE" \
	--seconds "$seconds" --types rsa:2048,ec:p256 > "$dir/out" || rc=$?
cat "$dir/out"
[ $rc -eq 0 ] || {
	echo "token bench failed (exit $rc)" >&2
	exit 1
}
# columns: key threads raw/s p11ca/s ratio badsig; every row there, none with a
# bad signature, every ratio at the target
awk -v t="$target" 'NR > 1 { rows++
		if (NF != 6) { bad = 1; print "malformed row: " $0 }
		if ($6 + 0 != 0) { bad = 1; print "bad signatures: " $0 }
		if ($5 + 0 < t + 0) { bad = 1; print "below target " t ": " $0 } }
	END { if (rows != 4) { bad = 1; print rows + 0 " rows, not 4" } exit bad }' "$dir/out"
echo "all ratios >= $target, no bad signature"
