/*
 * ftp_hash.h - checksums the server computes: HASH (draft-bryan-ftpext-
 * hash, with OPTS HASH to choose the algorithm).  The older XCRC, XMD5,
 * XSHA256 ... commands are not used: their optional byte range makes a
 * path with spaces ambiguous (ProFTPD refuses "XSHA256 a b").  Pure
 * functions over the names and replies; the command is ftp_op_hash().
 */
#ifndef FTPSFS_FTP_HASH_H
#define FTPSFS_FTP_HASH_H

#include <stdbool.h>
#include <stddef.h>

enum ftp_hash_algo {
	FTP_HASH_CRC32,
	FTP_HASH_MD5,
	FTP_HASH_SHA1,
	FTP_HASH_SHA256,
	FTP_HASH_SHA512,
	FTP_HASH_COUNT
};

/* Longest hex digest (SHA-512) plus NUL. */
#define FTP_HASH_HEX_MAX 129

struct ftp_hash_info {
	const char *hash_name; /* in FEAT HASH and OPTS HASH: "SHA-256" */
	const char *name;      /* ours (xattr suffix): "sha256" */
	size_t hexlen;	       /* digits in the digest */
};

const struct ftp_hash_info *ftp_hash_info(enum ftp_hash_algo a);

/* The algorithm named @name ("sha256", as in struct ftp_hash_info), or
 * -1. */
int ftp_hash_by_name(const char *name);

/*
 * Look at one FEAT feature line @s (@len bytes, leading space removed):
 * "HASH SHA-1*;SHA-256;..." sets the algorithms HASH offers in *hash_mask
 * (bit 1 << algo) and the one selected now (marked '*') in *selected.
 * Returns whether it was the HASH line.
 */
bool ftp_hash_feat_line(const char *s, size_t len, unsigned *hash_mask,
			int *selected);

/*
 * The digest in a HASH reply's text (all lines, '\n'-joined; the last
 * one counts): "213 ALGO RANGE HEX PATH".  ALGO must be @a's and HEX
 * have exactly its digits; it is stored lower-cased in @out.  Returns 0
 * or -EPROTO.
 */
int ftp_parse_hash(const char *text, enum ftp_hash_algo a, char *out,
		   size_t outsz);

#endif
