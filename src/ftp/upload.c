/*
 * upload.c - temporary names, verification and commit of uploads.  See
 * ftp_upload.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "conn_internal.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/ftp_upload.h"
#include "ftpsfs/hexdigit.h"
#include "ftpsfs/log.h"

/* Ours to compute, strongest first (CRC32 is not in OpenSSL). */
static const EVP_MD *upload_md(int algo)
{
	switch (algo) {
	case FTP_HASH_SHA256:
		return EVP_sha256();
	case FTP_HASH_SHA512:
		return EVP_sha512();
	case FTP_HASH_SHA1:
		return EVP_sha1();
	case FTP_HASH_MD5:
		return EVP_md5();
	default:
		return NULL;
	}
}

/* "<dir>/.ftpsfs-tmp-<16 random hex digits>" beside @path. */
static int upload_tmp_name(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 0;
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	hex_encode(rnd, sizeof(rnd), hex);
	if (snprintf(out, outsz, "%.*s/.ftpsfs-tmp-%s", dirlen, path, hex) >=
	    (int)outsz)
		return -ENAMETOOLONG;
	return 0;
}

static int upload_start_digest(struct ftp_upload *u, unsigned hash_algos)
{
	static const int order[] = { FTP_HASH_SHA256, FTP_HASH_SHA512,
				     FTP_HASH_SHA1, FTP_HASH_MD5 };

	u->algo = -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (hash_algos & (1u << order[i])) {
			u->algo = order[i];
			break;
		}
	}
	if (u->algo < 0)
		return 0; /* the server offers none: size only */
	u->md = EVP_MD_CTX_new();
	if (!u->md || !EVP_DigestInit_ex(u->md, upload_md(u->algo), NULL)) {
		ftp_upload_end(u);
		return -ENOMEM;
	}
	return 0;
}

int ftp_upload_begin(struct ftp_upload *u, const char *path, unsigned flags,
		     unsigned hash_algos)
{
	int ret;

	memset(u, 0, sizeof(*u));
	u->flags = flags;
	if (snprintf(u->path, sizeof(u->path), "%s", path) >=
	    (int)sizeof(u->path))
		return -ENAMETOOLONG;
	if (flags & FTP_UPLOAD_ATOMIC) {
		ret = upload_tmp_name(path, u->tmp, sizeof(u->tmp));
		if (ret < 0)
			return ret;
		u->check_size = true; /* before it replaces the file */
	}
	return (flags & FTP_UPLOAD_VERIFY) ? upload_start_digest(u, hash_algos)
					   : 0;
}

const char *ftp_upload_target(const struct ftp_upload *u)
{
	return u->tmp[0] ? u->tmp : u->path;
}

void ftp_upload_digest(struct ftp_upload *u, const void *buf, size_t len)
{
	if (u->md && !EVP_DigestUpdate(u->md, buf, len))
		ftp_upload_size_only(u);
}

void ftp_upload_size_only(struct ftp_upload *u)
{
	EVP_MD_CTX_free(u->md);
	u->md = NULL;
}

void ftp_upload_end(struct ftp_upload *u)
{
	ftp_upload_size_only(u);
	u->cut = false;
}

/* The server's SIZE of the target against @size: 0 or -EIO. */
static int upload_check_size(struct ftp_conn *c, struct ftp_upload *u,
			     uint64_t size)
{
	const char *target = ftp_upload_target(u);
	uint64_t got = 0;
	int ret = ftp_op_size(c, target, &got);

	if (ret == 0 && got != size) {
		snprintf(c->err, sizeof(c->err),
			 "upload not verified: the server has %" PRIu64
			 " bytes, we sent %" PRIu64,
			 got, size);
		return -EIO;
	}
	if (ret == 0 && (u->flags & FTP_UPLOAD_VERIFY))
		log_debug("%s: upload verified (%" PRIu64 " bytes; the server "
			  "offers no digest of the whole file we know)",
			  u->path, size);
	return ret;
}

/* The server's HASH of the target against our digest: 0 or -EIO.  The
 * digest of the whole file covers its size too: one round trip. */
static int upload_check_digest(struct ftp_conn *c, struct ftp_upload *u,
			       uint64_t size)
{
	const struct ftp_hash_info *info = ftp_hash_info(u->algo);
	unsigned char d[EVP_MAX_MD_SIZE];
	char theirs[FTP_HASH_HEX_MAX];
	unsigned dlen = 0;
	int ret;

	/* Taken once: a commit cut with its connection checks again. */
	if (!u->digest[0]) {
		if (!EVP_DigestFinal_ex(u->md, d, &dlen))
			return -EIO;
		hex_encode(d, dlen, u->digest);
	}
	ret = ftp_op_hash(c, ftp_upload_target(u), (enum ftp_hash_algo)u->algo,
			  theirs, sizeof(theirs));
	if (ret == 0 && strcmp(u->digest, theirs) != 0) {
		snprintf(c->err, sizeof(c->err),
			 "upload not verified: the server's %s is %s, ours %s",
			 info->name, theirs, u->digest);
		return -EIO;
	}
	if (ret == 0)
		log_debug("%s: upload verified (%" PRIu64 " bytes, %s)",
			  u->path, size, info->name);
	return ret;
}

bool ftp_upload_needs_commit(const struct ftp_upload *u)
{
	return u->md || u->check_size || u->tmp[0] ||
	       (u->flags & FTP_UPLOAD_VERIFY);
}

/* A commit tried again after its connection broke: was the temporary
 * file renamed into place before the reply was lost?  (The rename comes
 * after every check.) */
static bool upload_renamed(struct ftp_conn *c, const struct ftp_upload *u)
{
	if (ftp_op_what_is(c, u->tmp) != -ENOENT ||
	    ftp_op_what_is(c, u->path) < 0)
		return false;
	log_info("%s: renamed into place before the connection was lost (its "
		 "reply never came)",
		 u->path);
	return true;
}

int ftp_upload_commit(struct ftp_conn *c, struct ftp_upload *u, uint64_t size)
{
	bool again = u->cut;
	int ret = 0;

	u->cut = false;
	if (again && u->tmp[0] && upload_renamed(c, u))
		goto done;
	if (u->md)
		ret = upload_check_digest(c, u, size);
	else if (u->check_size || (u->flags & FTP_UPLOAD_VERIFY))
		ret = upload_check_size(c, u, size);
	if (ret == 0 && u->tmp[0])
		ret = ftp_op_rename(c, u->tmp, u->path);
	if (ret < 0 && c->broken) {
		u->cut = true; /* the caller may go on elsewhere */
		return ret;
	}
	if (ret < 0)
		ftp_upload_abandon(c, u);
done:
	ftp_upload_end(u);
	return ret;
}

bool ftp_upload_cut(const struct ftp_upload *u)
{
	return u->cut;
}

void ftp_upload_abandon(struct ftp_conn *c, struct ftp_upload *u)
{
	char keep[sizeof(c->err)];

	if (u->tmp[0] && c && !c->broken) {
		/* The reason for giving up matters more than this. */
		memcpy(keep, c->err, sizeof(keep));
		(void)ftp_op_delete(c, u->tmp);
		memcpy(c->err, keep, sizeof(keep));
	}
	u->tmp[0] = '\0';
	ftp_upload_end(u);
}

int ftp_upload_resume_point(struct ftp_conn *c, struct ftp_upload *u,
			    uint64_t lo, uint64_t hi, uint64_t *off)
{
	uint64_t size = 0;
	int ret = ftp_op_size(c, ftp_upload_target(u), &size);

	if (ret == -ENOENT && !c->broken) {
		size = 0; /* the cut came before the server made the file */
		ret = 0;
	}
	if (ret < 0)
		return ret;
	if (size < lo || size > hi) {
		snprintf(c->err, sizeof(c->err),
			 "upload cut: the server holds %" PRIu64 " bytes, and "
			 "only bytes %" PRIu64 " to %" PRIu64 " can be sent "
			 "again",
			 size, lo, hi);
		return -EIO;
	}
	u->check_size = true;
	*off = size;
	return 0;
}
