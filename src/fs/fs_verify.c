/*
 * fs_verify.c - checking an upload against the server's SIZE and HASH.
 * See fs_verify.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_verify.h"
#include "ftpsfs/fs.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/log.h"
#include "ftpsfs/spool.h"

#define VERIFY_CHUNK (256 * 1024)

/* Ours to compute, strongest first (CRC32 is not in OpenSSL). */
static const EVP_MD *verify_md(int algo)
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

int fs_verify_start(struct fs_ctx *ctx, struct fs_verify *v)
{
	static const int order[] = { FTP_HASH_SHA256, FTP_HASH_SHA512,
				     FTP_HASH_SHA1, FTP_HASH_MD5 };

	fs_verify_free(v);
	v->algo = -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (ctx->feat.hash_algos & (1u << order[i])) {
			v->algo = order[i];
			break;
		}
	}
	if (v->algo < 0)
		return 0;
	v->md = EVP_MD_CTX_new();
	if (!v->md || !EVP_DigestInit_ex(v->md, verify_md(v->algo), NULL)) {
		fs_verify_free(v);
		return -ENOMEM;
	}
	return 0;
}

void fs_verify_update(struct fs_verify *v, const void *buf, size_t len)
{
	if (v->md && !EVP_DigestUpdate(v->md, buf, len))
		fs_verify_size_only(v);
}

void fs_verify_size_only(struct fs_verify *v)
{
	EVP_MD_CTX_free(v->md);
	v->md = NULL;
}

int fs_verify_spool(struct fs_verify *v, const struct spool *sp)
{
	char *buf;
	uint64_t off = 0;

	if (!v->md)
		return 0;
	buf = malloc(VERIFY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < sp->size) {
		ssize_t n = spool_pread((struct spool *)sp, buf, VERIFY_CHUNK, off);

		if (n <= 0) {
			free(buf);
			return n < 0 ? (int)n : -EIO;
		}
		fs_verify_update(v, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return 0;
}

static void verify_hex(const unsigned char *d, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The server's SIZE of @path against @size: 0 or -EIO (logged). */
static int verify_size(struct ftp_conn *c, const char *path, uint64_t size)
{
	uint64_t got = 0;
	int ret = ftp_op_size(c, path, &got);

	if (ret == 0 && got != size) {
		log_err("%s: upload not verified: the server has %" PRIu64
			" bytes, we sent %" PRIu64, path, got, size);
		ret = -EIO;
	} else if (ret == 0) {
		log_debug("%s: upload verified (%" PRIu64 " bytes; the server "
			  "offers no digest of the whole file we know)", path,
			  size);
	}
	return ret;
}

/* The server's HASH of @path against our digest: 0 or -EIO (logged). */
static int verify_digest(struct fs_verify *v, struct ftp_conn *c,
			 const char *path, uint64_t size)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	char ours[FTP_HASH_HEX_MAX], theirs[FTP_HASH_HEX_MAX];
	unsigned dlen = 0;
	int ret;

	if (!EVP_DigestFinal_ex(v->md, d, &dlen))
		return -EIO;
	verify_hex(d, dlen, ours);
	ret = ftp_op_hash(c, path, (enum ftp_hash_algo)v->algo, theirs,
			  sizeof(theirs));
	if (ret == 0 && strcmp(ours, theirs) != 0) {
		log_err("%s: upload not verified: the server's %s is %s, ours "
			"%s", path, ftp_hash_info(v->algo)->name, theirs, ours);
		ret = -EIO;
	} else if (ret == 0) {
		log_debug("%s: upload verified (%" PRIu64 " bytes, %s)", path,
			  size, ftp_hash_info(v->algo)->name);
	}
	return ret;
}

int fs_verify_check(struct fs_verify *v, struct ftp_conn *c, const char *path,
		    uint64_t size)
{
	/* The digest of the whole file covers its size too: one round
	 * trip, not two. */
	int ret = v->md ? verify_digest(v, c, path, size)
			: verify_size(c, path, size);

	fs_verify_free(v);
	return ret;
}

void fs_verify_free(struct fs_verify *v)
{
	EVP_MD_CTX_free(v->md);
	v->md = NULL;
}
