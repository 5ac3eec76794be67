/*
 * probe_verdict.c - how many connections the server allows, and the end
 * of the report: the options a mount needs, an fstab line, the result
 * and the exit status.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpsfs/net.h"
#include "ftpsfs/proxy.h"
#include "probe_internal.h"

/* Control connections open at once, at most: enough to tell a server's
 * per-address limit (vsftpd, Pure-FTPd and ProFTPD set 2 to 10) from the
 * pool's default of 5, few enough not to be a nuisance. */
#define PROBE_CONN_BOUND 8

/* A connection closed a moment ago may still count on the server (its
 * process has not exited yet): one refusal is asked again after this. */
#define PROBE_LIMIT_RETRY_MS 300

void probe_conn_limit(struct probe *p)
{
	struct ftp_conn *extra[PROBE_CONN_BOUND], *c;
	unsigned n = 0, open = 1; /* the main connection */
	bool retried = false;
	char err[512];
	int ret;

	probe_section("Connections");
	if (probe_main_conn(p, &c, err, sizeof(err)) < 0) {
		probe_fact("connection limit", "not checked: %s", err);
		return;
	}
	while (open < PROBE_CONN_BOUND) {
		ret = probe_connect(p, &extra[n], err, sizeof(err));
		if (ret == 0) {
			n++;
			open++;
		} else if (ret == -EUSERS && !retried) {
			retried = true;
			(void)net_sleep(PROBE_LIMIT_RETRY_MS);
		} else {
			break;
		}
	}
	if (open == PROBE_CONN_BOUND) {
		probe_fact("connection limit",
			   "none met (%u connections at "
			   "once were accepted; the probe tries no more)",
			   PROBE_CONN_BOUND);
	} else if (ret == -EUSERS) {
		p->conn_limit = open;
		probe_fact("connection limit",
			   "%u (connection %u was refused: "
			   "%s)",
			   open, open + 1, err);
	} else {
		probe_fact("connection limit",
			   "not found: connection %u "
			   "failed (%s)",
			   open + 1, err);
	}
	while (n > 0)
		ftp_conn_close(extra[--n], true);
}

void probe_suggest(struct probe *p, const char *option, const char *fmt, ...)
{
	struct probe_suggestion *s;
	va_list ap;

	if (p->nsuggest >= PROBE_SUGGEST_MAX)
		return;
	s = &p->suggest[p->nsuggest++];
	snprintf(s->option, sizeof(s->option), "%s", option);
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static void probe_suggest_tls(struct probe *p)
{
	const struct tls_peer_info *pi = p->peer;
	bool ca = !p->o->fingerprint && !p->o->tofu && !p->o->no_verify;
	char fp[128], opt[160];

	if (p->tls13_failed)
		probe_suggest(p, "tls_max=1.2",
			      "the TLS 1.3 handshake fails, "
			      "TLS 1.2 works");
	if (p->tls12_resumes)
		probe_suggest(p, "tls_max=1.2",
			      "with TLS 1.3 the server "
			      "refuses every data connection (they cannot "
			      "resume the session), with TLS 1.2 they resume");
	if (!ca || !pi || pi->identity_ok || !pi->chain_len ||
	    !probe_tls_fingerprint(p, fp, sizeof(fp)))
		return;
	snprintf(opt, sizeof(opt), "fingerprint=%s", fp);
	probe_suggest(p, opt,
		      "the certificate does not verify (%s%s%s): pin "
		      "its key instead - but first check with the server's "
		      "administrator that %s is its key",
		      pi->chain_error[0] ? pi->chain_error : pi->error,
		      pi->name_ok ? "" : "; the names it carries: ",
		      pi->name_ok ? "" : pi->chain[0].names, fp);
}

/* EPSV fails otherwise than as an unknown command (a mount would not fall
 * back), and PASV works: no_epsv, rather than active mode. */
static bool probe_pasv_rescues(const struct probe *p)
{
	const struct probe_xfer *epsv = &p->mode[PROBE_EPSV];

	return !p->o->active && !p->o->no_epsv && epsv->tried && !epsv->ok &&
	       !epsv->unknown && p->mode[PROBE_PASV].ok;
}

/* The escape hatches for listings: MLSD offered but failing, or hiding
 * dot files that LIST -a shows. */
static void probe_suggest_listing(struct probe *p)
{
	const struct ftpsfs_opts *o = p->o;

	if (o->no_mlsd)
		return;
	if (p->mlsd_fails)
		probe_suggest(p, "no_mlsd",
			      "the server offers MLSD, but it "
			      "fails (see MLSD above): list with LIST");
	else if (!o->list_hidden && p->mlsd_dots >= 0 &&
		 p->list_dots > p->mlsd_dots)
		probe_suggest(p, "list_hidden",
			      "MLSD shows %d dot files, "
			      "LIST -a %d: without list_hidden the others are "
			      "not in the mount",
			      p->mlsd_dots, p->list_dots);
}

static void probe_suggestions(struct probe *p)
{
	const struct ftpsfs_opts *o = p->o;
	bool pasv = probe_pasv_rescues(p);
	char opt[32];

	probe_suggest_tls(p);
	if (pasv)
		probe_suggest(p, "no_epsv",
			      "EPSV fails (%s), PASV works; a "
			      "mount falls back to PASV only when EPSV is "
			      "unknown to the server",
			      p->mode[PROBE_EPSV].err);
	if (!p->mount_mode_ok && p->other_mode_ok && !o->active && !pasv)
		probe_suggest(p, "active",
			      "passive mode fails, active mode "
			      "works (the server connects back to this "
			      "machine: its firewall must let it in)");
	if (!p->mount_mode_ok && p->other_mode_ok && o->active)
		probe_suggest(p, "-active",
			      "active mode fails, passive mode "
			      "works: leave out active");
	probe_suggest_listing(p);
	if (p->dir_times == 0 && p->file_times == 1 && !o->ignore_dir_times)
		probe_suggest(p, "ignore_dir_times",
			      "the server sets file "
			      "times but not directory times: rsync -a and tar "
			      "x would fail on directories");
	if (p->conn_limit && p->conn_limit <= o->max_conns) {
		snprintf(opt, sizeof(opt), "max_conns=%u",
			 p->conn_limit > 1 ? p->conn_limit - 1 : 1);
		probe_suggest(p, opt,
			      "the server allows %u connections from "
			      "here; leave one for other clients (a mount "
			      "shrinks its pool by itself, after a refusal)",
			      p->conn_limit);
	}
}

/* Whether option @item (@len bytes) and option @opt have the same name
 * (what comes before '='). */
static bool probe_opt_is(const char *item, size_t len, const char *opt)
{
	size_t n = strcspn(item, "=");

	if (n > len)
		n = len;
	return n == strcspn(opt, "=") && strncmp(item, opt, n) == 0;
}

/* An option of the command line that the fstab line leaves out: stdin
 * is not there at boot, the probe's own, or one a suggestion replaces. */
static bool probe_fstab_drops(const struct probe *p, const char *item,
			      size_t len)
{
	static const char *const never[] = { "password_stdin",
					     "key_password_stdin",
					     "probe_readonly", "debug" };
	static const char *const pinned[] = { "tofu", "no_verify", "cafile",
					      "capath" };

	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (probe_opt_is(item, len, never[i]))
			return true;
	for (unsigned s = 0; s < p->nsuggest; s++) {
		const char *opt = p->suggest[s].option;

		opt += opt[0] == '-'; /* "-active": leave it out */
		if (probe_opt_is(item, len, opt))
			return true;
		if (!probe_opt_is("fingerprint", 11, opt))
			continue;
		for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
			if (probe_opt_is(item, len, pinned[i]))
				return true;
	}
	return false;
}

/* Append ",@item" to @out, in fstab's escapes (getmntent(3) undoes
 * \040 \011 \012 \134). */
static void probe_fstab_add(char *out, size_t outsz, const char *item,
			    size_t len)
{
	size_t o = strlen(out);

	if (o && o + 1 < outsz)
		out[o++] = ',';
	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char ch = (unsigned char)item[i];

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\%03o", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

/*
 * Options naming a file: fstab is read from another directory (mount(8)
 * runs from /), so a relative name becomes absolute - from this working
 * directory, where the probe found it.
 */
static void probe_fstab_item(const char *item, size_t len, char *out,
			     size_t outsz)
{
	static const char *const files[] = { "cafile",	 "capath",	"cert",
					     "key",	 "credentials", "netrc",
					     "spool_dir" };
	size_t n = strcspn(item, "=");
	bool relative =
		n + 1 < len && item[n + 1] != '/' && !memchr(item, '\\', len);
	char cwd[2048], path[4096];

	for (size_t i = 0; relative && i < sizeof(files) / sizeof(files[0]);
	     i++) {
		if (!probe_opt_is(item, len, files[i]) ||
		    !getcwd(cwd, sizeof(cwd)))
			continue;
		snprintf(path, sizeof(path), "%.*s=%s/%.*s", (int)n, item, cwd,
			 (int)(len - n - 1), item + n + 1);
		probe_fstab_add(out, outsz, path, strlen(path));
		return;
	}
	probe_fstab_add(out, outsz, item, len);
}

/* The -o options of the command line, item by item (libfuse's syntax:
 * ',' separates, '\' escapes the next character). */
static void probe_fstab_cmdline(const struct probe *p, char *out, size_t outsz)
{
	for (int i = 1; i < p->a->argc; i++) {
		const char *list = p->a->argv[i];

		if (strcmp(list, "-o") == 0 && i + 1 < p->a->argc)
			list = p->a->argv[++i];
		else if (strncmp(list, "-o", 2) == 0)
			list += 2;
		else
			continue;
		while (*list) {
			size_t len = 0;

			while (list[len] && list[len] != ',')
				len += list[len] == '\\' && list[len + 1] ? 2
									  : 1;
			if (len && !probe_fstab_drops(p, list, len))
				probe_fstab_item(list, len, out, outsz);
			list += len + (list[len] == ',');
		}
	}
}

static void probe_fstab(struct probe *p)
{
	const struct ftpsfs_opts *o = p->o;
	char opts[4096] = "", src[2048] = "", cred[600];

	probe_fstab_add(src, sizeof(src), o->remote, strlen(o->remote));
	probe_fstab_add(opts, sizeof(opts), "_netdev", 7);
	probe_fstab_cmdline(p, opts, sizeof(opts));
	for (unsigned s = 0; s < p->nsuggest; s++)
		if (p->suggest[s].option[0] != '-')
			probe_fstab_add(opts, sizeof(opts),
					p->suggest[s].option,
					strlen(p->suggest[s].option));
	if (o->password_stdin) {
		snprintf(cred, sizeof(cred), "credentials=/etc/ftpsfs/%s.cred",
			 p->ep.host);
		probe_fstab_add(opts, sizeof(opts), cred, strlen(cred));
	}
	probe_fact("fstab", "%s /mnt/ftp fuse.ftpsfs %s 0 0", src, opts);
	probe_fact("fstab note", "replace /mnt/ftp with the mount point%s%s",
		   o->password_stdin
			   ? "; there is no standard input at boot: put "
			     "user= and password= lines in the credentials "
			     "file (mode 0600, owned by root)"
			   : "",
		   o->password_stdin && p->ep.proxy && p->ep.proxy->user[0]
			   ? ", and the proxy's password as proxy_password="
			   : "");
}

int probe_verdict(struct probe *p, int status)
{
	char list[1024] = "";

	if (status == PROBE_EXIT_OK && p->tls13_failed) {
		status = PROBE_EXIT_TLS;
		snprintf(p->why, sizeof(p->why), "the TLS 1.3 handshake fails");
	} else if (status == PROBE_EXIT_OK && p->tls12_resumes) {
		status = PROBE_EXIT_DATA;
		snprintf(p->why, sizeof(p->why),
			 "with TLS 1.3 the server "
			 "refuses every data connection");
	} else if (status == PROBE_EXIT_OK && !p->mount_mode_ok) {
		status = PROBE_EXIT_DATA;
		if (p->work_mode >= 0)
			snprintf(p->why, sizeof(p->why), "%s mode fails: %s",
				 p->o->active ? "active" : "passive",
				 p->mode[probe_mount_mode(p)].err);
	}
	probe_section("Verdict");
	probe_suggestions(p);
	for (unsigned s = 0; s < p->nsuggest; s++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", s ? "," : "", p->suggest[s].option);
	probe_fact("suggested options", "%s", p->nsuggest ? list : "none");
	for (unsigned s = 0; s < p->nsuggest; s++) {
		char key[160];

		snprintf(key, sizeof(key), "why %s", p->suggest[s].option);
		probe_fact(key, "%s", p->suggest[s].why);
	}
	if (status == PROBE_EXIT_OK || status == PROBE_EXIT_TLS ||
	    status == PROBE_EXIT_DATA)
		probe_fstab(p);
	if (status == PROBE_EXIT_OK)
		probe_fact("result", "a mount with these options would work");
	else
		probe_fact("result",
			   "a mount with these options would fail: %s",
			   p->why[0] ? p->why : "see above");
	probe_fact("exit status", "%d", status);
	return status;
}
