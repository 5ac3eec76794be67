/*
 * symlink_policy.c - contain and transform symlink targets (see the header
 * for the reasoning).  Paths are handled as lists of components: empty
 * components ("//") and "." are skipped, ".." is kept as a component.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ftpsfs/symlink_policy.h"

/* The next component after *p (0 at the end); advances *p past it. */
static size_t next_comp(const char **p, const char **comp)
{
	for (;;) {
		const char *s = *p, *c;
		size_t n;

		while (*s == '/')
			s++;
		c = s;
		while (*s && *s != '/')
			s++;
		*p = s;
		n = (size_t)(s - c);
		if (n == 1 && c[0] == '.')
			continue;
		*comp = c;
		return n;
	}
}

static bool is_dotdot(const char *c, size_t n)
{
	return n == 2 && c[0] == '.' && c[1] == '.';
}

static size_t count_comps(const char *path)
{
	const char *c;
	size_t n = 0;

	while (next_comp(&path, &c))
		n++;
	return n;
}

/*
 * Number of leading components that @a and @b share; *a_has_dotdot tells
 * whether @a contains "..".
 */
static size_t common_comps(const char *a, const char *b, bool *a_has_dotdot)
{
	const char *ca, *cb;
	size_t na, nb, common = 0;
	bool same = true;

	*a_has_dotdot = false;
	while ((na = next_comp(&a, &ca)) != 0) {
		if (is_dotdot(ca, na))
			*a_has_dotdot = true;
		nb = same ? next_comp(&b, &cb) : 0;
		if (same && na == nb && memcmp(ca, cb, na) == 0)
			common++;
		else
			same = false;
	}
	return common;
}

/* Depth of @dir below @root; -EINVAL if @dir is not at or below it, or
 * either has a ".." (paths built from names never have one). */
static int depth_below(const char *root, const char *dir, size_t *depth)
{
	bool root_dotdot, dir_dotdot;
	size_t rn = count_comps(root);

	if (common_comps(root, dir, &root_dotdot) != rn || root_dotdot)
		return -EINVAL;
	(void)common_comps(dir, root, &dir_dotdot);
	if (dir_dotdot)
		return -EINVAL;
	*depth = count_comps(dir) - rn;
	return 0;
}

static int put(char *out, size_t outsz, size_t *o, const char *s, size_t n)
{
	if (*o + n >= outsz)
		return -ENAMETOOLONG;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/*
 * @target (absolute) relative to @linkdir, if @target lies at or below
 * @root and has no "..".  Returns 0, -ENOENT (not transformable),
 * -ENAMETOOLONG.
 */
static int transform(const char *root, const char *linkdir, const char *target,
		     char *out, size_t outsz)
{
	bool has_dotdot, unused;
	size_t rn = count_comps(root), ln = count_comps(linkdir);
	size_t common, o = 0;
	const char *p = target, *c;
	size_t n;
	int ret;

	if (common_comps(target, root, &has_dotdot) != rn || has_dotdot)
		return -ENOENT;
	common = common_comps(target, linkdir, &unused);
	out[0] = '\0';
	for (size_t i = common; i < ln; i++) {
		ret = put(out, outsz, &o, "../", 3);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; (n = next_comp(&p, &c)) != 0; i++) {
		if (i < common)
			continue;
		ret = put(out, outsz, &o, c, n);
		if (ret == 0)
			ret = put(out, outsz, &o, "/", 1);
		if (ret < 0)
			return ret;
	}
	if (o == 0)
		return put(out, outsz, &o, ".", 1);
	out[o - 1] = '\0'; /* the last '/' */
	return 0;
}

/* Relative, ".." only in front, and no more of them than @depth. */
static bool contained(const char *target, size_t depth)
{
	const char *p = target, *c;
	size_t n, ups = 0;
	bool seen_name = false;

	if (target[0] == '/')
		return false;
	while ((n = next_comp(&p, &c)) != 0) {
		if (!is_dotdot(c, n))
			seen_name = true;
		else if (seen_name || ++ups > depth)
			return false;
	}
	return true;
}

/* What both directions refuse alike; *depth as depth_below(). */
static int check_link(const char *root, const char *linkdir, const char *target,
		      size_t outsz, size_t *depth)
{
	if (outsz == 0)
		return -ENAMETOOLONG;
	if (!target[0])
		return -EIO;
	return depth_below(root, linkdir, depth);
}

int symlink_present(const char *root, const char *linkdir, const char *target,
		    unsigned flags, char *out, size_t outsz)
{
	size_t depth, o = 0;
	int ret = check_link(root, linkdir, target, outsz, &depth);

	if (ret < 0)
		return ret;
	if (target[0] == '/' && (flags & SYMLINK_TRANSFORM)) {
		ret = transform(root, linkdir, target, out, outsz);
		if (ret != -ENOENT)
			return ret;
	}
	if ((flags & SYMLINK_CONTAIN) && !contained(target, depth))
		return -EPERM;
	out[0] = '\0';
	return put(out, outsz, &o, target, strlen(target));
}

int symlink_server_target(const char *root, const char *linkdir,
			  const char *target, char *out, size_t outsz)
{
	const char *p = linkdir, *c;
	size_t depth, n, o = 0, lens[4096 / 2];
	size_t nlens = 0, floor;
	int ret = check_link(root, linkdir, target, outsz, &depth);

	if (ret < 0)
		return ret;
	if (target[0] == '/')
		return -EPERM;
	/* @linkdir's components, then @target's onto them; ".." pops one,
	 * never below @root's. */
	out[0] = '\0';
	floor = count_comps(root);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			p = target;
		while ((n = next_comp(&p, &c)) != 0) {
			if (is_dotdot(c, n)) {
				if (nlens == floor)
					return -EPERM;
				o = lens[--nlens];
				out[o] = '\0';
				continue;
			}
			if (nlens == sizeof(lens) / sizeof(lens[0]))
				return -ENAMETOOLONG;
			lens[nlens++] = o;
			ret = put(out, outsz, &o, "/", 1);
			if (ret == 0)
				ret = put(out, outsz, &o, c, n);
			if (ret < 0)
				return ret;
		}
	}
	return o == 0 ? put(out, outsz, &o, "/", 1) : 0;
}
