/*
 * cmd-ca-sign.c - p11ca ca sign: CSR files read, issued by the CA library
 * in one batch, and the certificates written once recorded: to standard
 * output or --out (atomically), or a file each in --out-dir.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/pem.h>

#include "cmd-ca.h"
#include "parallel.h"
#include "testhook.h"
#include "pki.h"

static const char sign_help[] =
    "usage: p11ca ca sign --dir D [--profile P] [--days N] [--md MD]\n"
    "                     [--pathlen N] [--out FILE | --out-dir DIR] [--der]\n"
    "                     [--threads N] [--again] CSR...\n\n"
    "Issues a certificate for each CSR (PEM or DER), signed on the token.  Every\n"
    "CSR is checked before anything is issued: its signature, its key (RSA\n"
    "2048-4096, EC P-256/384/521, Ed25519), its names (valid, no wildcards), no\n"
    "CA:TRUE unless --profile sub-ca; one bad CSR and nothing is issued.\n\n"
    "Profiles (default from ca.conf, else server-client; sub-ca only when given\n"
    "here, never as ca.conf's default):\n"
    "  server         EKU serverAuth\n"
    "  client         EKU clientAuth\n"
    "  server-client  EKU serverAuth, clientAuth (mutual TLS)\n"
    "  ocsp           EKU OCSPSigning, OCSP no-check\n"
    "  sub-ca         CA:TRUE with pathlen --pathlen (default 0), keyUsage\n"
    "                 digitalSignature+keyCertSign+cRLSign unless the CSR asks\n"
    "Copied from the CSR: subject, subjectAltName, and keyUsage/extendedKeyUsage\n"
    "when within the profile (a usage outside it is an error).  Added: basic\n"
    "constraints, subject and authority key identifiers, CRL distribution points\n"
    "and AIA (OCSP, caIssuers) from ca.conf.  Serials: 16 random bytes, positive,\n"
    "unique.  Validity: now to --days (ca.conf default_days, 365), at most the\n"
    "CA's own.  CSRs are checked and signed in parallel (--threads, default: the\n"
    "CPUs, at most 8; one login, a session each); all records are committed in\n"
    "one transaction before anything is written.\n"
    "A CSR whose subject and key have a valid certificate already is refused\n"
    "(a retry after lost outputs issues nothing twice); --again issues another.\n"
    "Output: PEM on standard output, or --out FILE (all, concatenated), or\n"
    "--out-dir DIR: a file each, DIR/NAME-SERIAL.pem (.der with --der), NAME\n"
    "the subject's CN or else the CSR's file name; 'CSR -> FILE' lines on\n"
    "standard output say which is which.\n";

/* --out-dir: a file each, NAME-SERIAL.pem or .der */
struct out_dir {
	const char *dir;
	int der;
	struct ca_req *reqs;
	char **files;           /* each request's file (NULL: none made) */
	unsigned char *written; /* each request's: written */
};

/* The longest NAME of a file in --out-dir. */
#define NAME_MAX_LEN 64

/*
 * NAME for request @r's file into @out (NAME_MAX_LEN + 1): the subject's
 * last CN, else the CSR's file name without its folder and extension; only
 * letters, digits, '.', '-', '_' kept (others '_'), no leading dot.
 */
static void file_name(const struct ca_req *r, char *out)
{
	const X509_NAME *subj = r->cert != NULL ? X509_get_subject_name(r->cert) : NULL;
	const ASN1_STRING *cn = NULL;
	const char *src = NULL, *dot;
	size_t len = 0, i;
	int idx = -1, last = -1;

	while (subj != NULL && (idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0)
		last = idx;
	if (last >= 0)
		cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, last));
	if (cn != NULL && ASN1_STRING_length(cn) > 0) {
		src = (const char *)ASN1_STRING_get0_data(cn);
		len = (size_t)ASN1_STRING_length(cn);
	} else {
		src = strrchr(r->name, '/') != NULL ? strrchr(r->name, '/') + 1 : r->name;
		dot = strrchr(src, '.');
		len = dot != NULL && dot != src ? (size_t)(dot - src) : strlen(src);
	}
	if (len > NAME_MAX_LEN)
		len = NAME_MAX_LEN;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		out[i] = (isalnum(ch) && ch < 0x80) || ch == '.' || ch == '-' || ch == '_'
		             ? (char)ch
		             : '_';
	}
	out[len] = '\0';
	if (out[0] == '.')
		out[0] = '_';
	if (len == 0)
		snprintf(out, NAME_MAX_LEN + 1, "cert");
}

/*
 * The certificate as DIR/NAME-SERIAL.pem (or .der) through the one writer
 * (a temporary file renamed into place, a symbolic link refused), not
 * synced: the database is the durable record, and a file a power cut
 * spoils comes back with 'p11ca ca show --pem'.  The folder was swept once.
 */
static int write_one(size_t i, void *arg)
{
	struct out_dir *o = arg;
	const struct cadb_row *r = &o->reqs[i].row;
	const char *ext = o->der ? "der" : "pem";
	char name[NAME_MAX_LEN + 1], *data;
	BIO *mem = NULL;
	long len;
	int ret = TOOL_EXIT_FAIL;

	testhook_crash("mid-files");
	file_name(&o->reqs[i], name);
	if (asprintf(&o->files[i], "%s/%s-%s.%s", o->dir, name, r->serial, ext) < 0) {
		o->files[i] = NULL;
		tool_errorf("out of memory");
		return 1;
	}
	if (o->der) {
		data = (char *)r->der;
		len = (long)r->der_len;
	} else if ((mem = BIO_new(BIO_s_mem())) == NULL ||
	           !PEM_write_bio(mem, PEM_STRING_X509, "", r->der, (long)r->der_len)) {
		tool_errorf("out of memory");
		goto out;
	} else {
		len = BIO_get_mem_data(mem, &data);
	}
	ret = tool_write_atomic_flags(o->files[i], (unsigned char *)data, (size_t)len,
	                              TOOL_OUT_NO_SWEEP | TOOL_OUT_NO_SYNC);
	o->written[i] = ret == TOOL_EXIT_OK;
out:
	BIO_free(mem);
	return ret != TOOL_EXIT_OK;
}

/*
 * Says which certificates are recorded but were not written (@written[i]
 * 0), and how to get each back, so that nobody signs their CSRs again.
 */
static void report_undelivered(const struct ca_req *reqs, size_t n, const unsigned char *written,
                               const char *dir)
{
	size_t i, lost = 0;

	for (i = 0; i < n; i++) {
		if (written != NULL && written[i])
			continue;
		lost++;
		tool_errorf("%s: issued as serial %s but not written: 'p11ca ca show --dir %s %s "
		            "--pem' gives it back",
		            reqs[i].name, reqs[i].row.serial, dir, reqs[i].row.serial);
	}
	tool_errorf("%zu of %zu certificates are issued and recorded but not written; do not "
	            "sign their CSRs again (they would be issued twice)",
	            lost, n);
}

/*
 * The issued certificates, once recorded, to their destinations: a file
 * each in @out_dir (in parallel: file creation is the slow part on some
 * file systems; 'CSR -> FILE' printed for each), or all into @out /
 * standard output (atomically, synced).  What was not written is reported
 * with the way to get it back (@ca_dir).
 */
static int write_issued(struct ca_req *reqs, size_t n, const char *out, const char *out_dir,
                        int der, int threads, const char *ca_dir)
{
	struct out_dir o = { out_dir, der, reqs, NULL, NULL };
	BIO *mem = NULL;
	char *data;
	long len;
	size_t i;
	int ret = TOOL_EXIT_FAIL;

	if (out_dir != NULL) {
		if ((o.files = calloc(n, sizeof(*o.files))) == NULL ||
		    (o.written = calloc(n, 1)) == NULL) {
			tool_errorf("out of memory");
			goto out;
		}
		tool_sweep_stale(out_dir);
		ret =
		    parallel_run(n, threads, 0, write_one, &o) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
		for (i = 0; i < n; i++)
			if (o.written[i])
				printf("%s -> %s\n", reqs[i].name, o.files[i]);
		if (fflush(stdout) != 0)
			ret = TOOL_EXIT_FAIL;
		goto out;
	}
	if (der) {
		ret = tool_write_atomic(out, reqs[0].row.der, reqs[0].row.der_len);
		goto out;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!PEM_write_bio(mem, PEM_STRING_X509, "", reqs[i].row.der,
		                   (long)reqs[i].row.der_len)) {
			tool_errorf("out of memory");
			goto out;
		}
	len = BIO_get_mem_data(mem, &data);
	ret = tool_write_atomic(out, (unsigned char *)data, (size_t)len);
out:
	if (ret != TOOL_EXIT_OK)
		report_undelivered(reqs, n, o.written, ca_dir);
	for (i = 0; o.files != NULL && i < n; i++)
		free(o.files[i]);
	free(o.files);
	free(o.written);
	BIO_free(mem);
	return ret;
}

/*
 * Whether --out can be written (tool_out_check: no symbolic link, its
 * folder writable) or --out-dir is a writable folder (not a symbolic link
 * to one either), before anything is issued.
 */
static int destination_ok(const char *out, const char *out_dir)
{
	struct stat st;

	if (out_dir != NULL) {
		if (lstat(out_dir, &st) == 0 && S_ISLNK(st.st_mode)) {
			tool_errorf(
			    "--out-dir %s is a symbolic link: not written through (name the "
			    "folder itself)",
			    out_dir);
			return 0;
		}
		if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    access(out_dir, W_OK | X_OK) != 0) {
			tool_errorf("--out-dir %s: not a writable directory", out_dir);
			return 0;
		}
		return 1;
	}
	return tool_out_ok(out, 0);
}

enum {
	O_PROFILE = TOOL_CA_O_FIRST,
	O_DAYS,
	O_MD,
	O_PATHLEN,
	O_OUT,
	O_OUT_DIR,
	O_DER,
	O_THREADS,
	O_AGAIN
};

/* ca sign's options */
struct sign_args {
	const char *dir, *profile, *md, *out, *out_dir;
	long days, threads;
	int der, pathlen, again;
};

static int sign_opt(int id, const char *arg, void *data)
{
	struct sign_args *a = data;
	char *end;

	switch (id) {
	case TOOL_CA_O_DIR: a->dir = arg; break;
	case O_PROFILE: a->profile = arg; break;
	case O_DAYS: return tool_parse_days("--days", arg, &a->days) ? 0 : TOOL_EXIT_USAGE;
	case O_MD: a->md = arg; break;
	case O_PATHLEN: return tool_parse_pathlen(arg, &a->pathlen) ? 0 : TOOL_EXIT_USAGE;
	case O_OUT: a->out = arg; break;
	case O_OUT_DIR: a->out_dir = arg; break;
	case O_DER: a->der = 1; break;
	case O_AGAIN: a->again = 1; break;
	case O_THREADS:
		a->threads = strtol(arg, &end, 10);
		if (*end != '\0' || a->threads < 1 || a->threads > 64) {
			tool_errorf("--threads '%s': 1 to 64", arg);
			return TOOL_EXIT_USAGE;
		}
		break;
	default: return TOOL_EXIT_USAGE;
	}
	return 0;
}

/* ca_issue_opts.progress: the batch on a terminal (tool_progress) */
static void show_progress(void *arg, enum ca_stage stage, size_t done, size_t total)
{
	static const char *const what[] = { [CA_STAGE_CHECKED] = "checked",
		                            [CA_STAGE_SIGNED] = "signed",
		                            [CA_STAGE_RECORDED] = "recorded" };

	tool_progress_show(arg, done == total, "%s %zu of %zu CSR%s", what[stage], done, total,
	                   total == 1 ? "" : "s");
}

/*
 * What the certificates do not have that the CSRs asked for, said without
 * -v: the CSR extensions not copied (once per distinct list, with how many
 * CSRs had it), and a validity cut to the CA's end.
 */
static void report_changes(const struct ca_req *reqs, size_t n, long days, const char *days_from)
{
	char end[PKI_TIME_ISO_MAX];
	size_t i, j, count, lists = 0;

	for (i = 0; i < n && lists < 10; i++) {
		if (reqs[i].not_copied[0] == '\0')
			continue;
		for (j = 0; j < i && strcmp(reqs[j].not_copied, reqs[i].not_copied) != 0; j++)
			;
		if (j < i)
			continue; /* said already */
		for (count = 0, j = i; j < n; j++)
			count += strcmp(reqs[j].not_copied, reqs[i].not_copied) == 0;
		lists++;
		if (count == 1)
			tool_warnf("%s: not copied from the CSR: %s", reqs[i].name,
			           reqs[i].not_copied);
		else
			tool_warnf("%s and %zu more CSR%s: not copied from the CSR: %s",
			           reqs[i].name, count - 1, count == 2 ? "" : "s",
			           reqs[i].not_copied);
	}
	for (i = 0; i < n && !reqs[i].cut; i++)
		;
	if (i < n) {
		pki_time_iso(reqs[i].row.not_after, end);
		tool_warnf("%s %ld outlasts the CA: the certificates end with it, at %s", days_from,
		           days, end);
	}
}

/* ca_req.load: the CSR file, read on a checking thread. */
static int load_csr(struct ca_req *r, void *arg)
{
	unsigned char *buf = NULL;
	int rc;

	(void)arg;
	if ((rc = tool_slurp(r->name, &buf, &r->csr_len)) == RES_OK)
		r->csr = buf;
	return rc;
}

int tool_ca_sign(int argc, char **argv)
{
	static const struct tool_opt opts[] = {
		TOOL_CA_DIR_OPT,
		{ "profile", required_argument, O_PROFILE },
		{ "days", required_argument, O_DAYS },
		{ "md", required_argument, O_MD },
		{ "pathlen", required_argument, O_PATHLEN },
		{ "out", required_argument, O_OUT },
		{ "out-dir", required_argument, O_OUT_DIR },
		{ "der", no_argument, O_DER },
		{ "threads", required_argument, O_THREADS },
		{ "again", no_argument, O_AGAIN },
		{ NULL, 0, 0 },
	};
	struct tool_common c = { 0 };
	struct sign_args a = { .out = "-" };
	struct ca *ca = NULL;
	struct ca_issue_opts io = { 0 };
	struct ca_req *reqs = NULL;
	struct tool_progress progress;
	size_t n = 0, i, ndup;
	int ret = TOOL_EXIT_USAGE, ca_pathlen, rc;

	if ((rc = tool_parse(argc, argv, opts, sign_help, &c, sign_opt, &a)) != TOOL_PARSE_GO)
		return rc;
	io.pathlen = a.pathlen;
	io.again = a.again;
	n = (size_t)(argc - optind);
	if (a.dir == NULL || n == 0) {
		tool_errorf("ca sign needs --dir D and at least one CSR file");
		return TOOL_EXIT_USAGE;
	}
	if (a.out_dir != NULL && strcmp(a.out, "-") != 0) {
		tool_errorf("--out and --out-dir exclude each other");
		return TOOL_EXIT_USAGE;
	}
	if (a.der && a.out_dir == NULL && n > 1) {
		tool_errorf("--der with several CSRs needs --out-dir (one DER file each)");
		return TOOL_EXIT_USAGE;
	}
	ret = TOOL_EXIT_FAIL;
	/* where the certificates go is checked before any is issued */
	if (!destination_ok(a.out, a.out_dir))
		return TOOL_EXIT_FAIL;
	if ((ca = tool_ca_open(a.dir, &c, 1, 1)) == NULL)
		return TOOL_EXIT_FAIL;
	if (ca_profile_parse(a.profile != NULL ? a.profile : ca->conf.default_profile,
	                     &io.profile) != RES_OK) {
		if (a.profile == NULL)
			res_prefix(RES_BAD_INPUT, "ca.conf default_profile");
		tool_report(RES_BAD_INPUT);
		ret = a.profile != NULL ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL;
		goto out;
	}
	/* a CA certificate is asked for on the command line, never by a default */
	if (a.profile == NULL && io.profile == CA_SUB_CA) {
		tool_errorf("ca.conf default_profile = sub-ca: CA certificates are issued only "
		            "with --profile sub-ca on the command line");
		goto out;
	}
	io.days = a.days > 0 ? a.days : ca->conf.default_days;
	io.md = a.md != NULL ? a.md : ca->conf.default_md;
	if (ca_md_ok(io.md) != RES_OK) {
		tool_report(RES_POLICY);
		ret = a.md != NULL ? TOOL_EXIT_USAGE : TOOL_EXIT_FAIL;
		goto out;
	}
	io.threads = a.threads > 0 ? (int)a.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (a.threads == 0 && io.threads > 8)
		io.threads = 8; /* sessions the HSM keeps open for us */
	if (io.profile == CA_SUB_CA && (ca_pathlen = (int)X509_get_pathlen(ca->cert)) >= 0 &&
	    io.pathlen >= ca_pathlen) {
		if (ca_pathlen == 0)
			tool_errorf("the CA's pathlen is 0: it cannot issue sub-CAs");
		else
			tool_errorf("--pathlen %d: must be below the CA's own pathlen %d",
			            io.pathlen, ca_pathlen);
		goto out;
	}
	if ((reqs = calloc(n, sizeof(*reqs))) == NULL) {
		tool_errorf("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		reqs[i].name = argv[optind + (int)i];
		reqs[i].load = load_csr; /* read on the checking threads */
	}
	tool_progress_init(&progress);
	if (progress.on) {
		io.progress = show_progress;
		io.progress_arg = &progress;
	}
	/* every CSR is checked before any is issued */
	rc = ca_issue(ca, &io, reqs, n);
	tool_progress_end(&progress);
	if (rc != RES_OK) {
		const char *first = NULL;
		for (i = 0; i < n; i++)
			if (reqs[i].rc != RES_OK) {
				tool_errorf("%s: %s", reqs[i].name, reqs[i].msg);
				if (first == NULL)
					first = reqs[i].msg;
			}
		/* the batch's own line ("N of M refused", a database failure), once */
		if (first == NULL || strcmp(first, res_message()) != 0)
			tool_report(rc);
		for (i = 0, ndup = 0; i < n; i++)
			if (reqs[i].dup[0] != '\0')
				first = reqs[i].dup, ndup++;
		if (ndup > 0)
			tool_errorf("'p11ca ca show --dir %s %s --pem' gives back a certificate "
			            "issued before; --again issues another",
			            a.dir, ndup == 1 ? first : "SERIAL");
		goto out;
	}
	report_changes(reqs, n, io.days, a.days > 0 ? "--days" : "ca.conf default_days");
	for (i = 0; i < n; i++)
		if (reqs[i].dup[0] != '\0')
			tool_warnf("%s: its subject and key had a valid certificate, serial %s; "
			           "issued another (--again)",
			           reqs[i].name, reqs[i].dup);
	for (i = 0; c.verbose && i < n; i++)
		fprintf(stderr, "issued %s %s\n", reqs[i].row.serial, reqs[i].row.subject);
	ret = write_issued(reqs, n, a.out, a.out_dir, a.der, (int)io.threads, a.dir);
out:
	for (i = 0; reqs != NULL && i < n; i++) {
		free((void *)reqs[i].csr);
		ca_req_free(&reqs[i]);
	}
	free(reqs);
	ca_close(ca);
	return ret;
}
