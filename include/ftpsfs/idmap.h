/*
 * idmap.h - -o idmap=names: owners and groups the server names, shown as
 * local accounts (idmap.c).
 *
 * A name is looked up in uidfile=/gidfile= first ("name:id" lines), then
 * in the system's accounts (getpwnam/getgrnam, so NSS, LDAP ... work);
 * the answers, found or not, are kept for the mount's life (bounded).  A
 * name neither knows is not mapped: the caller shows its fallback (the
 * mounting user, or uid=/gid=).  Numeric owners (vsftpd's default LIST,
 * ProFTPD's UNIX.owner) are names like any other: a file may map them.
 *
 * Thread-safe: one mutex guards the cache (a leaf lock, no I/O under it;
 * NSS is asked without it).
 */
#ifndef FTPSFS_IDMAP_H
#define FTPSFS_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct idmap;

/*
 * Read @uidfile and @gidfile (either may be NULL).  Returns 0 with *out,
 * or -EINVAL (a bad line: @err says which), -ENOENT and friends (the file
 * cannot be read: @err says why), -ENOMEM.
 */
int idmap_new(const char *uidfile, const char *gidfile, struct idmap **out,
	      char *err, size_t errsz);
void idmap_free(struct idmap *m);

/*
 * One line of a uidfile/gidfile: "name:id", blank, or a "#" comment;
 * spaces around name and id are ignored.  Returns 1 with @name (a copy
 * into @namebuf) and *id, 0 for a line with nothing, -EINVAL otherwise
 * (no ':', an empty name, an id that is no number below 2^32-1).
 */
int idmap_parse_line(const char *line, char *namebuf, size_t namesz,
		     uint32_t *id);

/* The local uid / gid for the server's @name.  Returns true with *id, or
 * false when no file and no account knows it (or @name is NULL). */
bool idmap_uid(struct idmap *m, const char *name, uid_t *id);
bool idmap_gid(struct idmap *m, const char *name, gid_t *id);

#endif
