/*
 * probe_data.c - data connections: which modes reach the server (EPSV,
 * PASV, EPRT, PORT, each tried on its own with a LIST), whether LIST,
 * RETR and STOR resumed the control connection's TLS session, and
 * whether the server insists on it: one data connection offers no session
 * at all (tls_conn_client_data_unresumed()), on a connection of its own,
 * since vsftpd closes the control connection after refusing it.
 *
 * A mount uses EPSV and falls back to PASV only when the server does not
 * know EPSV (500-502), or PASV from the start with -o no_epsv; EPRT and
 * PORT likewise with -o active.  The verdict follows the same rule.
 */
#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/log.h"
#include "ftpsfs/path.h"
#include "probe_internal.h"

static const char *const probe_mode_names[PROBE_MODES] = {
	"passive EPSV", "passive PASV", "active EPRT", "active PORT"
};

/* What the temporary file holds: short, and recognisable if it is ever
 * left behind. */
static const char probe_tmp_text[] =
	"ftpsfs --probe: a temporary test file, deleted at once.\n";

/* Most of the deliberate unresumed listing read: accepted is accepted. */
#define PROBE_LIST_MAX (1u << 20)

static void probe_mode_test(struct probe *p, enum probe_mode m)
{
	struct probe_xfer *f = &p->mode[m];
	struct ftp_conn *c;

	memset(f, 0, sizeof(*f));
	if (p->ep.proxy && (m == PROBE_EPRT || m == PROBE_PORT)) {
		snprintf(f->err, sizeof(f->err),
			 "the server cannot connect "
			 "back to us through a proxy");
		return;
	}
	f->tried = true;
	if (probe_main_conn(p, &c, f->err, sizeof(f->err)) < 0)
		return;
	if (m == PROBE_PORT && ftp_conn_peer_family(c) != AF_INET) {
		snprintf(f->err, sizeof(f->err),
			 "PORT cannot name an IPv6 "
			 "address");
		return;
	}
	probe_list(p, c, m, false, f, NULL);
	if (f->unknown)
		f->ok = f->reached = f->resumed = false;
}

/* Does the family of @first (EPSV or EPRT) work the way a mount uses it? */
static bool probe_family_ok(const struct probe *p, enum probe_mode first)
{
	return p->mode[first].ok ||
	       (p->mode[first].unknown && p->mode[first + 1].ok);
}

/* The mode of a family that works, or -1. */
static int probe_family_mode(const struct probe *p, enum probe_mode first)
{
	if (p->mode[first].ok)
		return first;
	if (p->mode[first + 1].ok)
		return first + 1; /* maybe not a mount's way: see the verdict */
	return -1;
}

enum probe_mode probe_mount_mode(const struct probe *p)
{
	enum probe_mode first = p->o->active ? PROBE_EPRT : PROBE_EPSV;

	if (!p->o->active && p->o->no_epsv)
		return PROBE_PASV;
	return p->mode[first].unknown ? (enum probe_mode)(first + 1) : first;
}

static void probe_modes(struct probe *p)
{
	enum probe_mode mine = p->o->active ? PROBE_EPRT : PROBE_EPSV;
	enum probe_mode other = p->o->active ? PROBE_EPSV : PROBE_EPRT;

	for (int m = 0; m < PROBE_MODES; m++)
		probe_mode_test(p, (enum probe_mode)m);
	p->mount_mode_ok = probe_family_ok(p, mine);
	p->other_mode_ok = probe_family_ok(p, other);
	p->work_mode = probe_family_mode(p, mine);
	if (!p->o->active && p->o->no_epsv) {
		/* PASV from the start: EPSV's result does not matter. */
		p->mount_mode_ok = p->mode[PROBE_PASV].ok;
		p->work_mode = p->mount_mode_ok ? PROBE_PASV : -1;
	}
	if (p->work_mode < 0)
		p->work_mode = probe_family_mode(p, other);
}

/* A data connection was made but the transfer refused, none resumed. */
static bool probe_refused_unresumed(const struct probe *p)
{
	bool refused = false;

	for (int m = 0; m < PROBE_MODES; m++) {
		if (p->mode[m].resumed)
			return false;
		refused |= p->mode[m].reached && !p->mode[m].ok;
	}
	return refused;
}

/*
 * Data connections were refused for not resuming on TLS 1.3 (no ticket
 * arrived, or the server would not resume it): are they with TLS 1.2,
 * whose session IDs exist from the handshake on?  If so the probe goes on
 * with TLS 1.2 and suggests tls_max=1.2; if not, all is as it was.
 */
static void probe_try_tls12(struct probe *p)
{
	struct probe_xfer saved[PROBE_MODES];
	struct tls_ctx *tls12 = NULL, *old = p->tls;
	int saved_work = p->work_mode;
	bool saved_mount = p->mount_mode_ok, saved_other = p->other_mode_ok;

	if (p->o->tls_max || p->tls_max || !p->c ||
	    strcmp(tls_conn_version(ftp_conn_tls(p->c)), "TLSv1.3") != 0 ||
	    !probe_refused_unresumed(p) ||
	    probe_tls_new(p, TLS1_2_VERSION, &tls12) < 0)
		return;
	memcpy(saved, p->mode, sizeof(saved));
	ftp_conn_close(p->c, true);
	p->c = NULL;
	p->tls = p->ep.tls = tls12;
	probe_modes(p);
	if (p->work_mode >= 0 && p->mode[p->work_mode].resumed) {
		p->tls12_resumes = true;
		p->tls_max = TLS1_2_VERSION;
		tls_ctx_free(old);
		return;
	}
	ftp_conn_close(p->c, true);
	p->c = NULL;
	p->tls = p->ep.tls = old;
	tls_ctx_free(tls12);
	memcpy(p->mode, saved, sizeof(saved));
	p->work_mode = saved_work;
	p->mount_mode_ok = saved_mount;
	p->other_mode_ok = saved_other;
}

static void probe_print_modes(const struct probe *p)
{
	for (int m = 0; m < PROBE_MODES; m++) {
		const struct probe_xfer *f = &p->mode[m];

		if (!f->tried)
			probe_fact(probe_mode_names[m], "not tried: %s",
				   f->err);
		else if (f->ok)
			probe_fact(probe_mode_names[m], "works");
		else if (f->unknown)
			probe_fact(probe_mode_names[m],
				   "not supported by the "
				   "server (%s falls back to %s)",
				   m == PROBE_EPSV ? "passive mode"
						   : "active mode",
				   m == PROBE_EPSV ? "PASV" : "PORT");
		else if (f->reached)
			probe_fact(probe_mode_names[m],
				   "the data connection "
				   "was made; then %s",
				   f->err);
		else
			probe_fact(probe_mode_names[m], "fails: %s", f->err);
	}
}

/* After probe_try_tls12(): what TLS 1.2 changed, and which mode the
 * checks below use. */
static void probe_print_work_mode(const struct probe *p)
{
	if (p->tls12_resumes)
		probe_fact("with tls_max=1.2",
			   "%s works and its data "
			   "connection resumed the session; the checks below "
			   "use TLS 1.2",
			   probe_mode_names[p->work_mode]);
	if (p->work_mode >= 0 && !p->mount_mode_ok)
		probe_fact("checks below",
			   "use %s, which works (the mode "
			   "these options choose does not)",
			   probe_mode_names[p->work_mode]);
}

/* "resumed VERB: ..." for one transfer. */
static void probe_print_resumed(const struct probe *p, const char *verb,
				const struct probe_xfer *f, const char *skipped)
{
	bool tls13 = p->c && strcmp(tls_conn_version(ftp_conn_tls(p->c)),
				    "TLSv1.3") == 0;
	char key[32], failed[600] = "";

	snprintf(key, sizeof(key), "resumed %s", verb);
	if (f->tried && !f->ok)
		snprintf(failed, sizeof(failed), "; the transfer failed: %s",
			 f->err);
	if (!f->tried)
		probe_fact(key, "not checked (%s)", skipped);
	else if (!f->reached)
		probe_fact(key, "not checked: no data connection (%s)", f->err);
	else if (f->resumed)
		probe_fact(key,
			   "yes (the control connection's session was "
			   "offered and resumed)%s",
			   failed);
	else if (f->offered)
		probe_fact(key,
			   "no (the control connection's session was "
			   "offered, the server did not resume it)%s",
			   failed);
	else
		probe_fact(key,
			   "no (the server issued no session on the "
			   "control connection to offer%s)%s",
			   tls13 ? ": no TLS 1.3 session ticket arrived" : "",
			   failed);
}

/* A name for the temporary file that no listing showed. */
static int probe_tmp_name(struct probe *p)
{
	uint8_t rnd[6];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	snprintf(p->tmp_name, sizeof(p->tmp_name),
		 PROBE_TMP_PREFIX "%ld-%02x%02x%02x%02x%02x%02x",
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5]);
	return path_join(p->tmp_path, sizeof(p->tmp_path), p->root,
			 p->tmp_name);
}

/* STOR of the temporary file (its creation), unless probe_readonly. */
static void probe_data_stor(struct probe *p, enum probe_mode mode)
{
	struct probe_xfer list;
	struct ftp_conn *c;

	if (p->o->probe_readonly || probe_tmp_name(p) < 0)
		return;
	if (probe_main_conn(p, &c, p->stor.err, sizeof(p->stor.err)) < 0) {
		p->stor.tried = true;
		return;
	}
	/* Chosen at random, and checked against the listing: never an
	 * existing file's name. */
	probe_list(p, c, mode, false, &list, NULL);
	if (!list.ok || p->tmp_name_taken)
		return;
	p->tmp_file = true;
	probe_stor(p, c, mode, p->tmp_path, probe_tmp_text,
		   sizeof(probe_tmp_text) - 1, false, &p->stor);
}

/* RETR of the temporary file, or in probe_readonly mode of the smallest
 * file of the directory, its beginning kept for later checks. */
static void probe_data_retr(struct probe *p, enum probe_mode mode)
{
	const char *path = p->stor.ok ? p->tmp_path : p->file;
	struct ftp_conn *c;
	size_t got = 0;

	if (!p->stor.ok && !p->have_file)
		return;
	p->content = malloc(PROBE_READ_MAX);
	if (!p->content)
		return;
	if (probe_main_conn(p, &c, p->retr.err, sizeof(p->retr.err)) < 0) {
		p->retr.tried = true;
		return;
	}
	probe_retr(p, c, mode, path, 0, p->content, PROBE_READ_MAX, &got,
		   &p->retr);
	p->content_len = got;
	p->content_whole = p->retr.ok && got < PROBE_READ_MAX;
	if (p->stor.ok && p->retr.ok &&
	    (got != sizeof(probe_tmp_text) - 1 ||
	     memcmp(p->content, probe_tmp_text, got) != 0))
		probe_fact("read back",
			   "DIFFERENT from what was stored: %zu "
			   "bytes stored, %zu read",
			   sizeof(probe_tmp_text) - 1, got);
}

/*
 * One data connection that offers no session, on a connection of its
 * own: accepted (not enforced), or refused with the server's answer
 * (vsftpd 522 and it closes the control connection, ProFTPD 425,
 * FileZilla Server 450).
 */
static void probe_enforcement(struct probe *p, enum probe_mode mode)
{
	struct ftp_xfer *x = NULL;
	struct ftp_conn *c = NULL;
	char err[512], answer[600], buf[4096];
	size_t total = 0;
	ssize_t n = 1;
	int ret;

	if (probe_connect(p, &c, err, sizeof(err)) < 0) {
		probe_fact("reuse enforced", "not checked: %s", err);
		goto out;
	}
	probe_set_mode(p, c, mode);
	p->last_code = 0;
	p->saw_prelim = false;
	ret = ftp_xfer_open(c,
			    &(struct ftp_xfer_cmd){ .verb = "LIST",
						    .op = FTP_OP_LIST,
						    .target_exists = true,
						    .no_session = true },
			    &x);
	/* Bounded: a listing that does not end has been accepted anyway. */
	while (ret == 0 && n > 0 && total < PROBE_LIST_MAX) {
		n = ftp_xfer_read(c, x, buf, sizeof(buf));
		total += n > 0 ? (size_t)n : 0;
	}
	if (x && n == 0) {
		ret = ftp_xfer_finish(c, x, FTP_OP_LIST);
	} else if (x) {
		ret = n < 0 ? (int)n : 0;
		ftp_xfer_abort(c, x);
	}
	if (ret == 0) {
		probe_fact("reuse enforced",
			   "no (a data connection that did "
			   "not resume the TLS session was accepted)");
		goto out;
	}
	/* A refusal after the server took the command (its 1xx) is about
	 * the data connection; anything else may be something else. */
	if (p->last_code < 400) {
		probe_esc(answer, sizeof(answer), ftp_conn_err(c));
		probe_fact("reuse enforced",
			   "unknown (the data connection "
			   "without resumption failed with no refusal from the "
			   "server: %s)",
			   answer);
		goto out;
	}
	snprintf(answer, sizeof(answer), "%s", p->last_text);
	/* vsftpd ends the session after its 522. */
	if (!ftp_conn_broken(c) &&
	    ftp_conn_cmd(c, ftp_conn_reply(c), "NOOP", NULL) < 0)
		snprintf(answer + strlen(answer),
			 sizeof(answer) - strlen(answer),
			 "; then the server closed the control connection");
	probe_fact("reuse enforced",
		   "%s (a data connection that did not "
		   "resume the TLS session was refused: %s)",
		   p->saw_prelim ? "yes" : "probably", answer);
out:
	ftp_conn_close(c, true);
}

/* A mode that made a data connection, even one refused afterwards. */
static int probe_reached_mode(const struct probe *p)
{
	for (int m = 0; m < PROBE_MODES; m++)
		if (p->mode[m].reached)
			return m;
	return -1;
}

void probe_data_run(struct probe *p)
{
	enum probe_mode mode;
	int reached;

	probe_section("Data connections");
	probe_modes(p);
	probe_print_modes(p);
	probe_try_tls12(p);
	probe_print_work_mode(p);
	if (p->work_mode < 0) {
		snprintf(p->why, sizeof(p->why), "no data connection works: %s",
			 p->mode[probe_mount_mode(p)].err);
		reached = probe_reached_mode(p);
		probe_print_resumed(p, "LIST",
				    &p->mode[reached >= 0 ? reached : 0], "");
		probe_fact("resumed RETR", "not checked (no data connection)");
		probe_fact("resumed STOR", "not checked (no data connection)");
		if (reached >= 0)
			probe_enforcement(p, (enum probe_mode)reached);
		else
			probe_fact("reuse enforced",
				   "not checked (no data "
				   "connection could be made)");
		return;
	}
	mode = probe_xfer_mode(p);
	p->list = p->mode[mode];
	probe_data_stor(p, mode);
	probe_data_retr(p, mode);
	probe_print_resumed(p, "LIST", &p->list, "");
	probe_print_resumed(p, "RETR", &p->retr,
			    p->o->probe_readonly
				    ? "probe_readonly, and no file "
				      "in the directory"
				    : "no file to read");
	probe_print_resumed(p, "STOR", &p->stor,
			    p->o->probe_readonly ? "probe_readonly"
						 : "no temporary name");
	probe_enforcement(p, mode);
}
