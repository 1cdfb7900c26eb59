/*
 * http.c - HTTP(S) GET and POST through libcurl, bounded (see http.h).
 */
#include "config.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "result.h"

void rev_limits_default(struct rev_limits *l)
{
	l->max_download = (size_t)256 << 20;
	l->max_unpacked = (size_t)1 << 30;
	l->max_ratio = 200;
	l->max_members = 1000;
	l->timeout_ms = 120000;
	l->connect_timeout_ms = 10000;
	l->max_redirects = 5;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct body {
	CURL *curl;
	unsigned char *p;
	size_t len, cap, max;
	int over; /* the response passed max */
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	size_t add = size * n;

	if (add > b->max - b->len) {
		b->over = 1;
		return 0; /* curl stops: CURLE_WRITE_ERROR */
	}
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		curl_off_t cl = -1;
		unsigned char *p;

		/* the size the server announced, at once: growing a 45 MB CRL by
		   doubling peaked at 1.5 times its size (bench/crl-bench.sh) */
		if (b->cap == 0 &&
		    curl_easy_getinfo(b->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) ==
		        CURLE_OK &&
		    cl > 0 && (curl_off_t)b->max >= cl)
			cap = (size_t)cl + 1;

		while (cap < b->len + add + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

struct headers {
	char *etag, *last_modified;
};

/* One header value, trimmed, copied (a later one replaces: redirects). */
static void header_take(char **slot, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n > 1024)
		return; /* nobody needs a longer one: ignore */
	free(*slot);
	*slot = strndup(v, n);
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct headers *h = ctx;
	size_t len = size * n;

	if (len > 5 && strncasecmp(data, "ETag:", 5) == 0)
		header_take(&h->etag, data + 5, len - 5);
	else if (len > 14 && strncasecmp(data, "Last-Modified:", 14) == 0)
		header_take(&h->last_modified, data + 14, len - 14);
	else if (len > 5 && strncasecmp(data, "HTTP/", 5) == 0) {
		/* a new response (after a redirect): forget the earlier one's */
		free(h->etag);
		free(h->last_modified);
		h->etag = h->last_modified = NULL;
	}
	return len;
}

void rev_http_resp_clear(struct rev_http_resp *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	free(r->content_type);
	free(r->final_url);
	memset(r, 0, sizeof(*r));
}

static int url_scheme_ok(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* A URL fit for a message: no userinfo, at most 200 bytes. */
static void url_for_message(const char *url, char *out, size_t cap)
{
	const char *at = strchr(url, '@'), *slash = strstr(url, "://");

	if (slash != NULL && at != NULL &&
	    (strchr(slash + 3, '/') == NULL || at < strchr(slash + 3, '/')))
		snprintf(out, cap, "%.*s%.200s", (int)(slash + 3 - url), url, at + 1);
	else
		snprintf(out, cap, "%.200s", url);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

int rev_http(const struct rev_http_req *req, struct rev_http_resp *resp)
{
	struct rev_limits defaults;
	const struct rev_limits *lim = req->limits;
	struct body b = { 0 };
	struct headers h = { 0 };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", shown[256], line[1200];
	CURL *c = NULL;
	CURLcode cc;
	char *ct = NULL, *eff = NULL;
	int rc = RES_FAIL;

	memset(resp, 0, sizeof(*resp));
	if (lim == NULL) {
		rev_limits_default(&defaults);
		lim = &defaults;
	}
	if (req->url == NULL || !url_scheme_ok(req->url)) {
		url_for_message(req->url ? req->url : "(none)", shown, sizeof(shown));
		return res_set(RES_BAD_INPUT, "%s: only http:// and https:// URLs are fetched",
		               shown);
	}
	url_for_message(req->url, shown, sizeof(shown));
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return res_set(RES_FAIL, "libcurl could not be initialised");
	if ((c = curl_easy_init()) == NULL)
		return res_set(RES_NOMEM, "libcurl: out of memory");

	b.max = lim->max_download;
	b.curl = c;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, lim->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, lim->max_redirects);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, lim->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, lim->connect_timeout_ms);
	/* no proxy from the environment unless the user set one: curl reads
	   http_proxy etc. itself, which is what an admin behind a proxy expects */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)lim->max_download);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "p11ca/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING,
	                 NULL); /* bytes as served: no transparent gzip */
	if (req->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
	if (req->accept != NULL) {
		snprintf(line, sizeof(line), "Accept: %.1000s", req->accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (req->etag != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %.1000s", req->etag);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (req->last_modified != NULL) {
		snprintf(line, sizeof(line), "If-Modified-Since: %.1000s", req->last_modified);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (req->post_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %.1000s", req->post_type);
		hdrs = curl_slist_append(hdrs, line);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->post_len);
	}
	if (hdrs != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (b.over || cc == CURLE_FILESIZE_EXCEEDED)
			rc = res_set(RES_LIMIT, "%s: response larger than %zu bytes: refused",
			             shown, lim->max_download);
		else if (cc == CURLE_OPERATION_TIMEDOUT)
			rc = res_set(RES_LIMIT, "%s: no complete answer within %ld ms", shown,
			             lim->timeout_ms);
		else if (cc == CURLE_TOO_MANY_REDIRECTS)
			rc = res_set(RES_LIMIT, "%s: more than %ld redirects", shown,
			             lim->max_redirects);
		else if (cc == CURLE_UNSUPPORTED_PROTOCOL)
			rc = res_set(RES_POLICY, "%s: redirected to a scheme other than http/https",
			             shown);
		else
			rc = res_set(RES_NETWORK, "%s: %s", shown,
			             errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
		resp->content_type = strdup(ct);
	if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff != NULL)
		resp->final_url = strdup(eff);
	resp->body = b.p;
	resp->len = b.len;
	resp->etag = h.etag;
	resp->last_modified = h.last_modified;
	b.p = NULL;
	h.etag = h.last_modified = NULL;
	rc = RES_OK;
out:
	free(b.p);
	free(h.etag);
	free(h.last_modified);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}
