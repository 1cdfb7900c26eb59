#!/bin/sh
# provider-tls.sh - TLS with token keys through the p11ca provider:
# openssl s_server -key pkcs11:... with RSA and EC keys, TLS 1.2 and 1.3,
# against an s_client without p11ca; TLS 1.2 with the plain RSA key exchange
# (the token decrypts the premaster secret); mutual TLS with the client key
# on the token; and s_server given a PEM certificate plus a token key that
# has no public-key object.  A handshake counts only when s_client verified
# the server, the protocol is the one asked for, and the page s_server -www
# sends back arrived.
. "$top_srcdir/tests/provider-lib.sh"

command -v timeout > /dev/null 2>&1 || skip "no timeout command"

keygen rsa rsa:2048 --decrypt
keygen ec256 ec:p256
keygen ed ed25519
ku=digitalSignature,keyEncipherment,keyCertSign selfsign rsa localhost -addext subjectAltName=DNS:localhost
ku=digitalSignature,keyCertSign selfsign ec256 localhost -addext subjectAltName=DNS:localhost
ku=digitalSignature,keyCertSign selfsign ed localhost -addext subjectAltName=DNS:localhost

# server_case LABEL WHAT PROTOCOL CIPHER|"" PEER-SIG|"" [s_client options...]
server_case() {
	l=$1
	what=$2
	proto=$3
	cipher=$4
	peersig=$5
	shift 5
	serve "$cnf" -key "$(key "$l")" -cert "$dir/$l.crt"
	fetch /dev/null "$what" -CAfile "$dir/$l.crt" -verify_hostname localhost "$@"
	tls_check "$what" "$proto" "$cipher"
	[ -z "$peersig" ] || expect_in "$dir/cli.log" "^Peer signature type: $peersig\$" "$what: signature"
	ok "s_server -key pkcs11: $what"
}
server_case rsa "RSA, TLS 1.3" TLSv1.3 "" RSA-PSS -tls1_3
server_case rsa "RSA, TLS 1.2, ECDHE, PSS" TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 RSA-PSS -tls1_2 \
	-cipher ECDHE-RSA-AES128-GCM-SHA256
server_case rsa "RSA, TLS 1.2, ECDHE, PKCS#1 v1.5" TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384 RSA -tls1_2 \
	-cipher ECDHE-RSA-AES256-GCM-SHA384 -sigalgs RSA+SHA256
server_case rsa "RSA, TLS 1.2, RSA key exchange" TLSv1.2 AES128-GCM-SHA256 "" -tls1_2 \
	-cipher AES128-GCM-SHA256
server_case ec256 "EC P-256, TLS 1.3" TLSv1.3 "" ECDSA -tls1_3
server_case ec256 "EC P-256, TLS 1.2" TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 ECDSA -tls1_2
server_case ed "Ed25519, TLS 1.3" TLSv1.3 "" ed25519 -tls1_3

# the check can fail: a client that trusts another certificate refuses
serve "$cnf" -key "$(key ec256)" -cert "$dir/ec256.crt"
printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null timeout 30 openssl s_client \
	-connect "127.0.0.1:$port" -verify_return_error -CAfile "$dir/rsa.crt" > "$dir/cli.log" 2>&1 &&
	fail "s_client accepted a server it does not trust"
wait "$srv_pid" || true
if grep -q "HTTP/1.0 200 ok" "$dir/cli.log"; then
	fail "s_client got a page from a server it does not trust"
fi
ok "an untrusted server is refused (the checks can fail)"

# ---- mutual TLS: the client's key is on the token ----
run "server key" plain req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$dir/srv.key" -subj /CN=localhost -days 2 -out "$dir/srv.crt"
client_case() { # LABEL WHAT PROTOCOL
	serve /dev/null -key "$dir/srv.key" -cert "$dir/srv.crt" -Verify 1 -verify_return_error \
		-CAfile "$dir/$1.crt"
	fetch "$cnf" "$2" -CAfile "$dir/srv.crt" -key "$(key "$1")" -cert "$dir/$1.crt" "$4"
	tls_check "$2" "$3"
	# the page s_server sends shows the client certificate it verified
	expect_in "$dir/cli.log" "Client certificate" "$2: no client certificate on the server's page"
	# ... and it is the token key's certificate
	sed -n '/Client certificate/,$p' "$dir/cli.log" | sed -n '/BEGIN CERT/,/END CERT/p' > "$dir/peer.pem"
	plain x509 -in "$dir/$1.crt" > "$dir/want.pem"
	cmp -s "$dir/peer.pem" "$dir/want.pem" || fail "$2: the server saw another client certificate"
	expect_in "$dir/srv.log" "^verify return:1" "$2: server-side verification"
	ok "mutual TLS, client key on the token: $2"
}
client_case ec256 "EC P-256 client, TLS 1.3" TLSv1.3 -tls1_3
client_case ec256 "EC P-256 client, TLS 1.2" TLSv1.2 -tls1_2
client_case rsa "RSA client, TLS 1.3" TLSv1.3 -tls1_3
client_case rsa "RSA client, TLS 1.2" TLSv1.2 -tls1_2
# the check can fail: without a client certificate the server refuses
serve /dev/null -key "$dir/srv.key" -cert "$dir/srv.crt" -Verify 1 -verify_return_error \
	-CAfile "$dir/ec256.crt"
printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null timeout 30 openssl s_client \
	-connect "127.0.0.1:$port" -CAfile "$dir/srv.crt" -ign_eof > "$dir/cli.log" 2>&1 || true
wait "$srv_pid" || true
if grep -q "HTTP/1.0 200 ok" "$dir/cli.log"; then
	fail "the server answered a client without a certificate"
fi
ok "a client without a certificate is refused (the checks can fail)"

# ---- a token key without a public-key object, with a PEM certificate ----
keygen nopub ec:p256
ku=digitalSignature,keyCertSign selfsign nopub localhost -addext subjectAltName=DNS:localhost
run "delete the public-key object" "$P11CA" key delete --yes --module "$module" --pin-file "$pin_file" \
	"$tok;object=nopub;type=public"
run "key list" "$P11CA" key list --module "$module" --token "$tok" --pin-file "$pin_file"
expect_in "$dir/out" "^private .* nopub " "the private key is still there"
if grep -q "^public .* nopub " "$dir/out"; then
	fail "the public-key object of nopub is still there"
fi
# nothing else on the token gives its public key away
run_fails "pkey -pubin of a key without public half" p11 pkey -pubin -in "$(key nopub)" -pubout
for p in 1.3 1.2; do
	serve "$cnf" -key "$(key nopub)" -cert "$dir/nopub.crt"
	fetch /dev/null "no public-key object, TLS $p" -CAfile "$dir/nopub.crt" -verify_hostname localhost \
		"-tls$(echo $p | tr . _)"
	tls_check "no public-key object, TLS $p" "TLSv$p"
	ok "s_server with a PEM certificate and a token key without public-key object: TLS $p"
done
# the check can fail: a certificate for another key is refused
run_fails "s_server with a certificate that is not the key's" timeout 30 env OPENSSL_CONF="$cnf" \
	openssl s_server -accept 127.0.0.1:0 -naccept 1 -key "$(key nopub)" -cert "$dir/ec256.crt"
expect_in "$dir/out" "[Kk]ey values mismatch|private key does not match" \
	"s_server with a mismatched certificate"
ok "s_server refuses a certificate that does not match the token key"

done_ok
