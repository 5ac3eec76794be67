/*
 * idmap.c - owner and group names from the server to local ids
 * (idmap.h).
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "ftpsfs/idmap.h"

#define IDMAP_NAME_MAX	 256   /* longer names are never mapped */
#define IDMAP_CACHE_MAX	 4096  /* names remembered per kind */
#define IDMAP_FILE_LINES 65536 /* a bound on a map file */
#define IDMAP_NSS_BUF	 16384 /* getpwnam_r/getgrnam_r scratch */

struct idmap_entry {
	char *name;
	bool known;
	uint32_t id;
	UT_hash_handle hh;
};

/* One kind (users or groups): the file's names, then what NSS said. */
struct idmap_table {
	struct idmap_entry *file;  /* read-only after idmap_new() */
	struct idmap_entry *cache; /* lock */
	unsigned cached;	   /* lock */
};

struct idmap {
	pthread_mutex_t lock;
	struct idmap_table users, groups;
};

static void idmap_table_free(struct idmap_entry **h)
{
	struct idmap_entry *e, *tmp;

	HASH_ITER(hh, *h, e, tmp)
	{
		HASH_DEL(*h, e);
		free(e->name);
		free(e);
	}
}

static int idmap_add(struct idmap_entry **h, const char *name, bool known,
		     uint32_t id)
{
	struct idmap_entry *e = calloc(1, sizeof(*e));

	if (!e || !(e->name = strdup(name))) {
		free(e);
		return -ENOMEM;
	}
	e->known = known;
	e->id = id;
	HASH_ADD_KEYPTR(hh, *h, e->name, strlen(e->name), e);
	return 0;
}

static char *idmap_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int idmap_parse_line(const char *line, char *namebuf, size_t namesz,
		     uint32_t *id)
{
	char copy[IDMAP_NAME_MAX + 32], *colon, *name, *num, *end;
	size_t len = strlen(line);
	unsigned long long v;

	if (len >= sizeof(copy))
		return -EINVAL;
	memcpy(copy, line, len + 1);
	name = idmap_trim(copy);
	if (*name == '\0' || *name == '#')
		return 0;
	colon = strrchr(name, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	name = idmap_trim(name);
	num = idmap_trim(colon + 1);
	if (*name == '\0' || *num < '0' || *num > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(num, &end, 10);
	/* (uid_t)-1 means "no change" to chown(2): never an id. */
	if (errno || *end || v >= UINT32_MAX ||
	    (size_t)snprintf(namebuf, namesz, "%s", name) >= namesz)
		return -EINVAL;
	*id = (uint32_t)v;
	return 1;
}

static int idmap_read_file(const char *path, struct idmap_entry **h, char *err,
			   size_t errsz)
{
	FILE *f = fopen(path, "re");
	char line[IDMAP_NAME_MAX + 32], name[IDMAP_NAME_MAX];
	unsigned n = 0;
	uint32_t id;
	int ret = 0;

	if (!f) {
		ret = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		struct idmap_entry *dup = NULL;
		int got;

		n++;
		got = strchr(line, '\n') || feof(f)
			      ? idmap_parse_line(line, name, sizeof(name), &id)
			      : -EINVAL; /* a line too long */
		if (got < 0 || n > IDMAP_FILE_LINES) {
			snprintf(err, errsz,
				 "%s line %u: expected name:id (an id below "
				 "4294967295), a # comment or nothing",
				 path, n);
			ret = -EINVAL;
			break;
		}
		if (got == 0)
			continue;
		HASH_FIND_STR(*h, name, dup);
		if (dup)
			dup->id = id; /* the last line for a name wins */
		else
			ret = idmap_add(h, name, true, id);
	}
	fclose(f);
	return ret;
}

int idmap_new(const char *uidfile, const char *gidfile, struct idmap **out,
	      char *err, size_t errsz)
{
	struct idmap *m = calloc(1, sizeof(*m));
	int ret = 0;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	if (uidfile)
		ret = idmap_read_file(uidfile, &m->users.file, err, errsz);
	if (ret == 0 && gidfile)
		ret = idmap_read_file(gidfile, &m->groups.file, err, errsz);
	if (ret < 0) {
		idmap_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

void idmap_free(struct idmap *m)
{
	if (!m)
		return;
	idmap_table_free(&m->users.file);
	idmap_table_free(&m->users.cache);
	idmap_table_free(&m->groups.file);
	idmap_table_free(&m->groups.cache);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The system's answer for @name: getpwnam_r or getgrnam_r. */
static bool idmap_nss(const char *name, bool user, uint32_t *id)
{
	char *buf = malloc(IDMAP_NSS_BUF);
	bool found = false;

	if (!buf)
		return false;
	if (user) {
		struct passwd pw, *res = NULL;

		found = getpwnam_r(name, &pw, buf, IDMAP_NSS_BUF, &res) == 0 &&
			res;
		if (found)
			*id = (uint32_t)pw.pw_uid;
	} else {
		struct group gr, *res = NULL;

		found = getgrnam_r(name, &gr, buf, IDMAP_NSS_BUF, &res) == 0 &&
			res;
		if (found)
			*id = (uint32_t)gr.gr_gid;
	}
	free(buf);
	return found;
}

static bool idmap_lookup(struct idmap *m, struct idmap_table *t,
			 const char *name, bool user, uint32_t *id)
{
	struct idmap_entry *e = NULL;
	bool known = false, have;

	if (!m || !name || !*name || strlen(name) >= IDMAP_NAME_MAX)
		return false;
	HASH_FIND_STR(t->file, name, e);
	if (e) {
		*id = e->id;
		return true;
	}
	pthread_mutex_lock(&m->lock);
	HASH_FIND_STR(t->cache, name, e);
	have = e != NULL;
	if (e) {
		known = e->known;
		*id = e->id;
	}
	pthread_mutex_unlock(&m->lock);
	if (have)
		return known;
	/* Asked without the lock: NSS may be slow (LDAP).  Two threads may
	 * ask the same name at once; the second answer is not kept. */
	known = idmap_nss(name, user, id);
	pthread_mutex_lock(&m->lock);
	HASH_FIND_STR(t->cache, name, e);
	if (!e && t->cached < IDMAP_CACHE_MAX &&
	    idmap_add(&t->cache, name, known, known ? *id : 0) == 0)
		t->cached++;
	pthread_mutex_unlock(&m->lock);
	return known;
}

bool idmap_uid(struct idmap *m, const char *name, uid_t *id)
{
	uint32_t v;

	if (!m || !idmap_lookup(m, &m->users, name, true, &v))
		return false;
	*id = (uid_t)v;
	return true;
}

bool idmap_gid(struct idmap *m, const char *name, gid_t *id)
{
	uint32_t v;

	if (!m || !idmap_lookup(m, &m->groups, name, false, &v))
		return false;
	*id = (gid_t)v;
	return true;
}
