#!/bin/sh
# sign-bench.sh [SECONDS] - signatures/s through libp11ca beside a bare
# PKCS#11 C_SignInit+C_Sign loop, same SoftHSM2 token, same run, alternating
# rounds; RSA-2048 and P-256, 1 and 2 threads.  Prints the ratio per row and
# exits 1 if any ratio is below the target (0.95) or a signature failed to
# verify.  Run from the build directory (`make bench`) or give P11CA=path.
set -eu
seconds=${1:-8}
top=$(cd "$(dirname "$0")/.." && pwd)
p11ca=${P11CA:-./p11ca}
target=${P11CA_BENCH_TARGET:-0.95}

dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
eval "$("$top/softhsm-conf/mktoken" --dir "$dir" --label p11ca-bench)"

echo "p11ca sign bench: $(nproc) cores, $seconds s per key and thread count, SoftHSM2 $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo '?')"
"$p11ca" token bench --token "$P11CA_TOKEN_URI" --pin-file "$P11CA_PIN_FILE" \
	--seconds "$seconds" --types rsa:2048,ec:p256 | tee "$dir/out"
awk -v t="$target" 'NR > 1 { if ($5 + 0 < t + 0) { low = 1; print "below target " t ": " $0 } }
	END { exit low }' "$dir/out"
echo "all ratios >= $target"
