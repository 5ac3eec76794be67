/*
 * probe_conn.c - the probe's control connections: each opened as a mount
 * would open it (ftp_conn_open() on the probe's endpoint), watched through
 * the endpoint's observer, and the main one reopened when a check has
 * broken it.  The sections (probe_*.c) take their connections here.
 */
#include <stdio.h>
#include <string.h>

#include "probe_internal.h"

void probe_reply_seen(void *arg, unsigned conn_id, const struct ftp_reply *r)
{
	struct probe *p = arg;
	char msg[256], esc[400];

	(void)conn_id;
	if (!p->have_greeting) {
		/* A greeting longer than this is cut: it is only shown. */
		size_t len = strnlen(r->text, sizeof(p->greeting) - 1);

		memcpy(p->greeting, r->text, len);
		p->greeting[len] = '\0';
		p->have_greeting = true;
	}
	p->last_code = r->code;
	p->saw_prelim |= ftp_reply_is_prelim(r);
	snprintf(p->last_text, sizeof(p->last_text), "%d %s", r->code,
		 probe_esc(esc, sizeof(esc),
			   ftp_reply_message(r, msg, sizeof(msg))));
}

int probe_connect(struct probe *p, struct ftp_conn **out, char *err,
		  size_t errsz)
{
	char raw[512];
	int ret;

	p->peer_seen = false;
	ret = ftp_conn_open(&p->ep, p->next_id++, out, raw, sizeof(raw));
	/* The message may quote the server (a refused login): escaped
	 * here, once, for every caller that prints it. */
	if (ret < 0)
		probe_esc(err, errsz, raw);
	return ret;
}

int probe_main_conn(struct probe *p, struct ftp_conn **out, char *err,
		    size_t errsz)
{
	int ret;

	if (p->c && ftp_conn_broken(p->c)) {
		ftp_conn_close(p->c, false);
		p->c = NULL;
	}
	if (!p->c) {
		ret = probe_connect(p, &p->c, err, errsz);
		if (ret < 0)
			return ret;
	}
	*out = p->c;
	return 0;
}

struct ftp_conn *probe_conn_for(struct probe *p, const char *key)
{
	struct ftp_conn *c = NULL;
	char err[512];

	if (probe_main_conn(p, &c, err, sizeof(err)) < 0) {
		probe_fact(key, "not checked: %s", err);
		return NULL;
	}
	return c;
}

void probe_set_mode(struct probe *p, struct ftp_conn *c, enum probe_mode mode)
{
	p->ep.active = mode == PROBE_EPRT || mode == PROBE_PORT;
	ftp_conn_force_modes(c, mode == PROBE_PASV, mode == PROBE_PORT);
}
