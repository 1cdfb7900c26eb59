#!/bin/sh
# first-use.sh - what a first use of p11ca needs: every subcommand's --help
# and -h with the common options, 'p11ca GROUP --help', P11CA_PIN_FILE in
# every command that logs in, the guide's shared cluster certificate and an
# OCSP responder's CSR (checked with openssl), what ca sign says it changed,
# progress on a terminal only (through script(1)), and the bash completion.
. "$top_srcdir/tests/lib.sh"
need_cmd script bash setsid
lib_init first-use
# full unwinding at every malloc makes sanitized runs slow; no Ed25519 here
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=1"
export ASAN_OPTIONS
new_token fu
TOK="pkcs11:token=fu"

# every "GROUP VERB" of 'p11ca --help' ("csr -" for the group that is a command)
"$P11CA" --help | awk '
	/^commands:/ { on = 1; next }
	on && /^  [a-z]/ {
		# "  %-6s %-11s %s": no verb when its column starts blank
		print $1, (substr($0, 10, 1) == " " ? "-" : $2)
	}
	on && /^$/ { on = 0 }' > "$WORK/commands"
[ "$(wc -l < "$WORK/commands")" -ge 28 ] || fail "p11ca --help lists too few commands: $(cat "$WORK/commands")"

step "every subcommand's --help and -h: its usage and the common options"
while read -r g v; do
	[ "$v" = - ] && v=""
	for h in --help -h; do
		# shellcheck disable=SC2086
		run_ok "$P11CA" $g $v $h
		[ -s "$WORK/err" ] && fail "p11ca $g $v $h wrote to stderr: $(cat "$WORK/err")"
		grep -q "^usage: p11ca $g${v:+ $v}" "$WORK/out" || fail "p11ca $g $v $h: no usage line"
		for o in "--module NAME|PATH" "--pin-file FILE" "-v, --verbose" "-h, --help" \
			'$P11CA_PIN_FILE'; do
			grep -qF -- "$o" "$WORK/out" || fail "p11ca $g $v $h does not show '$o'"
		done
		cp "$WORK/out" "$WORK/help$h"
	done
	cmp -s "$WORK/help--help" "$WORK/help-h" || fail "p11ca $g $v: -h and --help differ"
done < "$WORK/commands"

step "p11ca GROUP --help lists the group's verbs"
for g in $(awk '$2 != "-" { print $1 }' "$WORK/commands" | sort -u); do
	for h in --help -h; do
		run_ok "$P11CA" "$g" "$h"
		[ -s "$WORK/err" ] && fail "p11ca $g $h wrote to stderr"
		for v in $(awk -v g="$g" '$1 == g { print $2 }' "$WORK/commands"); do
			grep -q "^  p11ca $g $v " "$WORK/out" || fail "p11ca $g $h does not list $v"
		done
	done
done
expect_fail 2 "'ca' needs one of" "$P11CA" ca

step "P11CA_PIN_FILE in every command that logs in (no terminal, no --pin-file)"
# pf ARGS...: p11ca with the PIN only in the environment
pf() {
	P11CA_PIN_FILE=$PIN_FILE setsid -w "$P11CA" "$@" --module "$MODULE" < /dev/null
}
printf 'signed through P11CA_PIN_FILE\n' > "$WORK/msg"
# without it: no PIN, and no terminal to ask on (setsid)
expect_fail 1 "needs a PIN" setsid -w "$P11CA" key gen --module "$MODULE" --token "$TOK" \
	--label nopin --type ec:p256 < /dev/null
run_ok pf key gen --token "$TOK" --label k --type rsa:2048
run_ok pf key list --token "$TOK"
grep -q " k " "$WORK/out" || fail "key list: no key k: $(cat "$WORK/out")"
run_ok pf key pubkey "$TOK;object=k" --out "$WORK/k.pub"
run_ok pf key sign --key "$TOK;object=k" --in "$WORK/msg" --out "$WORK/msg.sig"
expect_verify rsa "$WORK/k.pub" "$WORK/msg.sig" "$WORK/msg"
run_ok pf ca init --dir "$WORK/ca" --new-key ec:p256 --token "$TOK" --label root \
	--subject /CN=First-use-CA --days 30
run_ok pf csr --key "$TOK;object=k" --fqdn host.example.com --out "$WORK/host.csr"
openssl req -in "$WORK/host.csr" -noout -verify > /dev/null 2>&1 || fail "csr: bad signature"
run_ok pf ca sign --dir "$WORK/ca" --days 10 --out "$WORK/host.pem" "$WORK/host.csr"
openssl verify -CAfile "$WORK/ca/ca.pem" "$WORK/host.pem" > /dev/null || fail "ca sign: no chain"
run_ok pf cert install --key "$TOK;object=k" "$WORK/host.pem"
run_ok pf cert check "$WORK/host.pem" --key "$TOK;object=k" --bundle "$WORK/ca/ca.pem"
grep -q "the key matches the certificate" "$WORK/out" || fail "cert check: $(cat "$WORK/out")"
run_ok pf ca revoke --dir "$WORK/ca" --cert "$WORK/host.pem"
run_ok pf ca crl --dir "$WORK/ca" --pem --out "$WORK/crl.pem"
serial=$(openssl x509 -in "$WORK/host.pem" -noout -serial | cut -d= -f2)
openssl crl -in "$WORK/crl.pem" -noout -text -CAfile "$WORK/ca/ca.pem" > "$WORK/crl.txt" 2>&1 ||
	fail "ca crl: $(cat "$WORK/crl.txt")"
grep -q "verify OK" "$WORK/crl.txt" || fail "ca crl: the CRL does not verify"
grep -qi "Serial Number: $serial" "$WORK/crl.txt" || fail "ca crl: $serial not listed"
run_ok pf token bench --token "$TOK" --seconds 0.1 --types ec:p256 --threads 1
run_ok pf key gen --token "$TOK" --label gone --type ec:p256
run_ok pf key delete --yes "$TOK;object=gone"
run_ok pf key list --token "$TOK"
grep -q " gone " "$WORK/out" && fail "key delete left the key: $(cat "$WORK/out")"
printf '%s' "$PIN" > "$WORK/pin2"
run_ok pf token change-pin --token "$TOK" --new-pin-file "$WORK/pin2"

# csr ARGS...: p11ca csr on the test's module, PIN from the file
csr() {
	"$P11CA" csr --module "$MODULE" --pin-file "$PIN_FILE" "$@"
}

step "csr --cluster C --peer P1 --peer P2: one certificate the cluster shares"
run_ok csr --key "$TOK;object=k" --cluster vcs.example.com \
	--peer vcs1.example.com --peer vcs2.example.com --out "$WORK/cluster.csr"
openssl req -in "$WORK/cluster.csr" -noout -text -nameopt RFC2253 > "$WORK/req.txt"
grep -q "Subject: CN=vcs.example.com\$" "$WORK/req.txt" || fail "cluster CSR: $(grep Subject: "$WORK/req.txt")"
grep -q "^ *DNS:vcs.example.com, DNS:vcs1.example.com, DNS:vcs2.example.com\$" "$WORK/req.txt" ||
	fail "cluster CSR SANs: $(grep -A1 'Alternative' "$WORK/req.txt")"
grep -q "TLS Web Server Authentication, TLS Web Client Authentication" "$WORK/req.txt" ||
	fail "cluster CSR: not serverAuth+clientAuth"
expect_fail 2 "--cluster needs --fqdn" csr --key "$TOK;object=k" \
	--cluster vcs.example.com

step "csr --profile ocsp / --eku ocsp: an OCSP responder's request, issued by ca sign"
for how in "--profile ocsp" "--eku ocsp"; do
	# shellcheck disable=SC2086
	run_ok csr --key "$TOK;object=k" --cn "Example OCSP responder" \
		$how --out "$WORK/ocsp.csr"
	openssl req -in "$WORK/ocsp.csr" -noout -text > "$WORK/req.txt"
	grep -A1 "Extended Key Usage" "$WORK/req.txt" | grep -q "^ *OCSP Signing\$" ||
		fail "csr $how: EKU $(grep -A1 'Extended Key' "$WORK/req.txt")"
	# an RSA key, yet no keyEncipherment: the CA's ocsp profile allows none
	grep -A1 "Key Usage: critical" "$WORK/req.txt" | grep -q "^ *Digital Signature\$" ||
		fail "csr $how: keyUsage $(grep -A1 'Key Usage: critical' "$WORK/req.txt")"
done
run_ok p11ca ca sign --pin-file "$PIN_FILE" --dir "$WORK/ca" --profile ocsp --days 5 \
	--out "$WORK/ocsp.pem" "$WORK/ocsp.csr"
openssl x509 -in "$WORK/ocsp.pem" -noout -text > "$WORK/x.txt"
grep -q "OCSP Signing" "$WORK/x.txt" && grep -q "OCSP No Check" "$WORK/x.txt" ||
	fail "the responder's certificate: $(cat "$WORK/x.txt")"
expect_fail 2 "unknown --profile 'sub-ca'" csr --key "$TOK;object=k" --cn x --profile sub-ca
expect_fail 2 "exclude each other" csr --key "$TOK;object=k" --cn x --profile ocsp --eku server

step "ca sign says, without -v, what it did not copy and a validity cut to the CA's end"
run_ok csr --key "$TOK;object=k" --fqdn ms.example.com \
	--ms-template Webclientandserver --out "$WORK/ms.csr"
cp "$WORK/ms.csr" "$WORK/ms2.csr"
run_ok p11ca ca sign --pin-file "$PIN_FILE" --dir "$WORK/ca" --days 5 --out "$WORK/ms.pem" \
	"$WORK/ms.csr" "$WORK/ms2.csr" "$WORK/host.csr"
grep -q "warning: .*ms.csr and 1 more CSR: not copied from the CSR: Microsoft template name (1.3.6.1.4.1.311.20.2)" \
	"$WORK/err" || fail "ca sign did not say what it dropped: $(cat "$WORK/err")"
one_line "$WORK/err"
openssl x509 -in "$WORK/ms.pem" -noout -text | grep -q "1.3.6.1.4.1.311.20.2" &&
	fail "the template name was copied after all"
# the CA lives 30 days: 365 are cut to its end, and said so
# (CSRs of their own: a subject and key with a valid certificate are not issued again)
run_ok pf csr --key "$TOK;object=k" --fqdn long.example.com --out "$WORK/long.csr"
run_ok pf csr --key "$TOK;object=k" --fqdn plain.example.com --out "$WORK/plain.csr"
run_ok p11ca ca sign --pin-file "$PIN_FILE" --dir "$WORK/ca" --days 365 --out "$WORK/long.pem" \
	"$WORK/long.csr"
grep -q "warning: --days 365 outlasts the CA: the certificates end with it" "$WORK/err" ||
	fail "ca sign did not say it cut --days: $(cat "$WORK/err")"
one_line "$WORK/err"
[ "$(openssl x509 -in "$WORK/long.pem" -noout -enddate)" = \
	"$(openssl x509 -in "$WORK/ca/ca.pem" -noout -enddate)" ] || fail "not cut to the CA's end"
run_ok p11ca ca sign --pin-file "$PIN_FILE" --dir "$WORK/ca" --days 5 --out "$WORK/plain.pem" \
	"$WORK/plain.csr"
[ -s "$WORK/err" ] && fail "ca sign warned about nothing to warn about: $(cat "$WORK/err")"

step "progress on a terminal, none in a pipe"
# on_tty CMD: CMD with a terminal (script(1)); what the terminal showed in $WORK/tty
on_tty() {
	_rc=0
	script -qec "$*" /dev/null > "$WORK/tty" 2>&1 < /dev/null || _rc=$?
	if [ $_rc -ne 0 ]; then
		cat "$WORK/tty" >&2
		fail "exit $_rc from (on a terminal): $*"
	fi
}
on_tty "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "'$TOK'" --label tick \
	--type ec:p256 --pubout "$WORK/tick.pub"
grep -q "generating key pair ec:p256 on the token\.\.\." "$WORK/tty" ||
	fail "key gen showed no progress on a terminal: $(cat "$WORK/tty")"
[ -s "$WORK/tick.pub" ] || fail "key gen on a terminal made no key"
run_ok p11ca key gen --pin-file "$PIN_FILE" --token "$TOK" --label quiet --type ec:p256
grep -q "generating" "$WORK/err" && fail "key gen showed progress in a pipe"
# two batches of 20 CSRs of their own (software keys): a subject and key
# with a valid certificate are not issued again
i=0
while [ $i -lt 40 ]; do
	OPENSSL_CONF=/dev/null openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout /dev/null -subj "/CN=b$i.example.com" -addext "subjectAltName=DNS:b$i.example.com" \
		-out "$WORK/batch-$((i / 20))-$i.csr" 2> /dev/null || fail "openssl req (batch CSR $i)"
	i=$((i + 1))
done
on_tty "$P11CA" ca sign --module "$MODULE" --pin-file "$PIN_FILE" --dir "$WORK/ca" --days 5 \
	--out "$WORK/batch.pem" "$WORK"/batch-0-*.csr
for s in "checked 20 of 20 CSRs" "signed 20 of 20 CSRs" "recorded 20 of 20 CSRs"; do
	grep -q "$s" "$WORK/tty" || fail "ca sign showed no '$s' on a terminal: $(cat "$WORK/tty")"
done
[ "$(grep -c "BEGIN CERTIFICATE" "$WORK/batch.pem")" -eq 20 ] || fail "the batch was not issued"
run_ok p11ca ca sign --pin-file "$PIN_FILE" --dir "$WORK/ca" --days 5 --out "$WORK/batch.pem" \
	"$WORK"/batch-1-*.csr
[ -s "$WORK/err" ] && fail "ca sign showed progress in a pipe: $(cat "$WORK/err")"

step "bash completion"
# complete WORDS...: what _p11ca offers for the last word
complete_words() {
	bash -c '. "$1/tools/cli/bash-completion/p11ca"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _p11ca
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' sh "$top_srcdir" "$P11CA" "$@"
}
expect_completion() {
	_want=$1
	shift
	_got=$(complete_words "$@")
	[ "$_got" = "$_want " ] || fail "completing '$*': '$_got', want '$_want'"
}
expect_completion "ca cert crl csr key serve tls token trust verify" ""
expect_completion "ca cert crl csr" c
expect_completion "show" crl s
expect_completion "--crl-store" crl list --crl
expect_completion "fetch" crl f
expect_completion "--crl-store" crl fetch --crl
expect_completion "set-cert show sign" ca s
expect_completion "responder revoke" ca r
expect_completion "--nonce" serve --non
expect_completion "--profile" ca sign --pro
expect_completion "ocsp" ca sign --profile o
expect_completion "server server,client" csr --eku se
expect_completion "ec:p256 ec:p384 ec:p521" key gen --type ec
expect_completion "--cluster" csr --cl
expect_completion "probe" tls p
expect_completion "not-revoked revoked" tls probe --fallback ""
expect_completion "crl,ocsp" verify --revocation crl,
expect_completion "not-revoked" verify x.pem --fallback n
expect_completion "--check-anchor" verify --check
mkdir "$WORK/cadir" "$WORK/cadir2"
expect_completion "$WORK/cadir $WORK/cadir2" ca sign --dir "$WORK/cad"
expect_completion "$WORK/cadir $WORK/cadir2" crl list --crl-store "$WORK/cad"
complete_words key gen - | grep -q -- "--module --pin-file .*--token" ||
	fail "completing 'key gen -': $(complete_words key gen -)"
