/*
 * ftp_root.h - where a mount's remote directory is, and what it is.
 */
#ifndef FTPSFS_FTP_ROOT_H
#define FTPSFS_FTP_ROOT_H

#include <stdbool.h>
#include <stddef.h>

#include "ftpsfs/lsparse.h"

struct ftp_conn;

/*
 * Make @spec (the remote path as the user gave it, UTF-8) absolute into
 * @root: @spec itself when absolute, else the login directory (PWD) with
 * @spec appended.  Checks that the directory may be entered (CWD), and
 * asks its facts (MLST, where offered) into @e, whose strings then point
 * into @buf, setting *@have_entry.  In as few round trips as the protocol
 * allows: "PWD" and "CWD spec" (relative to the login directory: the same
 * one), or "CWD root" and "MLST root", in one flight.
 *
 * Returns 0, or a negative errno with ftp_conn_err() saying why: -EPROTO
 * (no usable PWD reply, or a login directory with no UTF-8 form),
 * -ENAMETOOLONG, -ENOENT (CWD refused), or a transport error.
 */
int ftp_resolve_root(struct ftp_conn *c, const char *spec, char *root,
		     size_t rootsz, struct ftp_entry *e, char *buf,
		     size_t bufsz, bool *have_entry);

#endif
