/*
 * cmd-tls-out.c - p11ca tls probe's output: what the peer sent (the
 * chain, protocol, cipher, stapled OCSP), the verdict per element and the
 * diagnoses, as text or as one JSON object.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/ocsp.h>

#include "ca.h"
#include "cmd-cert.h"
#include "cmd-tls.h"
#include "result.h"

/* What a stapled OCSP response says (its signature is not checked here). */
struct staple {
	const char *status;      /* responseStatus */
	const char *cert_status; /* the leaf's: good, revoked, unknown; NULL: no answer */
	char produced[PKI_TIME_ISO_MAX];
};

static int staple_read(const struct tls_probe *p, struct staple *s)
{
	const unsigned char *der = p->res->ocsp;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *b = NULL;
	OCSP_CERTID *id = NULL;
	int st = -1, reason;
	X509 *leaf, *issuer = NULL;

	memset(s, 0, sizeof(*s));
	if (der == NULL)
		return 0;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &der, (long)p->res->ocsp_len)) == NULL) {
		s->status = "malformed";
		return 1;
	}
	s->status = OCSP_response_status_str(OCSP_response_status(resp));
	if ((b = OCSP_response_get1_basic(resp)) != NULL) {
		pki_time_iso(pki_asn1_time_get(OCSP_resp_get0_produced_at(b)), s->produced);
		leaf = sk_X509_value(p->res->peer, 0);
		if (p->verdict != NULL && p->verdict->chain->n > 1)
			issuer = p->verdict->chain->elems[1].cert;
		else if (sk_X509_num(p->res->peer) > 1)
			issuer = sk_X509_value(p->res->peer, 1);
		if (leaf != NULL && issuer != NULL &&
		    (id = OCSP_cert_to_id(NULL, leaf, issuer)) != NULL &&
		    OCSP_resp_find_status(b, id, &st, &reason, NULL, NULL, NULL) == 1)
			s->cert_status = OCSP_cert_status_str(st);
	}
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(b);
	OCSP_RESPONSE_free(resp);
	return 1;
}

/* The verdict's line for element @i: "chain ok" or its problems; revocation. */
static void elem_problems(const struct pki_chain_elem *e, char *out, size_t cap)
{
	size_t at = 0;
	unsigned bit;

	out[0] = '\0';
	for (bit = 1; bit != 0 && at < cap; bit <<= 1)
		if (e->flags & bit)
			at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "",
			                       pki_elem_flag_name(bit));
	if (out[0] == '\0')
		snprintf(out, cap, "chain ok");
}

static void rev_text(const struct rev_elem_report *e, char *out, size_t cap)
{
	char when[PKI_TIME_ISO_MAX] = "";
	const char *reason = e->reason >= 0 ? ca_reason_name(e->reason) : NULL;

	if (e->state == REV_STATE_REVOKED) {
		if (e->revoked_at > 0)
			pki_time_iso(e->revoked_at, when);
		snprintf(out, cap, "revoked (%s%s%s)", reason != NULL ? reason : "unspecified",
		         when[0] ? ", " : "", when);
	} else
		snprintf(out, cap, "%s", rev_state_name(e->state));
}

int tls_print_text(const struct tls_probe *p)
{
	const struct rev_probe_result *r = p->res;
	struct staple s;
	char prob[512], rev[256], *subj;
	time_t now = time(NULL);
	size_t i;
	int k;

	if (p->fit)
		printf("%s: fit\n", p->target);
	else
		printf("%s: not fit: %s\n", p->target,
		       p->ndiags > 0 ? p->diags[0].text : "the handshake failed");
	printf("  address:      %s\n", r->address);
	if (r->handshake_ok)
		printf("  protocol:     %s, cipher %s\n", r->protocol, r->cipher);
	else
		printf("  handshake:    failed: %s\n", r->error);
	printf("  server name:  %s\n", p->servername != NULL ? p->servername : "(no SNI)");
	printf("  checked name: %s\n", p->peer_name);
	printf("  client cert:  %s\n", !r->cert_requested ? "not asked for"
	                               : r->cert_sent     ? "asked for, sent"
	                                                  : "asked for, none sent");
	if (staple_read(p, &s))
		printf("  stapled OCSP: %s%s%s%s%s (signature not checked here)\n", s.status,
		       s.cert_status != NULL ? ", leaf " : "",
		       s.cert_status != NULL ? s.cert_status : "",
		       s.produced[0] ? ", produced " : "", s.produced);
	else
		printf("  stapled OCSP: none\n");
	printf("  peer chain:   %d certificate%s sent\n", sk_X509_num(r->peer),
	       sk_X509_num(r->peer) == 1 ? "" : "s");
	for (k = 0; k < sk_X509_num(r->peer); k++) {
		struct cert_info ci;
		size_t j;
		if (!cert_info_get(sk_X509_value(r->peer, k), now, &ci)) {
			cert_info_free(&ci);
			return TOOL_EXIT_FAIL;
		}
		printf("  [%d] subject:  %s\n", k, ci.subject);
		printf("      issuer:   %s\n", ci.issuer);
		printf("      serial:   %s\n", ci.serial);
		printf("      validity: %s to %s (%s)\n", ci.not_before, ci.not_after, ci.status);
		printf("      key:      %s, %d bits\n", ci.key, ci.bits);
		printf("      EKU:     ");
		for (j = 0; j < ci.eku.n; j++)
			printf("%s%s", j ? ", " : " ", ci.eku.v[j]);
		printf("%s\n", ci.has_eku ? "" : " (none)");
		printf("      SANs:    ");
		for (j = 0; j < ci.sans.n; j++)
			printf("%s%s", j ? ", " : " ", ci.sans.v[j]);
		printf("%s\n", ci.sans.n ? "" : " (none)");
		cert_info_free(&ci);
	}
	if (p->verdict != NULL) {
		printf("  verdict:      %s%s\n", p->verdict->fit ? "fit" : "not fit",
		       p->verdict->fallback_used ? " (fallback used)" : "");
		for (i = 0; i < p->verdict->chain->n; i++) {
			const struct pki_chain_elem *e = &p->verdict->chain->elems[i];
			subj = NULL;
			(void)pki_name_oneline(X509_get_subject_name(e->cert), &subj);
			elem_problems(e, prob, sizeof(prob));
			rev_text(&p->verdict->elems[i], rev, sizeof(rev));
			printf("    [%zu] %s: %s%s; revocation %s\n", i, subj != NULL ? subj : "?",
			       prob, e->trusted ? " (trust anchor)" : "", rev);
			free(subj);
		}
	}
	for (i = 0; i < p->ndiags; i++)
		printf("  problem: %s\n", p->diags[i].text);
	return fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}

/* Sets @key of @obj to @v (taken); 0 when out of memory. */
static int put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static json_t *jstr_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *cert_json(X509 *x)
{
	struct cert_info ci;
	json_t *o = NULL;

	if (cert_info_get(x, time(NULL), &ci) && (o = json_object()) != NULL &&
	    !(put(o, "subject", json_string(ci.subject)) &&
	      put(o, "issuer", json_string(ci.issuer)) &&
	      put(o, "serial", json_string(ci.serial)) &&
	      put(o, "not_before", json_string(ci.not_before)) &&
	      put(o, "not_after", json_string(ci.not_after)) &&
	      put(o, "status", json_string(ci.status)) && put(o, "key_type", json_string(ci.key)) &&
	      put(o, "key_bits", json_integer(ci.bits)) &&
	      put(o, "extended_key_usage", cert_json_strs(&ci.eku)) &&
	      put(o, "subject_alt_names", cert_json_strs(&ci.sans)))) {
		json_decref(o);
		o = NULL;
	}
	cert_info_free(&ci);
	return o;
}

static json_t *verdict_json(const struct rev_report *v)
{
	json_t *o = json_object(), *chain = json_array();
	size_t i;
	unsigned bit;

	if (o == NULL || chain == NULL || !put(o, "fit", json_boolean(v->fit)) ||
	    !put(o, "fallback_used", json_boolean(v->fallback_used)))
		goto oom;
	for (i = 0; i < v->chain->n; i++) {
		const struct pki_chain_elem *e = &v->chain->elems[i];
		const struct rev_elem_report *re = &v->elems[i];
		json_t *el = json_object(), *probs = json_array(), *rev = json_object();
		char *subj = NULL, *iss = NULL, serial[PKI_SERIAL_MAX] = "", when[PKI_TIME_ISO_MAX];
		int ok;

		(void)pki_name_oneline(X509_get_subject_name(e->cert), &subj);
		(void)pki_name_oneline(X509_get_issuer_name(e->cert), &iss);
		(void)pki_serial_of(X509_get0_serialNumber(e->cert), serial);
		for (bit = 1; bit != 0 && probs != NULL; bit <<= 1)
			if ((e->flags & bit) &&
			    json_array_append_new(probs, json_string(pki_elem_flag_name(bit))) != 0)
				break;
		pki_time_iso(re->revoked_at, when);
		ok = el != NULL && probs != NULL && rev != NULL &&
		     put(rev, "state", json_string(rev_state_name(re->state))) &&
		     put(rev, "reason",
		         re->state == REV_STATE_REVOKED && re->reason >= 0
		             ? jstr_or_null(ca_reason_name(re->reason))
		             : json_null()) &&
		     put(rev, "revoked_at", re->revoked_at > 0 ? json_string(when) : json_null()) &&
		     put(rev, "decided_by", jstr_or_null(re->decided_by)) &&
		     put(el, "subject", jstr_or_null(subj)) &&
		     put(el, "issuer", jstr_or_null(iss)) &&
		     put(el, "serial", jstr_or_null(serial)) &&
		     put(el, "trusted", json_boolean(e->trusted)) && put(el, "problems", probs) &&
		     put(el, "revocation", rev) && json_array_append_new(chain, el) == 0;
		free(subj);
		free(iss);
		if (!ok) {
			json_decref(el);
			goto oom;
		}
	}
	if (put(o, "chain", chain))
		return o;
	chain = NULL;
oom:
	json_decref(chain);
	json_decref(o);
	return NULL;
}

int tls_print_json(const struct tls_probe *p)
{
	const struct rev_probe_result *r = p->res;
	json_t *o = json_object(), *chain = json_array(), *diags = json_array(), *st = NULL, *v;
	struct staple s;
	size_t i;
	int k, ret = TOOL_EXIT_FAIL;

	if (o == NULL || chain == NULL || diags == NULL)
		goto out;
	for (k = 0; k < sk_X509_num(r->peer); k++)
		if ((v = cert_json(sk_X509_value(r->peer, k))) == NULL ||
		    json_array_append_new(chain, v) != 0)
			goto out;
	for (i = 0; i < p->ndiags; i++) {
		json_t *d = json_object();
		if (d == NULL || !put(d, "code", json_string(p->diags[i].code)) ||
		    !put(d, "text", json_string(p->diags[i].text)) ||
		    json_array_append_new(diags, d) != 0) {
			json_decref(d);
			goto out;
		}
	}
	if (staple_read(p, &s)) {
		if ((st = json_object()) == NULL || !put(st, "status", json_string(s.status)) ||
		    !put(st, "cert_status", jstr_or_null(s.cert_status)) ||
		    !put(st, "produced_at", jstr_or_null(s.produced)))
			goto out;
	} else
		st = json_null();
	v = p->verdict != NULL ? verdict_json(p->verdict) : json_null();
	/* json_object_set_new takes each value, also when it fails */
	k = put(o, "chain", chain);
	k = put(o, "stapled_ocsp", st) && k;
	k = put(o, "verdict", v) && k;
	k = put(o, "problems", diags) && k;
	chain = st = diags = NULL;
	if (!k || !put(o, "target", json_string(p->target)) ||
	    !put(o, "address", json_string(r->address)) ||
	    !put(o, "servername", jstr_or_null(p->servername)) ||
	    !put(o, "name", json_string(p->peer_name)) || !put(o, "fit", json_boolean(p->fit)) ||
	    !put(o, "handshake", json_boolean(r->handshake_ok)) ||
	    !put(o, "error", jstr_or_null(r->handshake_ok ? NULL : r->error)) ||
	    !put(o, "protocol", jstr_or_null(r->protocol)) ||
	    !put(o, "cipher", jstr_or_null(r->cipher)) ||
	    !put(o, "client_certificate_requested", json_boolean(r->cert_requested)) ||
	    !put(o, "client_certificate_sent", json_boolean(r->cert_sent)) ||
	    !put(o, "alert", jstr_or_null(r->alert >= 0 ? r->alert_text : NULL)))
		goto out;
	if (json_dumpf(o, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF &&
	    fflush(stdout) == 0)
		ret = TOOL_EXIT_OK;
out:
	if (ret != TOOL_EXIT_OK)
		tool_errorf("out of memory");
	json_decref(st);
	json_decref(chain);
	json_decref(diags);
	json_decref(o);
	return ret;
}
