/* unit-helpers.c - shared by the cmocka unit tests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "unit-helpers.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif
#ifndef TOP_BUILDDIR
#define TOP_BUILDDIR "."
#endif
#ifndef SOFTHSM_MODULE_DEFAULT
#define SOFTHSM_MODULE_DEFAULT ""
#endif

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

const char *uh_top_srcdir(void)
{
	return env_or("top_srcdir", TOP_SRCDIR);
}

const char *uh_top_builddir(void)
{
	return env_or("top_builddir", TOP_BUILDDIR);
}

const char *uh_softhsm_module(void)
{
	const char *dflt = SOFTHSM_MODULE_DEFAULT[0] != '\0' ? SOFTHSM_MODULE_DEFAULT
	                                                     : "/usr/lib/softhsm/libsofthsm2.so";

	return env_or("SOFTHSM_MODULE", dflt);
}

int uh_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd, ret = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		p += w;
		len -= (size_t)w;
	}
	ret = 0;
out:
	if (close(fd) != 0)
		ret = -1;
	return ret;
}

int uh_mkdtemp(const char *what, char *dir, size_t cap)
{
	const char *tmp = env_or("TMPDIR", "/tmp");
	int n = snprintf(dir, cap, "%s/p11ca-%s.XXXXXX", tmp, what);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

void uh_rmtree(const char *dir)
{
	if (dir != NULL && dir[0] != '\0')
		(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copies the value of `NAME='value'` (or `export NAME='value'`) into @out. */
static int take_assignment(const char *line, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), vlen;
	const char *v, *end;

	if (strncmp(line, "export ", 7) == 0)
		line += 7;
	if (strncmp(line, name, nlen) != 0 || line[nlen] != '=')
		return 0;
	v = line + nlen + 1;
	if (*v == '\'') {
		v++;
		end = strchr(v, '\'');
	} else {
		end = v + strcspn(v, "\n");
	}
	if (end == NULL)
		return 0;
	vlen = (size_t)(end - v);
	if (vlen >= cap)
		return 0;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return 1;
}

/* 1 when @name is a line of the file $P11CA_EXPECT_RUN (or the file cannot be read). */
static int expected_to_run(const char *name)
{
	const char *list = getenv("P11CA_EXPECT_RUN");
	char line[256];
	FILE *fp;
	int found = 0;

	if (list == NULL || *list == '\0')
		return 0;
	if ((fp = fopen(list, "r")) == NULL) {
		fprintf(stderr, "P11CA_EXPECT_RUN: cannot read %s\n", list);
		return 1;
	}
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		found = strcmp(line, name) == 0;
	}
	fclose(fp);
	return found;
}

static int parts_skipped;

int uh_skip(const char *name, const char *why)
{
	if (expected_to_run(name)) {
		fprintf(stderr,
		        "FAIL: %s was skipped (%s), but $P11CA_EXPECT_RUN expects it to run\n",
		        name, why);
		return 1;
	}
	fprintf(stderr, "SKIP: %s: %s\n", name, why);
	parts_skipped++;
	return UH_SKIP;
}

int uh_result(int failed)
{
	if (failed != 0)
		return failed;
	return parts_skipped > 0 ? UH_SKIP : 0;
}

int uh_token_make(struct uh_token *tok)
{
	char script[1024], line[1024];
	int fds[2] = { -1, -1 }, status = 0, ret = -1;
	FILE *fp = NULL;
	pid_t pid;

	memset(tok, 0, sizeof(*tok));
	if (access(uh_softhsm_module(), R_OK) != 0)
		return UH_SKIP;
	snprintf(script, sizeof(script), "%s/softhsm-conf/mktoken", uh_top_srcdir());
	if (uh_mkdtemp("unit-token", tok->dir, sizeof(tok->dir)) != 0)
		return -1;
	if (pipe(fds) != 0)
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			(void)dup2(devnull, 0);
		(void)dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", script, "--dir", tok->dir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fds[1] = -1;
	fp = fdopen(fds[0], "r");
	if (fp == NULL)
		goto out;
	fds[0] = -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (take_assignment(line, "SOFTHSM2_CONF", tok->conf, sizeof(tok->conf)))
			continue;
		if (take_assignment(line, "P11CA_TOKEN_URI", tok->uri, sizeof(tok->uri)))
			continue;
		(void)take_assignment(line, "P11CA_PIN_FILE", tok->pin_file, sizeof(tok->pin_file));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == UH_SKIP) {
		ret = UH_SKIP;
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || tok->conf[0] == '\0' ||
	    tok->uri[0] == '\0' || tok->pin_file[0] == '\0') {
		fprintf(stderr, "mktoken --dir %s failed (status 0x%x)\n", tok->dir, status);
		goto out;
	}
	if (setenv("SOFTHSM2_CONF", tok->conf, 1) != 0)
		goto out;
	ret = 0;
out:
	if (fp != NULL)
		fclose(fp);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (ret != 0) {
		uh_rmtree(tok->dir);
		tok->dir[0] = '\0';
	}
	return ret;
}

void uh_token_remove(struct uh_token *tok)
{
	uh_rmtree(tok->dir);
	tok->dir[0] = '\0';
	unsetenv("SOFTHSM2_CONF");
}

int uh_verify_digest(EVP_PKEY *pub, const EVP_MD *md, const unsigned char *dgst, size_t dgstlen,
                     const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok = 0;

	if (pub == NULL || (pctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_verify_init(pctx) != 1 || EVP_PKEY_CTX_set_signature_md(pctx, md) != 1)
		goto out;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	ok = EVP_PKEY_verify(pctx, sig, siglen, dgst, dgstlen) == 1;
out:
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

int uh_contains(const char *hay, const char *needle)
{
	return hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
}

unsigned char *uh_make_csr(const char *cn, STACK_OF(X509_EXTENSION) * exts, size_t *plen)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *mem = BIO_new(BIO_s_mem());
	unsigned char *out = NULL;
	char *data;
	long len;

	if (key != NULL && req != NULL && name != NULL && mem != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
	                               0) &&
	    X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
	    (exts == NULL || X509_REQ_add_extensions(req, exts)) &&
	    X509_REQ_sign(req, key, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(mem, req) &&
	    (len = BIO_get_mem_data(mem, &data)) > 0 && (out = malloc((size_t)len)) != NULL) {
		memcpy(out, data, (size_t)len);
		*plen = (size_t)len;
	}
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	BIO_free(mem);
	return out;
}
