#!/bin/sh
# interop-libp11.sh - the libp11 OpenSSL engine (libengine-pkcs11-openssl)
# uses keys p11ca made: `openssl dgst -sign` and `openssl req -x509` through
# the engine, checked against `p11ca key pubkey` and the key's CKA_ID; and
# p11ca signs with a key made by pkcs11-tool that the engine also reads.
#
# The engine is configured by an OPENSSL_CONF of this test's own (never the
# system openssl.cnf), with the PIN from a file named by the URI's
# pin-source.  libp11 0.4.12 quirks: it reads the PIN file whole (a trailing
# newline becomes part of the PIN), its key listing breaks on Ed25519 keys
# (so none are made here), and openssl may crash at exit on the engine's
# error paths (so outcomes are judged by the files written and verified).
. "$top_srcdir/tests/lib.sh"
need_cmd python3
lib_init interop-libp11
: "${OPENSSL_ENGINESDIR:=$(pkg-config --variable=enginesdir libcrypto 2> /dev/null || true)}"
ENGINE=$OPENSSL_ENGINESDIR/pkcs11.so
[ -n "$OPENSSL_ENGINESDIR" ] && [ -f "$ENGINE" ] ||
	skip "the libp11 engine is not installed (apt-get install libengine-pkcs11-openssl)"
case "$MODULE" in
/*) ;;
*) skip "the engine needs the SoftHSM2 module's path (configure --with-softhsm-module)" ;;
esac
new_token eng
TOK="pkcs11:token=eng"
printf 'signed through the libp11 engine\n' > "$WORK/msg"
printf 'signed through the libp11 engine.\n' > "$WORK/msg2"
printf '%s' "$PIN" > "$WORK/engine-pin"
chmod 600 "$WORK/engine-pin"
PINQ="?pin-source=file:$WORK/engine-pin"

cat > "$WORK/engine.cnf" << EOF
# written by interop-libp11.sh: the libp11 engine on the test's SoftHSM2 token
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MODULE
init = 0
EOF

# eng ARGS...: openssl with the engine configuration (only for this call)
eng() {
	OPENSSL_CONF="$WORK/engine.cnf" openssl "$@"
}

# eng_ok ARGS...: an engine run that must succeed; shows its output if not
eng_ok() {
	_rc=0
	eng "$@" > "$WORK/eng.out" 2>&1 || _rc=$?
	if [ $_rc -ne 0 ]; then
		cat "$WORK/eng.out" >&2
		fail "openssl through the engine exited $_rc: openssl $*"
	fi
}

step "the engine loads and sees the token"
eng_ok engine -t pkcs11
grep -q "available" "$WORK/eng.out" || fail "engine pkcs11 not available: $(cat "$WORK/eng.out")"

step "keys made by p11ca, signing through the engine"
for k in "e-rsa rsa:2048 rsa sha256" "e-rsa3072 rsa:3072 rsa sha384" "e-ec ec:p256 ec sha256" \
	"e-ec384 ec:p384 ec sha384"; do
	# shellcheck disable=SC2086
	set -- $k
	label=$1 type=$2 kind=$3 md=$4
	run_ok p11ca key gen --token "$TOK" --pin-file "$PIN_FILE" --label "$label" --type "$type"
	run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$label" --out "$WORK/$label.pem"
	rm -f "$WORK/$label.sig"
	eng_ok dgst "-$md" -engine pkcs11 -keyform engine \
		-sign "$TOK;object=$label;type=private$PINQ" -out "$WORK/$label.sig" "$WORK/msg"
	[ -s "$WORK/$label.sig" ] || fail "the engine wrote no signature with $label"
	expect_verify "$kind" "$WORK/$label.pem" "$WORK/$label.sig" "$WORK/msg" "$md"
	expect_no_verify "$kind" "$WORK/$label.pem" "$WORK/$label.sig" "$WORK/msg2" "$md"
done
# RSA-PSS through the engine
eng_ok dgst -sha256 -engine pkcs11 -keyform engine -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:digest -sign "$TOK;object=e-rsa;type=private$PINQ" \
	-out "$WORK/e-rsa.pss" "$WORK/msg"
expect_verify rsa "$WORK/e-rsa.pem" "$WORK/e-rsa.pss" "$WORK/msg" sha256 pss
# the key named by the CKA_ID p11ca gave it
id=$("$P11CA" key list --module "$MODULE" --token "$TOK" --pin-file "$PIN_FILE" --json |
	python3 -c '
import json, sys
print([o["id"] for o in json.load(sys.stdin) if o["label"] == "e-ec" and o["class"] == "private"][0])')
[ ${#id} -eq 40 ] || fail "no 20-byte CKA_ID for e-ec: $id"
pct=$(echo "$id" | sed 's/../%&/g')
rm -f "$WORK/e-ec.sig"
eng_ok dgst -sha256 -engine pkcs11 -keyform engine -sign "$TOK;id=$pct;type=private$PINQ" \
	-out "$WORK/e-ec.sig" "$WORK/msg"
expect_verify ec "$WORK/e-ec.pem" "$WORK/e-ec.sig" "$WORK/msg" sha256
# a wrong PIN: no signature (exit status alone is not trusted, see above)
printf 'not-the-pin' > "$WORK/wrong-pin"
rm -f "$WORK/bad.sig"
eng dgst -sha256 -engine pkcs11 -keyform engine \
	-sign "$TOK;object=e-ec;type=private?pin-source=file:$WORK/wrong-pin" \
	-out "$WORK/bad.sig" "$WORK/msg" > "$WORK/eng.out" 2>&1 && fail "the engine signed with a wrong PIN"
if [ -s "$WORK/bad.sig" ] && verify_sig ec "$WORK/e-ec.pem" "$WORK/bad.sig" "$WORK/msg" sha256; then
	fail "the engine made a valid signature with a wrong PIN"
fi

step "certificates made through the engine for p11ca keys"
for k in "e-rsa rsa" "e-ec ec"; do
	# shellcheck disable=SC2086
	set -- $k
	label=$1 kind=$2
	rm -f "$WORK/$label.crt"
	eng_ok req -new -x509 -engine pkcs11 -keyform engine -key "$TOK;object=$label;type=private$PINQ" \
		-subj "/CN=$label" -days 1 -sha256 -addext "subjectKeyIdentifier=hash" -out "$WORK/$label.crt"
	[ -s "$WORK/$label.crt" ] || fail "openssl req wrote no certificate for $label"
	openssl verify -check_ss_sig -CAfile "$WORK/$label.crt" "$WORK/$label.crt" > "$WORK/out" 2>&1 ||
		fail "the self-signed $label certificate does not verify: $(cat "$WORK/out")"
	openssl x509 -in "$WORK/$label.crt" -noout -pubkey > "$WORK/$label.crt.pub"
	openssl pkey -pubin -in "$WORK/$label.crt.pub" -outform DER -out "$WORK/a.der"
	openssl pkey -pubin -in "$WORK/$label.pem" -outform DER -out "$WORK/b.der"
	cmp -s "$WORK/a.der" "$WORK/b.der" || fail "the $label certificate holds another public key"
	ski=$(openssl x509 -in "$WORK/$label.crt" -noout -ext subjectKeyIdentifier |
		sed -n 's/^ *\([0-9A-F:]*\)$/\1/p' | tr -d ':' | tr 'A-F' 'a-f')
	kid=$("$P11CA" key list --module "$MODULE" --token "$TOK" --pin-file "$PIN_FILE" --json |
		python3 -c '
import json, sys
print([o["id"] for o in json.load(sys.stdin) if o["label"] == sys.argv[1] and o["class"] == "private"][0])' "$label")
	[ -n "$ski" ] && [ "$ski" = "$kid" ] || fail "$label: certificate SKI '$ski' is not the key's CKA_ID '$kid'"
done

step "a key made by pkcs11-tool: the engine reads it, p11ca signs with it"
if command -v pkcs11-tool > /dev/null 2>&1; then
	for k in "pt-rsa rsa:2048 rsa 0d01" "pt-ec EC:prime256v1 ec 0d02"; do
		# shellcheck disable=SC2086
		set -- $k
		label=$1 type=$2 kind=$3 kid=$4
		run_ok pkcs11-tool --module "$MODULE" --token-label eng --login --pin "$PIN" \
			--keypairgen --key-type "$type" --label "$label" --id "$kid"
		rm -f "$WORK/$label.eng.pem"
		eng_ok pkey -engine pkcs11 -inform engine -pubin -in "$TOK;object=$label;type=public" \
			-out "$WORK/$label.eng.pem"
		[ -s "$WORK/$label.eng.pem" ] || fail "the engine exported no public key for $label"
		run_ok p11ca key sign --pin-file "$PIN_FILE" --key "$TOK;object=$label" \
			--in "$WORK/msg" --out "$WORK/$label.sig"
		expect_verify "$kind" "$WORK/$label.eng.pem" "$WORK/$label.sig" "$WORK/msg" sha256
		expect_no_verify "$kind" "$WORK/$label.eng.pem" "$WORK/$label.sig" "$WORK/msg2" sha256
		# and the engine's signature with it verifies with p11ca's public key
		run_ok p11ca key pubkey --pin-file "$PIN_FILE" "$TOK;object=$label" --out "$WORK/$label.pem"
		eng_ok dgst -sha256 -engine pkcs11 -keyform engine \
			-sign "$TOK;object=$label;type=private$PINQ" -out "$WORK/$label.esig" "$WORK/msg"
		expect_verify "$kind" "$WORK/$label.pem" "$WORK/$label.esig" "$WORK/msg" sha256
	done
else
	skip_part pkcs11-tool-keys "pkcs11-tool is not installed"
fi

pass "interop-libp11: all checks passed"
