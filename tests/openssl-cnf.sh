# openssl-cnf.sh - openssl.cnf files for the p11ca provider and for libp11's
# pkcs11 engine, written the same way by the tests, the benchmarks and the
# demo (sourced, not run).

# openssl_cnf_provider PROVIDER_SO MODULE [PIN_FILE]: on standard output, a
# configuration loading the default and p11ca providers for MODULE; the PIN
# from PIN_FILE (without it, from P11CA_PIN).
openssl_cnf_provider() {
	cat << CNF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
p11ca = p11ca_sect
[default_sect]
activate = 1
[p11ca_sect]
module = $1
p11ca-module = $2
CNF
	[ -z "${3:-}" ] || echo "p11ca-pin-file = $3"
	echo "p11ca-pin-prompt = no"
	echo "activate = 1"
}

# openssl_cnf_engine ENGINE_SO MODULE PIN_FILE: on standard output, a
# configuration loading libp11's pkcs11 engine for MODULE.  The engine takes
# the PIN itself, not a file: write the output with umask 077.
openssl_cnf_engine() {
	cat << CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_sect
[engine_sect]
pkcs11 = pkcs11_sect
[pkcs11_sect]
engine_id = pkcs11
dynamic_path = $1
MODULE_PATH = $2
PIN = $(cat "$3")
init = 0
CNF
}
