#!/bin/sh
# provider-misc.sh - issue 12, items 8 and 9, with the openssl commands a
# user types:
#  8. a pin-value in the URI's path, as libp11 and OpenSC write it
#     (pkcs11:id=%00%04;pin-value=...), for the programs that load p11ca.so:
#     signatures made with it verify with the default provider; the PIN never
#     appears in what the provider says (error queue) of a failing or a
#     succeeding command; a pin-value with a pin-source is refused; the
#     p11ca command still refuses it on its command line.
#  9. p11ca-rand = yes and [random] random = P11CA-RAND: openssl rand and the
#     serial of req -x509 come from C_GenerateRandom (counted by the fault
#     module, tests/fault-module.c, between p11ca.so and SoftHSM2); a token
#     without a generator, or unplugged, makes them fail.
. "$top_srcdir/tests/provider-lib.sh"

PIN=$(cat "$pin_file")
# no PIN source but the URI's: no p11ca-pin-file, no P11CA_PIN
nopin_cnf=$dir/nopin.cnf
write_cnf "$nopin_cnf" env
np() {
	OPENSSL_CONF=$nopin_cnf openssl "$@"
}
# no_pin FILE WHAT: FILE shows no PIN of this test (the real one, a wrong one)
no_pin() {
	if grep -F -e "$PIN" -e "Wr0ngPIN" "$1" > /dev/null; then
		sed 's/^/  | /' "$1" >&2
		fail "$2: the PIN appears"
	fi
}
# provider_said FILE: FILE without the line in which openssl itself echoes
# the key argument it could not load ("Could not read private key from
# URI"): what the provider put on the error queue
provider_said() {
	grep -v "^Could not .* from pkcs11:" "$1" || true
}

# ---- 8: pin-value in the path ----
keygen pvrsa rsa:2048
head -c 32 /dev/urandom > "$dir/dgst"
echo "issue 12 item 8" > "$dir/msg"

# an RSA key made by p11ca, named by label, PIN in the path
run "dgst -sign with pin-value in the path" np dgst -sha256 \
	-sign "$tok;object=pvrsa;pin-value=$PIN" -out "$dir/rsa.sig" "$dir/msg"
no_pin "$dir/out" "dgst -sign (succeeding)"
run "verify the RSA signature" plain dgst -sha256 -verify "$dir/pvrsa.pub" \
	-signature "$dir/rsa.sig" "$dir/msg"
# the pin-value between two path attributes, and before a query
case "$module" in
*/*) modq="module-path=$(basename "$module")" ;;
*) modq="module-name=$module" ;;
esac
run "pkeyutl -sign with ;pin-value=...;object=" np pkeyutl -sign \
	-inkey "$tok;pin-value=$PIN;object=pvrsa?$modq" -in "$dir/dgst" \
	-pkeyopt digest:sha256 -out "$dir/rsa2.sig"
no_pin "$dir/out" "pkeyutl -sign (succeeding)"
run "verify the second RSA signature" plain pkeyutl -verify -pubin -inkey "$dir/pvrsa.pub" \
	-pkeyopt digest:sha256 -in "$dir/dgst" -sigfile "$dir/rsa2.sig"
ok "pin-value in the path: RSA signatures (p11ca key) verify, no PIN in the output"

# an EC key made by pkcs11-tool with id 00 04: the form of the issue
if command -v pkcs11-tool > /dev/null 2>&1 && [ -n "${SOFTHSM_MODULE:-}" ]; then
	MISC_PIN=$PIN
	export MISC_PIN
	run "pkcs11-tool --keypairgen EC" pkcs11-tool --module "$SOFTHSM_MODULE" \
		--token-label "$test_name" --login --pin env:MISC_PIN --keypairgen \
		--key-type EC:prime256v1 --id 0004 --label ptec
	unset MISC_PIN
	run "pkcs11-tool key: its public key" p11 pkey -pubin -in "$tok;id=%00%04;type=public" \
		-pubout -out "$dir/ptec.pub"
	run "pkeyutl -sign, pkcs11:id=%00%04;pin-value=..." np pkeyutl -sign \
		-inkey "pkcs11:id=%00%04;pin-value=$PIN" -in "$dir/dgst" -out "$dir/ec.sig"
	no_pin "$dir/out" "pkeyutl -sign EC (succeeding)"
	run "verify the ECDSA signature" plain pkeyutl -verify -pubin -inkey "$dir/ptec.pub" \
		-in "$dir/dgst" -sigfile "$dir/ec.sig"
	ok "pkcs11:id=%00%04;pin-value=...: the pkcs11-tool EC key signs"
else
	skip_part pkcs11-tool-key "no pkcs11-tool or no SoftHSM2 path: id=%00%04 not tried"
fi

# failing: a wrong PIN in the path; the provider names the refusal, not the PIN
run_fails "a wrong pin-value in the path" np dgst -sha256 \
	-sign "$tok;object=pvrsa;pin-value=Wr0ngPIN" -out "$dir/x.sig" "$dir/msg"
expect_in "$dir/out" "wrong PIN|CKR_PIN_INCORRECT" "a wrong pin-value"
provider_said "$dir/out" > "$dir/said"
no_pin "$dir/said" "a wrong pin-value (the error queue)"
# and nothing there: the provider says so without the PIN
run_fails "a pin-value in the path with nothing there" np dgst -sha256 \
	-sign "$tok;object=nosuchkey;pin-value=$PIN" -out "$dir/x.sig" "$dir/msg"
expect_in "$dir/out" "no .*matches.*pin-value=\*\*\*" "nothing at a URI with a pin-value"
provider_said "$dir/out" > "$dir/said"
no_pin "$dir/said" "nothing there (the error queue)"
# two PIN sources: refused, said why
run_fails "pin-value and pin-source" np dgst -sha256 \
	-sign "$tok;object=pvrsa;pin-value=$PIN?pin-source=file:$pin_file" -out "$dir/x.sig" "$dir/msg"
expect_in "$dir/out" "both a pin-value and a pin-source" "pin-value with pin-source"
provider_said "$dir/out" > "$dir/said"
no_pin "$dir/said" "pin-value with pin-source (the error queue)"
ok "a wrong pin-value, nothing there, two PIN sources: refused, no PIN from the provider"

# the p11ca command: still no PIN on its command line, not even in the path
if "$P11CA" --verbose key sign --module "$module" --key "$tok;object=pvrsa;pin-value=$PIN" \
	--in "$dir/dgst" > "$dir/out" 2>&1; then
	fail "p11ca key sign took a pin-value in the path"
fi
expect_in "$dir/out" "never a command-line argument" "p11ca with a path pin-value"
no_pin "$dir/out" "p11ca --verbose with a path pin-value"
ok "the p11ca command refuses a pin-value in the path, without showing it"

# ---- 9: the token's random generator ----
FAULT_MODULE=$top_builddir/.libs/fault-module.so
[ -f "$FAULT_MODULE" ] || fail "the fault module $FAULT_MODULE is not built"
rand_cnf=$dir/rand.cnf
openssl_cnf_provider "$P11CA_PROVIDER" "$FAULT_MODULE" "$pin_file" |
	sed 's/^\[openssl_init\]$/[openssl_init]\nrandom = random_sect/' > "$rand_cnf"
cat >> "$rand_cnf" << CNF
p11ca-rand = yes
[random_sect]
random = P11CA-RAND
properties = provider=p11ca
CNF
calls=$dir/calls
# rnd ARGS...: openssl with the token as the library's generator, the
# module's calls logged to $calls (emptied first)
rnd() {
	: > "$calls"
	OPENSSL_CONF=${rnd_cnf:-$rand_cnf} P11CA_FAULTS_CALLS_FILE=$calls timeout 30 openssl "$@"
}
random_calls() {
	grep -c '^C_GenerateRandom$' "$calls" || true
}

run "openssl rand -hex 32 from the token" rnd rand -hex 32
grep -Eqx '[0-9a-f]{64}' "$dir/out" || fail "openssl rand: not 32 bytes in hex: $(cat "$dir/out")"
[ "$(random_calls)" -ge 1 ] || fail "openssl rand did not call C_GenerateRandom"
# more than one request's worth (4096 bytes): every piece from the token
run "openssl rand 10000 bytes" rnd rand -out "$dir/r.bin" 10000
[ "$(wc -c < "$dir/r.bin")" -eq 10000 ] || fail "openssl rand: not 10000 bytes"
[ "$(random_calls)" -ge 3 ] || fail "10000 bytes in $(random_calls) C_GenerateRandom calls"
ok "openssl rand: bytes from C_GenerateRandom"

# p11ca-rand-token picks the token; one that is not there is an error
sed "s|^p11ca-rand = yes\$|p11ca-rand = yes\np11ca-rand-token = $tok|" "$rand_cnf" > "$dir/tok.cnf"
rnd_cnf=$dir/tok.cnf
run "openssl rand with p11ca-rand-token" rnd rand -hex 16
[ "$(random_calls)" -ge 1 ] || fail "openssl rand with p11ca-rand-token: no C_GenerateRandom"
sed "s|^p11ca-rand = yes\$|p11ca-rand = yes\np11ca-rand-token = pkcs11:token=no-such-token|" \
	"$rand_cnf" > "$dir/notok.cnf"
rnd_cnf=$dir/notok.cnf
run_fails "openssl rand, p11ca-rand-token names no token" rnd rand -hex 16
rnd_cnf=
expect_in "$dir/out" "no token matches pkcs11:token=no-such-token" "p11ca-rand-token elsewhere"
ok "p11ca-rand-token: the token named, or an error naming it"

# a certificate's serial (req -x509 without -set_serial), with a file key
plain genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/file.key" 2> /dev/null ||
	fail "genpkey"
run "req -x509 with the token's generator" rnd req -new -x509 -key "$dir/file.key" \
	-subj /CN=serial -days 1 -out "$dir/serial.crt"
[ "$(random_calls)" -ge 1 ] || fail "req -x509 made its serial without C_GenerateRandom"
run "the certificate" plain x509 -in "$dir/serial.crt" -noout -serial
expect_in "$dir/out" "^serial=[0-9A-F]{16,}" "req -x509: a random serial"
# the same with a token that has no generator: no certificate at all
if P11CA_FAULTS=C_GenerateRandom:0x121:-1 rnd req -new -x509 -key "$dir/file.key" \
	-subj /CN=serial -days 1 -out "$dir/none.crt" > "$dir/out" 2>&1; then
	fail "req -x509 made a certificate although the token's generator failed"
fi
expect_in "$dir/out" "no random number generator" "req -x509 without the token's generator"
ok "req -x509: the serial came from the token, and without it no certificate"

# unplugged: openssl rand fails, saying why, with nothing on stdout
: > "$dir/unplugged"
if P11CA_FAULTS_UNPLUG_FILE=$dir/unplugged rnd rand -hex 32 > "$dir/rand.out" 2> "$dir/out"; then
	fail "openssl rand succeeded with the token unplugged"
fi
rm -f "$dir/unplugged"
[ -s "$dir/rand.out" ] && fail "openssl rand wrote bytes with the token unplugged"
expect_in "$dir/out" "random generator \(p11ca-rand\)" "openssl rand, token unplugged"
ok "openssl rand with the token unplugged: fails, non-zero exit"

# without p11ca-rand = yes the name is unknown: no silent software generator
sed 's/^p11ca-rand = yes$/p11ca-rand = no/' "$rand_cnf" > "$dir/norand.cnf"
if OPENSSL_CONF=$dir/norand.cnf openssl rand -hex 8 > "$dir/rand.out" 2> "$dir/out"; then
	fail "openssl rand succeeded with [random] P11CA-RAND but p11ca-rand = no"
fi
expect_in "$dir/out" "P11CA-RAND" "p11ca-rand = no"
ok "p11ca-rand = no: P11CA-RAND is not offered, openssl rand fails"

done_ok
