#!/bin/sh
# cli.sh - the p11ca command against a throwaway SoftHSM2 token: help and
# usage errors, refusals with their messages, PIN handling (never shown,
# never from argv), key gen/list/delete/sign/pubkey, token list/init, and
# signatures checked with the openssl command; confirmations, logins only
# where a private object is needed, and messages.
. "$top_srcdir/tests/lib.sh"
need_cmd python3 script setsid
lib_init cli
new_token cli-a
TOK="pkcs11:token=cli-a"
printf 'hello from the p11ca cli test\n' > "$WORK/msg"
printf 'hello from the p11ca cli test!\n' > "$WORK/msg2"
printf 'not-the-pin\n' > "$WORK/wrong-pin"
chmod 600 "$WORK/wrong-pin" # a PIN file others may read is warned about

step "help and usage errors"
run_ok "$P11CA" --help
grep -q "^commands:" "$WORK/out" || fail "p11ca --help shows no commands"
run_ok "$P11CA" --version
grep -q "^p11ca [0-9]" "$WORK/out" || fail "p11ca --version: $(cat "$WORK/out")"
for cmd in "token list" "token init" "token change-pin" "token bench" \
	"key gen" "key list" "key delete" "key sign" "key pubkey"; do
	# shellcheck disable=SC2086
	run_ok "$P11CA" $cmd --help
	grep -q "^usage: p11ca $cmd" "$WORK/out" || fail "p11ca $cmd --help: $(cat "$WORK/out")"
	[ -s "$WORK/err" ] && fail "p11ca $cmd --help wrote to stderr"
	# shellcheck disable=SC2086
	expect_fail 2 "unrecognized option" "$P11CA" $cmd --frobnicate
done
expect_fail 2 "^usage: p11ca" "$P11CA"
expect_fail 2 "unknown command 'frobnicate'" "$P11CA" frobnicate
expect_fail 2 "'key' needs one of" "$P11CA" key frobnicate
expect_fail 2 "'token' needs one of" "$P11CA" token
expect_fail 2 "needs --label" p11ca key gen --token "$TOK" --pin-file "$PIN_FILE"
expect_fail 2 "needs --key and --out" p11ca key sign --pin-file "$PIN_FILE"
expect_fail 2 "unknown --alg 'dsa'" p11ca key sign --key "$TOK;object=x" --out "$WORK/sig" --alg dsa
expect_fail 2 "unknown digest 'md17'" p11ca key sign --key "$TOK;object=x" --out "$WORK/sig" --digest md17
expect_fail 2 "exactly one pkcs11: URI" p11ca key delete
expect_fail 2 "exactly one pkcs11: URI" p11ca key pubkey "$TOK;object=a" "$TOK;object=b"
expect_fail 2 "needs --slot and --label" p11ca token init --label x
expect_fail 2 "--threads needs 1..64" p11ca token bench --threads 0

step "refusals: RSA-8192, unknown URI attributes"
expect_fail 1 "SIP" p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label big --type rsa:8192
one_line "$WORK/err"
grep -q "force" "$WORK/err" || fail "the RSA-8192 refusal does not say how to override it"
expect_fail 1 "unknown key type 'dsa:1024'" \
	p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label dsa --type dsa:1024
run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE"
grep -q "big\|dsa" "$WORK/out" && fail "a refused key was created: $(cat "$WORK/out")"

for uri in "$TOK;object=x;frobnicate=1" "$TOK;frobnicate=yes;object=x" "$TOK;object=x?frobnicate=1"; do
	expect_fail 1 "unknown attribute 'frobnicate'" p11ca key pubkey --pin-file "$PIN_FILE" "$uri"
	one_line "$WORK/err"
	expect_fail 1 "unknown attribute 'frobnicate'" p11ca key delete --yes --pin-file "$PIN_FILE" "$uri"
	one_line "$WORK/err"
	expect_fail 1 "unknown attribute 'frobnicate'" \
		p11ca key sign --pin-file "$PIN_FILE" --key "$uri" --in "$WORK/msg" --out "$WORK/sig"
	one_line "$WORK/err"
done
expect_fail 1 "unknown attribute 'frobnicate'" \
	p11ca key gen --token "$TOK;frobnicate=1" --pin-file "$PIN_FILE" --label x --type ec:p256
one_line "$WORK/err"

step "key gen for every type; key list --json"
for t in rsa:2048 rsa:3072 ec:p256 ec:p384 ec:p521 ed25519; do
	label=k-$(echo "$t" | sed "s/:p*//")
	run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label "$label" --type "$t" \
		--pubout "$WORK/$label.gen.pem"
	grep -q "^pkcs11:token=cli-a;serial=.*;object=$label;id=.*;type=private$" "$WORK/out" ||
		fail "key gen $t printed: $(cat "$WORK/out")"
	openssl pkey -pubin -in "$WORK/$label.gen.pem" -noout || fail "--pubout $t is not a public key"
done
expect_fail 1 "label 'k-ec256' is already used" \
	p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label k-ec256 --type ec:p256

run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE" --json
python3 -m json.tool "$WORK/out" > /dev/null || fail "key list --json is not JSON: $(cat "$WORK/out")"
python3 - "$WORK/out" << 'EOF' || fail "key list --json does not show the keys as generated"
import json, sys
objs = json.load(open(sys.argv[1]))
want = {"k-rsa2048": ("rsa", 2048), "k-rsa3072": ("rsa", 3072), "k-ec256": ("ec", 256),
        "k-ec384": ("ec", 384), "k-ec521": ("ec", 521), "k-ed25519": ("ed25519", 256)}
for label, (kind, bits) in want.items():
    priv = [o for o in objs if o["label"] == label and o["class"] == "private"]
    pub = [o for o in objs if o["label"] == label and o["class"] == "public"]
    assert len(priv) == 1 and len(pub) == 1, (label, priv, pub)
    p = priv[0]
    assert p["token"] == "cli-a", p
    assert (p["type"], p["bits"]) == (kind, bits), p
    assert p["sensitive"] is True and p["extractable"] is False, p
    assert p["always_sensitive"] is True and p["never_extractable"] is True, p
    assert p["local"] is True, p
    assert len(p["id"]) == 40 and p["id"] == pub[0]["id"], (p, pub)
    assert p["uri"].endswith(";type=private") and ("object=" + label) in p["uri"], p
    assert pub[0]["sensitive"] is None, pub
assert len(objs) == 2 * len(want), objs
EOF
# a failure leaves no half document on stdout
expect_fail 1 "no token matches" p11ca key list --token "pkcs11:token=no-such-token" --pin-file "$PIN_FILE" --json
[ -s "$WORK/out" ] && fail "key list --json wrote despite failing: $(cat "$WORK/out")"
run_ok p11ca token list --json
python3 -c '
import json, sys
toks = json.load(open(sys.argv[1]))
assert [t for t in toks if t["label"] == "cli-a" and "initialized" in t["flags"].split(",")], toks
assert all(isinstance(t["slot"], int) and t["uri"].startswith("pkcs11:") for t in toks), toks
' "$WORK/out" || fail "token list --json: $(cat "$WORK/out")"
# without a PIN the public halves still list
run_ok env -u P11CA_PIN setsid -w "$P11CA" key list --module "$MODULE" --token "$TOK" --json < /dev/null
python3 -c '
import json, sys
objs = json.load(open(sys.argv[1]))
assert objs and all(o["class"] == "public" for o in objs), objs
' "$WORK/out" || fail "key list without a PIN: $(cat "$WORK/out")"

step "key pubkey; key sign verified with openssl"
for label in k-rsa2048 k-rsa3072 k-ec256 k-ec384 k-ec521 k-ed25519; do
	run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$label" --out "$WORK/$label.pem"
	cmp -s "$WORK/$label.pem" "$WORK/$label.gen.pem" || fail "pubkey $label differs from --pubout"
	run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$label"
	cmp -s "$WORK/out" "$WORK/$label.pem" || fail "pubkey $label to stdout differs from --out"
done
sign() { # sign LABEL OUT [ARGS...]
	_l=$1 _o=$2
	shift 2
	run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=$_l" --in "$WORK/msg" \
		--out "$_o" "$@"
	[ -s "$_o" ] || fail "key sign $_l wrote no signature"
}
sign k-rsa2048 "$WORK/s1"
expect_verify rsa "$WORK/k-rsa2048.pem" "$WORK/s1" "$WORK/msg" sha256
expect_no_verify rsa "$WORK/k-rsa2048.pem" "$WORK/s1" "$WORK/msg2" sha256
[ "$(wc -c < "$WORK/s1")" -eq 256 ] || fail "an RSA-2048 signature is not 256 bytes"
for md in sha384 sha512; do
	sign k-rsa2048 "$WORK/s1" --digest "$md"
	expect_verify rsa "$WORK/k-rsa2048.pem" "$WORK/s1" "$WORK/msg" "$md"
	expect_no_verify rsa "$WORK/k-rsa2048.pem" "$WORK/s1" "$WORK/msg" sha256
done
sign k-rsa3072 "$WORK/s1" --alg pss
expect_verify rsa "$WORK/k-rsa3072.pem" "$WORK/s1" "$WORK/msg" sha256 pss
expect_no_verify rsa "$WORK/k-rsa3072.pem" "$WORK/s1" "$WORK/msg" sha256
sign k-rsa3072 "$WORK/s1" --alg pkcs1 --digest sha384
expect_verify rsa "$WORK/k-rsa3072.pem" "$WORK/s1" "$WORK/msg" sha384
sign k-ec256 "$WORK/s1"
expect_verify ec "$WORK/k-ec256.pem" "$WORK/s1" "$WORK/msg" sha256
expect_no_verify ec "$WORK/k-ec256.pem" "$WORK/s1" "$WORK/msg2" sha256
openssl asn1parse -inform DER -in "$WORK/s1" > /dev/null || fail "ECDSA signature is not DER"
sign k-ec384 "$WORK/s1" --alg ecdsa --digest sha384
expect_verify ec "$WORK/k-ec384.pem" "$WORK/s1" "$WORK/msg" sha384
sign k-ec521 "$WORK/s1" --digest sha512
expect_verify ec "$WORK/k-ec521.pem" "$WORK/s1" "$WORK/msg" sha512
sign k-ed25519 "$WORK/s1"
[ "$(wc -c < "$WORK/s1")" -eq 64 ] || fail "an Ed25519 signature is not 64 bytes"
expect_verify ed25519 "$WORK/k-ed25519.pem" "$WORK/s1" "$WORK/msg"
expect_no_verify ed25519 "$WORK/k-ed25519.pem" "$WORK/s1" "$WORK/msg2"
# stdin in, and the key named by id alone
run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE" --json
id=$(python3 -c '
import json, sys
print([o["id"] for o in json.load(open(sys.argv[1])) if o["label"] == "k-ec256"][0])' "$WORK/out")
pct_id=$(echo "$id" | sed 's/../%&/g')
run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;id=$pct_id" --out "$WORK/s1" < "$WORK/msg"
expect_verify ec "$WORK/k-ec256.pem" "$WORK/s1" "$WORK/msg" sha256
expect_fail 1 "does not fit" \
	p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=k-rsa2048" --alg ecdsa \
	--in "$WORK/msg" --out "$WORK/s1"
expect_fail 1 "nothing matches|no private key" \
	p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=no-such-key" --in "$WORK/msg" \
	--out "$WORK/s1"
expect_fail 1 "no private key matches" p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=nope"

step "PIN sources: P11CA_PIN, pin-source in the URI"
run_ok env P11CA_PIN="$PIN" "$P11CA" key sign --module "$MODULE" --key "$TOK;object=k-ec256" \
	--in "$WORK/msg" --out "$WORK/s1"
expect_verify ec "$WORK/k-ec256.pem" "$WORK/s1" "$WORK/msg" sha256
run_ok p11ca key sign --key "$TOK;object=k-rsa2048?pin-source=file:$PIN_FILE" --in "$WORK/msg" \
	--out "$WORK/s1"
expect_verify rsa "$WORK/k-rsa2048.pem" "$WORK/s1" "$WORK/msg" sha256
run_ok p11ca key gen --token "$TOK?pin-source=file:$PIN_FILE" --label k-uri-pin --type ec:p256

step "wrong PIN, no PIN"
expect_fail 1 "wrong PIN" p11ca key list --token "$TOK" --pin-file "$WORK/wrong-pin"
one_line "$WORK/err"
expect_fail 1 "wrong PIN" p11ca key gen --token "$TOK" --pin-file "$WORK/wrong-pin" --label w --type ec:p256
expect_fail 1 "wrong PIN" \
	p11ca key sign --pin-file "$WORK/wrong-pin" --key "$TOK;object=k-ec256" --in "$WORK/msg" --out "$WORK/s2"
[ -e "$WORK/s2" ] && fail "key sign with a wrong PIN wrote a signature"
expect_fail 1 "wrong PIN" env P11CA_PIN=not-the-pin "$P11CA" key pubkey --module "$MODULE" "$TOK;object=k-ec256;type=private"
expect_fail 1 "cannot read PIN file .*no-such-file" \
	p11ca key gen --token "$TOK" --pin-file "$WORK/no-such-file" --label nf --type ec:p256
# no PIN anywhere and no terminal to ask on
nopin() {
	expect_fail 1 "needs a PIN and there is no terminal" \
		env -u P11CA_PIN setsid -w "$P11CA" "$@" --module "$MODULE" < /dev/null
	one_line "$WORK/err"
	grep -q "pin-source=.*--pin-file.*P11CA_PIN" "$WORK/err" || fail "no hint where a PIN can come from"
}
nopin key gen --token "$TOK" --label np --type ec:p256
nopin key pubkey "$TOK;object=k-ec256;type=private"
nopin key sign --key "$TOK;object=k-ec256" --in "$WORK/msg" --out "$WORK/s2"
[ -e "$WORK/s2" ] && fail "key sign without a PIN wrote a signature"

step "the PIN never shows, even with --verbose / -v"
: > "$WORK/all"
for v in -v --verbose; do
	# the PIN from a file, then from the environment: each run must succeed
	for src in file env; do
		for cmd in "token list" "key list --token $TOK" "key list --json" \
			"key gen --token $TOK --label v$v$src --type ec:p256" "key pubkey $TOK;object=k-ec256" \
			"key sign --key $TOK;object=k-rsa2048 --in $WORK/msg --out $WORK/sv" \
			"key delete --yes $TOK;object=v$v$src" \
			"token bench --token $TOK --types ec:p256 --threads 1 --seconds 0.2"; do
			if [ $src = file ]; then
				# shellcheck disable=SC2086
				"$P11CA" $cmd --module "$MODULE" $v --pin-file "$PIN_FILE" >> "$WORK/all" 2>&1 ||
					fail "p11ca $cmd $v failed: $(tail -3 "$WORK/all")"
			else
				# shellcheck disable=SC2086
				P11CA_PIN=$PIN "$P11CA" $cmd --module "$MODULE" $v >> "$WORK/all" 2>&1 ||
					fail "p11ca $cmd $v (PIN from P11CA_PIN) failed: $(tail -3 "$WORK/all")"
			fi
		done
	done
	"$P11CA" key list --module "$MODULE" --token "$TOK" $v --pin-file "$WORK/wrong-pin" >> "$WORK/all" 2>&1 || true
	P11CA_PIN=not-the-pin "$P11CA" key list --module "$MODULE" --token "$TOK" $v >> "$WORK/all" 2>&1 || true
	"$P11CA" key list --module "$MODULE" $v --token "$TOK?pin-source=file:$PIN_FILE" >> "$WORK/all" 2>&1
done
grep -q "p11ca: " "$WORK/all" || fail "--verbose printed nothing"
grep -q "wrong PIN" "$WORK/all" || fail "the wrong-PIN runs did not run"
grep -F -q "$PIN" "$WORK/all" && fail "the PIN appeared in the output"
grep -F -q "not-the-pin" "$WORK/all" && fail "a wrong PIN appeared in the output"

step "key delete"
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label k-doomed --type ec:p256
run_ok p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK;object=k-doomed"
grep -qx "deleted 2 objects" "$WORK/out" || fail "key delete said: $(cat "$WORK/out")"
run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE"
grep -q "k-doomed" "$WORK/out" && fail "key delete left objects behind"
grep -q "k-ec256" "$WORK/out" || fail "key delete took other keys"
expect_fail 1 "nothing matches" p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK;object=k-doomed"
expect_fail 1 "names no object= or id=" p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK"
run_ok p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK;object=k-ed25519;type=public"
grep -qx "deleted 1 object" "$WORK/out" || fail "key delete type=public said: $(cat "$WORK/out")"

step "key delete asks first; --yes where nobody can be asked"
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label k-keep --type ec:p256
expect_fail 2 "delete every object .*k-keep names: not confirmed; give --yes" \
	p11ca key delete --pin-file "$PIN_FILE" "$TOK;object=k-keep" < /dev/null
one_line "$WORK/err"
printf 'n\n' | script -qec "'$P11CA' key delete --module '$MODULE' --pin-file '$PIN_FILE' \
	'$TOK;object=k-keep'" /dev/null > "$WORK/tty" 2>&1 && fail "key delete answered n succeeded"
grep -q "k-keep names? \[y/N\]" "$WORK/tty" || fail "key delete asked nothing: $(cat "$WORK/tty")"
run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE"
[ "$(grep -c "^[a-z]* .* k-keep " "$WORK/out")" -eq 2 ] || fail "an unconfirmed delete deleted"
printf 'y\n' | script -qec "'$P11CA' key delete --module '$MODULE' --pin-file '$PIN_FILE' \
	'$TOK;object=k-keep'" /dev/null > "$WORK/tty" 2>&1 || fail "key delete answered y: $(cat "$WORK/tty")"
grep -q "deleted 2 objects" "$WORK/tty" || fail "key delete answered y said: $(cat "$WORK/tty")"

step "logins only for private objects (SoftHSM2 rewrites token.object at each login)"
tobj=$(ls "$TOKEN_DIR"/tokens/*/token.object)
stamp() { stat -c '%y %s' "$tobj"; }
run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label k-nl --type ec:p256 \
	--pubout "$WORK/k-nl.gen.pem"
before=$(stamp)
run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=k-nl" --out "$WORK/k-nl.pem"
cmp -s "$WORK/k-nl.pem" "$WORK/k-nl.gen.pem" || fail "key pubkey without login: another key"
run_ok env -u P11CA_PIN setsid -w "$P11CA" key list --module "$MODULE" --token "$TOK" < /dev/null
grep -q "private keys are hidden until login" "$WORK/err" || fail "key list without PIN said: $(cat "$WORK/err")"
one_line "$WORK/err"
grep -q "^public .* k-nl " "$WORK/out" || fail "key list without PIN: no public key"
grep -q "^private" "$WORK/out" && fail "key list without PIN showed a private key"
run_ok p11ca key delete --yes --pin-file "$PIN_FILE" "$TOK;object=k-nl;type=public"
[ "$(stamp)" = "$before" ] || fail "a command that needs no private object logged in"
# and the check can see a login
run_ok p11ca key list --token "$TOK" --pin-file "$PIN_FILE"
[ "$(stamp)" != "$before" ] || fail "a login left token.object as it was: the check above sees nothing"
grep -q "hidden" "$WORK/err" && fail "key list with a PIN says keys are hidden"

step "messages: what was meant, in words, control bytes escaped"
expect_fail 1 "'vcs1' is neither a file nor a pkcs11: URI .*pkcs11:token=T;object=vcs1" \
	p11ca key sign --pin-file "$PIN_FILE" --key vcs1 --in "$WORK/msg" --out "$WORK/s9"
one_line "$WORK/err"
expect_fail 1 "no private key matches .*separated by ';', not ','" \
	p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=k-ec256,type=private"
one_line "$WORK/err"
expect_fail 1 "no token matches .*separated by ';', not ','" \
	p11ca key gen --pin-file "$PIN_FILE" --token "pkcs11:token=cli-a,object=x" --label x --type ec:p256
expect_fail 1 "'10.1.2.3' is an IP address.*peers must address this server by its FQDN" \
	"$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" --key "$TOK;object=k-ec256" --fqdn 10.1.2.3 \
	--out "$WORK/ip.csr"
one_line "$WORK/err"
esc=$(printf '\033')
expect_fail 1 'unknown key type .ec:\\x1b\[2J' \
	p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label esc --type "ec:${esc}[2J"
grep -q "$esc" "$WORK/err" && fail "a control byte was echoed raw"
expect_fail 1 'neither a file .*\\x1b\]0;owned\\x07' \
	p11ca key sign --pin-file "$PIN_FILE" --key "k${esc}]0;owned$(printf '\007')" --in "$WORK/msg" \
	--out "$WORK/s9"
grep -q "$esc" "$WORK/err" && fail "a control byte was echoed raw"
one_line "$WORK/err"

step "token list; token init on the free slot"
run_ok p11ca token list
grep -q "^cli-a$" "$WORK/out" || fail "token list does not show cli-a: $(cat "$WORK/out")"
grep -q "uri: *pkcs11:token=cli-a;serial=" "$WORK/out" || fail "token list shows no URI for cli-a"
run_ok p11ca token list --json
slot=$(python3 -c '
import json, sys
toks = json.load(open(sys.argv[1]))
a = [t for t in toks if t["label"] == "cli-a"]
assert len(a) == 1 and "initialized" in a[0]["flags"].split(",") and a[0]["module"], toks
print([t["slot"] for t in toks if "initialized" not in t["flags"].split(",")][0])' "$WORK/out") ||
	fail "token list --json: $(cat "$WORK/out")"
printf 'cli-b-user-pin\n' > "$WORK/pin-b"
run_ok env P11CA_SO_PIN=cli-b-so-pin "$P11CA" token init --module "$MODULE" --slot "$slot" --label cli-b \
	--pin-file "$WORK/pin-b" -v
grep -qx "initialised token 'cli-b'" "$WORK/out" || fail "token init said: $(cat "$WORK/out")"
grep -q "cli-b-so-pin\|cli-b-user-pin" "$WORK/out" "$WORK/err" && fail "token init showed a PIN"
run_ok p11ca token list --json
python3 -c '
import json, sys
b = [t for t in json.load(open(sys.argv[1])) if t["label"] == "cli-b"]
assert len(b) == 1 and {"initialized", "user-pin-initialized"} <= set(b[0]["flags"].split(",")), b
' "$WORK/out" || fail "token list after init: $(cat "$WORK/out")"
run_ok p11ca key gen --token pkcs11:token=cli-b --pin-file "$WORK/pin-b" --label b1 --type rsa:2048 \
	--pubout "$WORK/b1.pem"
run_ok p11ca key sign --pin-file "$WORK/pin-b" --key "pkcs11:token=cli-b;object=b1" --in "$WORK/msg" \
	--out "$WORK/s3"
expect_verify rsa "$WORK/b1.pem" "$WORK/s3" "$WORK/msg" sha256
expect_fail 1 "wrong PIN" p11ca key list --token pkcs11:token=cli-b --pin-file "$PIN_FILE"
# two tokens now: a URI naming neither is ambiguous
expect_fail 1 "matches 2 tokens.*cli-a.*cli-b|matches 2 tokens.*cli-b.*cli-a" \
	p11ca key pubkey --pin-file "$PIN_FILE" "pkcs11:object=b1"
one_line "$WORK/err"

echo "cli: all checks passed"
