/*
 * probe_xfer.c - the probe's transfers: a listing, a download, an upload,
 * each in a chosen data connection mode, through the mount's own code
 * (ftp_list_dir(), ftp_xfer_*()), with what each one showed about TLS
 * session resumption.
 *
 * Resumption is read from the connection's counters (ftp_conn:
 * data_conns, data_resumed, kept by xfer.c for each data connection whose
 * TLS handshake completed) and from whether the control connection had a
 * session to offer just before (tls_conn_has_session()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_xfer.h"
#include "ftpsfs/path.h"
#include "probe_internal.h"

/* Counters before a transfer. */
struct probe_snap {
	uint64_t conns, resumed;
};

static void probe_begin(struct probe *p, struct ftp_conn *c,
			enum probe_mode mode, struct probe_xfer *f,
			struct probe_snap *s)
{
	memset(f, 0, sizeof(*f));
	f->tried = true;
	probe_set_mode(p, c, mode);
	f->offered = tls_conn_has_session(ftp_conn_tls(c));
	ftp_conn_data_counts(c, &s->conns, &s->resumed);
}

static int probe_end(struct ftp_conn *c, enum probe_mode mode,
		     struct probe_xfer *f, const struct probe_snap *s, int ret)
{
	uint64_t conns, resumed;
	bool no_epsv, no_eprt;

	ftp_conn_data_counts(c, &conns, &resumed);
	ftp_conn_modes(c, &no_epsv, &no_eprt);
	f->reached = conns > s->conns;
	f->resumed = resumed > s->resumed;
	/* The fallback ran: that is PASV's or PORT's result, not this
	 * command's. */
	f->unknown = (mode == PROBE_EPSV && no_epsv) ||
		     (mode == PROBE_EPRT && no_eprt);
	f->ok = ret == 0;
	/* ftp_conn_err(c) may quote the server's reply: escaped for printing.
	 */
	if (ret < 0)
		probe_esc(f->err, sizeof(f->err),
			  ftp_conn_err(c)[0] ? ftp_conn_err(c)
					     : strerror(-ret));
	return ret;
}

enum probe_mode probe_xfer_mode(const struct probe *p)
{
	if (p->work_mode >= 0)
		return (enum probe_mode)p->work_mode;
	return p->o->active ? PROBE_EPRT : PROBE_EPSV;
}

struct probe_listing {
	struct probe *p;
	bool mlsd;
	time_t now;
	unsigned entries;
	unsigned dots; /* names starting with a dot, not the probe's own */
};

/* A file of a LIST listing a mount would learn the LIST zone from (as
 * fs_remote.c chooses them). */
static void probe_zone_file(struct probe_listing *l, const struct ftp_entry *e,
			    bool ours)
{
	struct probe *p = l->p;
	size_t len = strlen(e->name);

	if (l->mlsd || ours || e->type != FTP_ENTRY_FILE ||
	    p->nzone >= FTP_ZONE_SAMPLES || len >= sizeof(p->zone_name[0]) ||
	    !ftp_zone_file_useful(e->mtime, l->now))
		return;
	memcpy(p->zone_name[p->nzone], e->name, len + 1);
	p->zone_time[p->nzone++] = e->mtime;
}

/* A small regular file to read in probe_readonly mode, whether the
 * temporary name is taken, and files to learn the LIST zone from. */
static int probe_list_entry(void *arg, const struct ftp_entry *e)
{
	struct probe_listing *l = arg;
	struct probe *p = l->p;
	bool ours = strncmp(e->name, PROBE_TMP_PREFIX,
			    sizeof(PROBE_TMP_PREFIX) - 1) == 0;

	l->entries++;
	if (p->tmp_name[0] && strcmp(e->name, p->tmp_name) == 0)
		p->tmp_name_taken = true;
	if (e->name[0] == '.' && !ours)
		l->dots++;
	probe_zone_file(l, e, ours);
	if (e->type != FTP_ENTRY_FILE || !e->has_size ||
	    (p->have_file && e->size >= p->file_size))
		return 0;
	p->have_file =
		path_join(p->file, sizeof(p->file), p->root, e->name) == 0;
	p->file_size = e->size;
	return 0;
}

int probe_list(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       bool mlsd, struct probe_xfer *f, unsigned *entries)
{
	struct probe_listing l = { .p = p, .mlsd = mlsd, .now = time(NULL) };
	struct probe_snap s;
	int ret;

	probe_begin(p, c, mode, f, &s);
	if (!mlsd)
		p->nzone = 0;
	ret = ftp_list_dir(c, p->root, !mlsd, true, probe_list_entry, &l);
	if (entries)
		*entries = l.entries;
	/* Whether MLSD hides dot files LIST -a shows (list_hidden). */
	if (ret == 0 && mlsd)
		p->mlsd_dots = (int)l.dots;
	else if (ret == 0 && (int)l.dots > p->list_dots)
		p->list_dots = (int)l.dots;
	return probe_end(c, mode, f, &s, ret);
}

int probe_retr(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       const char *path, uint64_t rest, uint8_t *buf, size_t cap,
	       size_t *got, struct probe_xfer *f)
{
	struct ftp_xfer *x = NULL;
	struct probe_snap s;
	ssize_t n = 1;
	int ret;

	*got = 0;
	probe_begin(p, c, mode, f, &s);
	ret = ftp_xfer_open(c,
			    &(struct ftp_xfer_cmd){ .verb = "RETR",
						    .arg = path,
						    .rest = rest,
						    .op = FTP_OP_RETR,
						    .target_exists = true },
			    &x);
	while (ret == 0 && *got < cap && n > 0) {
		n = ftp_xfer_read(c, x, buf + *got, cap - *got);
		if (n > 0)
			*got += (size_t)n;
		else if (n < 0)
			ret = (int)n;
	}
	if (x && ret == 0 && n == 0)
		ret = ftp_xfer_finish(c, x, FTP_OP_RETR);
	else if (x) /* enough read, or failed: end it as a seek would */
		ftp_xfer_abort(c, x);
	return probe_end(c, mode, f, &s, ret);
}

int probe_stor(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       const char *path, const void *data, size_t len, bool append,
	       struct probe_xfer *f)
{
	struct ftp_xfer *x = NULL;
	struct probe_snap s;
	int ret;

	probe_begin(p, c, mode, f, &s);
	ret = ftp_xfer_open(
		c,
		&(struct ftp_xfer_cmd){ .verb = append ? "APPE" : "STOR",
					.arg = path,
					.op = FTP_OP_STOR },
		&x);
	if (ret == 0) {
		/* Its error, if any, comes back with the server's reason
		 * from ftp_xfer_finish_upload(). */
		(void)ftp_xfer_write(c, x, data, len);
		ret = ftp_xfer_finish_upload(c, x, FTP_OP_STOR);
	}
	return probe_end(c, mode, f, &s, ret);
}
