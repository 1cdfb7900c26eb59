#!/bin/sh
# pin-cli.sh - where the p11ca command takes a PIN from, and that it never
# shows one.  A pin-value in any argument, however mutated (after ';', in a
# pin-source, behind a mistyped scheme, its name encoded), is refused before
# anything runs, and the PIN is in neither stdout nor stderr.  PIN files that
# are FIFOs, devices or too big are refused at once (no hang); one others
# may read gets a warning.  With -v, csr, ca init/sign/revoke/crl and cert
# install print no PIN, whether it came from a file or from P11CA_PIN.
. "$top_srcdir/tests/lib.sh"
lib_init pin-cli
new_token pin
TOK="pkcs11:token=pin"

# no_pin WHAT SECRET...: none of the SECRETs in $WORK/out or $WORK/err
no_pin() {
	_what=$1
	shift
	for _s in "$@"; do
		if grep -qF -- "$_s" "$WORK/out" "$WORK/err"; then
			cat "$WORK/out" "$WORK/err" >&2
			fail "$_what shows the PIN '$_s'"
		fi
	done
}

# refused SECRET CMD...: CMD exits 2 naming the safe PIN sources, SECRET unseen
refused() {
	_secret=$1
	shift
	expect_fail 2 "a PIN is never a command-line argument.*pin-source=file:.*--pin-file.*P11CA_PIN" \
		"$@"
	one_line "$WORK/err"
	[ -s "$WORK/out" ] && fail "a refusal wrote to stdout: $(cat "$WORK/out")"
	no_pin "$*" "$_secret"
}

run_ok "$P11CA" key gen --module "$MODULE" --pin-file "$PIN_FILE" --token "$TOK" \
	--label k --type ec:p256
KEY="$TOK;object=k"

# ---------------------------------------------------------------------
step "a pin-value on the command line: refused, the PIN never shown"
S=Zq7-s3cret-PIN
# the four the attack run found
refused "$S" "$P11CA" key list --module "$MODULE" --token "$TOK?module-name=softhsm2;pin-value=$S"
refused "$S" "$P11CA" key list --module "$MODULE" \
	--token "$TOK?pin-source=file:$WORK/none;pin-value=$S"
refused "$S" "$P11CA" key list --module "$MODULE" --token "pkcs11;token=pin?pin-value=$S"
refused "$S" "$P11CA" cert check --key "pkcs11token=r?pin-value=$S" "$WORK/none.pem"
# the token's real PIN, as RFC 7512 writes it: refused all the same
refused "$PIN" "$P11CA" key list --module "$MODULE" --token "$TOK?pin-value=$PIN"
refused "$PIN" "$P11CA" csr --module "$MODULE" --key "$KEY?pin-value=$PIN" --fqdn a.example.com
# mutations (tests/test-uri and tests/test-cli-util try tens of thousands):
# the name's spelling, what is around it, the verb, where the argument is
# (the long option's "=" form, after "--")
for pre in "$TOK?" "$TOK?module-name=m&" "$TOK;" "pkcs11:" "pkcs11;token=pin?" "PKCS11:token=pin?" \
	"file:$WORK/p;" "$WORK/" "x"; do
	for name in pin-value PIN-VALUE pin%2Dvalue; do
		refused "$S" "$P11CA" key list --module "$MODULE" --token "$pre$name=$S;x'y"
	done
	refused "$S" "$P11CA" key sign --module "$MODULE" "--key=$pre%70in-valu%65%3D$S" --in /dev/null
	refused "$S" "$P11CA" ca sign --module "$MODULE" --dir "$WORK/ca" -- "${pre}pin-value=$S&x"
	refused "$S" "$P11CA" cert install --module "$MODULE" --key "${pre}pin-value=$S" x.pem
done

# ---------------------------------------------------------------------
step "PIN files: a FIFO, a device, a huge file are refused at once"
mkfifo "$WORK/fifo"
head -c 300000 /dev/zero | tr '\0' 7 > "$WORK/big.pin"
chmod 600 "$WORK/big.pin"
for f in "$WORK/fifo" /dev/zero "$WORK/big.pin"; do
	case "$f" in
	*big.pin) why="too long" ;;
	*) why="not a regular file" ;;
	esac
	# through libp11ca (--pin-file, and the URI's pin-source) and the provider (csr)
	expect_fail 1 "PIN file $f is $why" timeout 20 "$P11CA" key list --module "$MODULE" \
		--token "$TOK" --pin-file "$f"
	one_line "$WORK/err"
	expect_fail 1 "PIN file $f is $why" timeout 20 "$P11CA" key list --module "$MODULE" \
		--token "$TOK?pin-source=file:$f"
	expect_fail 1 "PIN file $f is $why" timeout 20 "$P11CA" csr --module "$MODULE" \
		--pin-file "$f" --key "$KEY" --fqdn a.example.com --out "$WORK/x.csr"
	[ -e "$WORK/x.csr" ] && fail "a CSR was written without a PIN"
done

# ---------------------------------------------------------------------
step "a PIN file others may read: a warning, and the command works"
cp "$PIN_FILE" "$WORK/open.pin"
for mode in 644 640 606; do
	chmod "$mode" "$WORK/open.pin"
	run_ok "$P11CA" key list --module "$MODULE" --token "$TOK" --pin-file "$WORK/open.pin"
	grep -q "^p11ca: warning: PIN file $WORK/open.pin is \(readable\|writable\) by .*(mode 0$mode): chmod 600 it$" \
		"$WORK/err" || fail "mode $mode: no warning: $(cat "$WORK/err")"
	grep -q "pkcs11:.*object=k" "$WORK/out" || fail "mode $mode: key list failed"
	run_ok "$P11CA" key list --module "$MODULE" --token "$TOK?pin-source=file:$WORK/open.pin"
	grep -q "warning: PIN file $WORK/open.pin is" "$WORK/err" ||
		fail "mode $mode, pin-source: no warning: $(cat "$WORK/err")"
	no_pin "the warning" "$PIN"
done
# through the provider (csr, ca, cert check/install)
run_ok "$P11CA" csr --module "$MODULE" --pin-file "$WORK/open.pin" --key "$KEY" \
	--fqdn a.example.com --out "$WORK/w.csr"
grep -q "warning: PIN file $WORK/open.pin is writable by others (mode 0606)" \
	"$WORK/err" || fail "csr: no warning: $(cat "$WORK/err")"
chmod 600 "$WORK/open.pin"
run_ok "$P11CA" key list --module "$MODULE" --token "$TOK" --pin-file "$WORK/open.pin"
[ -s "$WORK/err" ] && fail "mode 600: $(cat "$WORK/err")"

# ---------------------------------------------------------------------
step "-v: csr, ca and cert install never print the PIN"
# from the PIN file, then from the environment
for src in file env; do
	if [ $src = file ]; then
		set -- --pin-file "$PIN_FILE"
	else
		set --
		P11CA_PIN=$PIN
		export P11CA_PIN
	fi
	D=$WORK/v-$src
	mkdir -p "$D"
	run_ok "$P11CA" csr -v --module "$MODULE" "$@" --key "$KEY" --fqdn srv.example.com \
		--out "$D/srv.csr"
	no_pin "csr -v ($src)" "$PIN"
	grep -q "^p11ca: " "$WORK/err" || fail "csr -v printed nothing"
	run_ok "$P11CA" csr -v --module "$MODULE" "$@" --new-key ec:p256 --token "$TOK" \
		--label "new-$src" --fqdn new.example.com --out "$D/new.csr"
	no_pin "csr --new-key -v ($src)" "$PIN"
	run_ok "$P11CA" ca init -v --module "$MODULE" "$@" --dir "$D/ca" --new-key ec:p256 \
		--token "$TOK" --label "root-$src" --subject "/CN=Root $src"
	no_pin "ca init -v ($src)" "$PIN"
	run_ok "$P11CA" ca sign -v --module "$MODULE" "$@" --dir "$D/ca" --out "$D/srv.pem" \
		"$D/srv.csr"
	no_pin "ca sign -v ($src)" "$PIN"
	openssl verify -CAfile "$D/ca/ca.pem" "$D/srv.pem" > /dev/null || fail "ca sign ($src)"
	run_ok "$P11CA" cert install -v --module "$MODULE" "$@" --key "$KEY" "$D/srv.pem"
	no_pin "cert install -v ($src)" "$PIN"
	SERIAL=$(openssl x509 -in "$D/srv.pem" -noout -serial | sed 's/^serial=//')
	run_ok "$P11CA" ca revoke -v --module "$MODULE" "$@" --dir "$D/ca" --serial "$SERIAL"
	no_pin "ca revoke -v ($src)" "$PIN"
	run_ok "$P11CA" ca crl -v --module "$MODULE" "$@" --dir "$D/ca" --pem --out "$D/ca.crl"
	no_pin "ca crl -v ($src)" "$PIN"
	openssl crl -in "$D/ca.crl" -CAfile "$D/ca/ca.pem" -noout > /dev/null 2>&1 ||
		fail "ca crl ($src) does not verify"
	# a wrong PIN: refused, and neither PIN is shown
	echo "Wr0ng-$PIN" > "$WORK/wrong.pin"
	chmod 600 "$WORK/wrong.pin"
	expect_fail 1 "." env -u P11CA_PIN "$P11CA" ca crl -v --module "$MODULE" \
		--pin-file "$WORK/wrong.pin" --dir "$D/ca" --out "$D/wrong.crl"
	no_pin "ca crl -v, wrong PIN ($src)" "$PIN"
done
unset P11CA_PIN
exit 0
