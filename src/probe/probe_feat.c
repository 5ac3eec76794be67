/*
 * probe_feat.c - the commands a mount uses, each tried for real rather
 * than read off FEAT (servers list what they lack and lack what they
 * list): MLSD, MLST, SIZE, MDTM, REST STREAM, HASH, UTF8, and - unless
 * probe_readonly - APPE, MFMT / "MDTM time path" / SITE UTIME, directory
 * times, SITE CHMOD and SITE SYMLINK on the temporary file and directory,
 * which are deleted at the end.
 *
 * Reads use the temporary file, or with probe_readonly the smallest file
 * of the directory (probe_data.c chose it and read its beginning).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_list.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/hexdigit.h"
#include "probe_internal.h"

/* The file the read checks use and its size, or NULL. */
static const char *probe_target(const struct probe *p, uint64_t *size)
{
	if (p->stor.ok) {
		*size = p->content_len;
		return p->content_whole ? p->tmp_path : NULL;
	}
	*size = p->file_size;
	return p->have_file && p->retr.ok ? p->file : NULL;
}

static void probe_feat_mlsd(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "MLSD");
	/* Tried all the same: the report says whether no_mlsd is needed. */
	const char *unused = p->o->no_mlsd ? "; not used (no_mlsd)" : "";
	struct ftp_entry e;
	struct probe_xfer f;
	char buf[FTP_LIST_LINE_MAX + 1];
	unsigned n = 0;

	if (!c)
		return;
	if (!ftp_conn_feat(c)->mlst) {
		probe_fact("MLSD",
			   "no (FEAT does not offer MLST): listings "
			   "come from LIST, times to the minute at best");
		probe_fact("MLST", "no");
		return;
	}
	p->mlsd_fails = probe_list(p, c, probe_xfer_mode(p), true, &f, &n) < 0;
	if (p->mlsd_fails)
		probe_fact("MLSD", "offered, but fails: %s%s", f.err, unused);
	else if (p->list_dots > p->mlsd_dots)
		probe_fact("MLSD",
			   "yes (%u %s), but it leaves out dot files: "
			   "%d, where LIST -a shows %d%s",
			   n, n == 1 ? "entry" : "entries", p->mlsd_dots,
			   p->list_dots, unused);
	else
		probe_fact("MLSD", "yes (%u %s)%s", n,
			   n == 1 ? "entry" : "entries", unused);
	if ((c = probe_conn_for(p, "MLST")) == NULL)
		return;
	if (ftp_mlst(c, p->root, &e, buf, sizeof(buf)) == 0)
		probe_fact("MLST", "yes%s", unused);
	else
		probe_fact("MLST", "offered, but fails: %s%s", p->last_text,
			   unused);
}

static void probe_feat_size(struct probe *p, const char *path, uint64_t expect)
{
	struct ftp_conn *c = probe_conn_for(p, "SIZE");
	uint64_t size = 0;

	if (!c)
		return;
	if (ftp_op_size(c, path, &size) < 0)
		probe_fact("SIZE", "no (%s)", p->last_text);
	else if (size == expect)
		probe_fact("SIZE", "yes");
	else
		probe_fact("SIZE", "answers %llu for a file of %llu bytes",
			   (unsigned long long)size,
			   (unsigned long long)expect);
}

/* MDTM of @path into *sec: 0, or a negative errno. */
static int probe_mdtm(struct ftp_conn *c, const char *path, int64_t *sec)
{
	int res = -EIO, ret = ftp_op_mdtm_many(c, &path, 1, sec, &res);

	return ret < 0 ? ret : res;
}

static void probe_feat_mdtm(struct probe *p, const char *path)
{
	struct ftp_conn *c = probe_conn_for(p, "MDTM");
	int64_t sec;

	if (c && probe_mdtm(c, path, &sec) == 0)
		probe_fact("MDTM", "yes");
	else if (c)
		probe_fact("MDTM", "no (%s)", p->last_text);
}

/* RETR from an offset: the rest of the file, and only that. */
static void probe_feat_rest(struct probe *p, const char *path, uint64_t size)
{
	struct ftp_conn *c = probe_conn_for(p, "REST STREAM");
	uint64_t rest = size > 1024 ? size - 1024 : size / 2;
	uint8_t *buf = malloc(PROBE_READ_MAX);
	struct probe_xfer f;
	size_t got = 0;
	bool same;

	if (!c || !buf || size < 2) {
		if (c)
			probe_fact("REST STREAM", "not checked (%s)",
				   buf ? "the file is too small" : "no memory");
		free(buf);
		return;
	}
	probe_retr(p, c, probe_xfer_mode(p), path, rest, buf, PROBE_READ_MAX,
		   &got, &f);
	same = got == size - rest && (rest + got > p->content_len ||
				      memcmp(buf, p->content + rest, got) == 0);
	if (f.ok && same)
		probe_fact("REST STREAM",
			   "yes (a RETR from byte %llu got the "
			   "rest of the file)%s",
			   (unsigned long long)rest,
			   ftp_conn_feat(c)->rest_stream
				   ? ""
				   : ", though FEAT does not "
				     "say so");
	else if (f.ok)
		probe_fact("REST STREAM",
			   "no (a RETR from byte %llu got %zu "
			   "bytes, not the %llu after it)",
			   (unsigned long long)rest, got,
			   (unsigned long long)(size - rest));
	else
		probe_fact("REST STREAM", "no (%s)", f.err);
	free(buf);
}

/* The strongest algorithm we can compute that the server offers. */
static int probe_hash_algo(unsigned algos)
{
	static const enum ftp_hash_algo order[] = {
		FTP_HASH_SHA256, FTP_HASH_SHA512, FTP_HASH_SHA1, FTP_HASH_MD5
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (algos & (1u << order[i]))
			return (int)order[i];
	return -1;
}

static void probe_feat_hash(struct probe *p, const char *path)
{
	struct ftp_conn *c = probe_conn_for(p, "HASH");
	char names[128] = "", hex[FTP_HASH_HEX_MAX], ours[FTP_HASH_HEX_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int a;

	if (!c)
		return;
	if (!ftp_conn_feat(c)->hash_algos) {
		probe_fact("HASH", "no (not in FEAT): the user.ftpsfs.* "
				   "checksums and -o verify's digest are not "
				   "available");
		return;
	}
	for (a = 0; a < FTP_HASH_COUNT; a++)
		if (ftp_conn_feat(c)->hash_algos & (1u << a))
			snprintf(names + strlen(names),
				 sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "",
				 ftp_hash_info((enum ftp_hash_algo)a)
					 ->hash_name);
	a = probe_hash_algo(ftp_conn_feat(c)->hash_algos);
	if (a < 0 || !path || !p->content_whole ||
	    !EVP_Digest(p->content, p->content_len, md, &mdlen,
			EVP_get_digestbyname(
				ftp_hash_info((enum ftp_hash_algo)a)->name),
			NULL)) {
		probe_fact("HASH", "%s (not checked)", names);
		return;
	}
	hex_encode(md, mdlen, ours);
	if (ftp_op_hash(c, path, (enum ftp_hash_algo)a, hex, sizeof(hex)) < 0)
		probe_fact("HASH", "%s offered, but fails (%s)", names,
			   p->last_text);
	else
		probe_fact("HASH", "%s (%s of the file %s)", names,
			   ftp_hash_info((enum ftp_hash_algo)a)->hash_name,
			   strcmp(hex, ours) == 0 ? "matches"
						  : "DOES NOT MATCH");
}

static void probe_feat_utf8(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "UTF8");
	struct ftp_reply *r = c ? ftp_conn_reply(c) : NULL;

	if (c && p->o->codepage)
		probe_fact("UTF8", "not used (codepage=%s)", p->o->codepage);
	else if (c && !ftp_conn_feat(c)->utf8)
		probe_fact("UTF8",
			   "not in FEAT: names are sent as the bytes "
			   "they are (-o codepage= if they are not UTF-8)");
	else if (c && ftp_conn_cmd(c, r, "OPTS", "UTF8 ON") == 0)
		probe_fact("UTF8",
			   r->code / 100 == 2 ? "yes (OPTS UTF8 ON: %s)"
					      : "in FEAT, but OPTS UTF8 "
						"ON is refused: %s",
			   p->last_text);
}

static void probe_readonly_skipped(void)
{
	static const char *const skipped[] = {
		"APPE",	      "MFMT",	      "MDTM with a time",
		"SITE UTIME", "file times",   "directory times",
		"SITE CHMOD", "SITE SYMLINK",
	};

	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		probe_fact(skipped[i], "not checked (probe_readonly)");
}

void probe_feat_run(struct probe *p)
{
	uint64_t size = 0;
	const char *path;

	probe_section("Commands");
	probe_feat_mlsd(p);
	path = probe_target(p, &size);
	if (path) {
		probe_feat_size(p, path, size);
		probe_feat_mdtm(p, path);
		probe_feat_rest(p, path, size);
	} else {
		probe_fact("SIZE", "not checked (no file to try it on)");
		probe_fact("MDTM", "not checked (no file to try it on)");
		probe_fact("REST STREAM", "not checked (no file to try it on)");
	}
	probe_feat_hash(p, path);
	probe_feat_utf8(p);
	if (p->o->probe_readonly)
		probe_readonly_skipped();
	else if (!p->stor.ok)
		probe_fact("writing",
			   "not checked: the temporary file could "
			   "not be stored (%s)",
			   p->stor.tried ? p->stor.err : "no data connection");
	else
		probe_feat_write(p);
	probe_tmp_cleanup(p);
}
