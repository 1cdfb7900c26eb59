#!/bin/sh
# admin.sh - token administration for CI: token init on a free slot, change-pin,
# and that the old PIN stops working while the new one works; re-initialising
# a token needs --yes; softhsm-conf/mktoken run twice on one directory.
set -eu
: "${top_srcdir:?}" "${P11CA:?}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/p11ca-admin.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$top_srcdir/tests/expect-lib.sh"
# mktoken's status kept apart from eval's (77: no SoftHSM2, a skip)
out=$("$top_srcdir/softhsm-conf/mktoken" --dir "$dir" --label first) || {
	rc=$?
	[ $rc -ne 77 ] || skip_check "SoftHSM2 is not installed"
	exit $rc
}
eval "$out"
[ -n "${P11CA_PIN_FILE:-}" ] && [ -s "$P11CA_PIN_FILE" ] || fail "mktoken made no token"

# the free slot SoftHSM2 always offers
slot=$("$P11CA" token list --module softhsm2 --json | python3 -c '
import json, sys
print([t["slot"] for t in json.load(sys.stdin) if "initialized" not in t["flags"].split(",")][0])')
umask 077 # PIN files others may read are warned about
printf 'so-secret-1\n' > "$dir/so"
printf 'user-pin-1\n' > "$dir/u1"
printf 'user-pin-2\n' > "$dir/u2"
"$P11CA" token init --module softhsm2 --slot "$slot" --label second \
	--so-pin-file "$dir/so" --pin-file "$dir/u1" > "$dir/out"
grep -q "initialised token 'second'" "$dir/out" || fail "token init said: $(cat "$dir/out")"
"$P11CA" key gen --module softhsm2 --token pkcs11:token=second --pin-file "$dir/u1" \
	--label k --type ec:p256 > /dev/null || fail "new token unusable with its PIN"

"$P11CA" token change-pin --module softhsm2 --token pkcs11:token=second \
	--pin-file "$dir/u1" --new-pin-file "$dir/u2" > "$dir/out" || fail "change-pin failed"
grep -q "changed the user PIN" "$dir/out" || fail "change-pin said: $(cat "$dir/out")"

# the old PIN is refused as a wrong PIN (exit 1, one line), not some other failure
rc=0
"$P11CA" key list --module softhsm2 --token pkcs11:token=second --pin-file "$dir/u1" \
	> "$dir/out" 2> "$dir/err" || rc=$?
[ $rc -eq 1 ] || fail "key list with the old PIN exited $rc, want 1: $(cat "$dir/out" "$dir/err")"
grep -q "wrong PIN" "$dir/err" || fail "the old PIN is not refused as wrong: $(cat "$dir/err")"
[ "$(wc -l < "$dir/err")" -eq 1 ] || fail "not one line: $(cat "$dir/err")"
grep -q "^private" "$dir/out" && fail "old PIN still logs in"
P11CA_PIN=user-pin-2 "$P11CA" key list --module softhsm2 --token pkcs11:token=second \
	> "$dir/out" || fail "new PIN rejected"
grep -q "^private ec" "$dir/out" || fail "new PIN does not show the private key"
# the PINs never show in output, even with --verbose
P11CA_PIN=user-pin-2 "$P11CA" key list -v --module softhsm2 --token pkcs11:token=second \
	> "$dir/out" 2>&1
grep -q "user-pin" "$dir/out" && fail "a PIN appeared in the output"

# the free slot by name; a user PIN the token cannot take is said in words
printf 'ab\n' > "$dir/u-short"
"$P11CA" token init --module softhsm2 --slot free --label short --so-pin-file "$dir/so" \
	--pin-file "$dir/u-short" > "$dir/out" 2> "$dir/err" && fail "a 2-character PIN was taken"
grep -q "too short or too long for this token (CKR_PIN_LEN_RANGE)" "$dir/err" ||
	fail "CKR_PIN_LEN_RANGE without words: $(cat "$dir/err")"
[ "$(wc -l < "$dir/err")" -eq 1 ] || fail "not one line: $(cat "$dir/err")"

# re-initialising a token erases it: not without --yes when nobody can be asked
slot2=$("$P11CA" token list --module softhsm2 --json | python3 -c '
import json, sys
print([t["slot"] for t in json.load(sys.stdin) if t["label"] == "second"][0])')
rc=0
"$P11CA" token init --module softhsm2 --slot "$slot2" --label third --so-pin-file "$dir/so" \
	--pin-file "$dir/u1" < /dev/null > "$dir/out" 2> "$dir/err" || rc=$?
[ $rc -eq 2 ] || fail "re-init without --yes exited $rc: $(cat "$dir/err")"
grep -q "erase token 'second'.*give --yes" "$dir/err" || fail "re-init said: $(cat "$dir/err")"
P11CA_PIN=user-pin-2 "$P11CA" key list --module softhsm2 --token pkcs11:token=second \
	> "$dir/out" || fail "token second is gone"
grep -q "^private ec" "$dir/out" || fail "re-init without --yes erased the key"
"$P11CA" token init --module softhsm2 --slot "$slot2" --label third --so-pin-file "$dir/so" \
	--pin-file "$dir/u1" --yes < /dev/null > "$dir/out" || fail "re-init with --yes failed"
grep -q "initialised token 'third'" "$dir/out" || fail "re-init said: $(cat "$dir/out")"
"$P11CA" key list --module softhsm2 --token pkcs11:token=third --pin-file "$dir/u1" \
	> "$dir/out" || fail "token third unusable"
[ -s "$dir/out" ] && fail "the re-initialised token still has objects: $(cat "$dir/out")"

# mktoken again on the same directory: a second token, both PINs still work
pin1=$(cat "$dir/pin")
eval "$("$top_srcdir/softhsm-conf/mktoken" --dir "$dir" --label fourth)" || fail "mktoken twice"
[ "$(cat "$dir/pin")" = "$pin1" ] || fail "mktoken replaced the PIN of token first"
for t in first fourth; do
	"$P11CA" key gen --module softhsm2 --token "pkcs11:token=$t" --pin-file "$dir/pin" \
		--label "k-$t" --type ec:p256 > /dev/null || fail "token $t: its PIN is lost"
done
"$top_srcdir/softhsm-conf/mktoken" --dir "$dir" --label first > /dev/null 2>&1 &&
	fail "mktoken made a second token labelled first"
echo "admin: token init, change-pin, old PIN refused, new PIN works, re-init needs --yes"
