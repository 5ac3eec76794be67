/*
 * netrc.c - look up credentials in the text of a ~/.netrc file.
 *
 * The format comes from the BSD ftp(1) manual: whitespace-separated tokens,
 * "machine NAME" or "default" opening an entry, followed by "login",
 * "password", "account" and "macdef" with their values.  Two extensions
 * that GNU inetutils and curl accept are supported: double-quoted tokens
 * with backslash escapes (so a password may hold spaces), and '#' comments
 * to the end of the line.  A '#' starts a comment only where a keyword is
 * expected, so "password #x" is still a password.
 *
 * Only the fields of the entry that is returned are copied; values of
 * other entries are never decoded, so a long password elsewhere in the
 * file is no error.  Temporary copies of passwords are wiped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "ftpsfs/netrc.h"

struct netrc_lexer {
	const char *p;
	const char *end;
};

struct netrc_token {
	const char *s; /* inside the quotes for a quoted token */
	size_t len;
	bool quoted;
};

/* One entry as it is being read. */
struct netrc_entry {
	bool open; /* after "machine NAME" or "default" */
	bool is_default;
	bool host_match;
	bool has_login;
	bool too_long; /* a login or password did not fit */
	struct netrc_match m;
};

enum netrc_keyword {
	NETRC_KW_OTHER,
	NETRC_KW_MACHINE,
	NETRC_KW_DEFAULT,
	NETRC_KW_LOGIN,
	NETRC_KW_PASSWORD,
	NETRC_KW_ACCOUNT,
	NETRC_KW_MACDEF,
};

static bool netrc_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static void netrc_skip_line(struct netrc_lexer *lx)
{
	const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));

	lx->p = nl ? nl + 1 : lx->end;
}

/*
 * A quoted token: up to the next unescaped '"' on the same line.  Returns
 * -EINVAL if the line or the text ends first.
 */
static int netrc_quoted(struct netrc_lexer *lx, struct netrc_token *tok)
{
	const char *p = lx->p + 1;

	tok->s = p;
	tok->quoted = true;
	while (p < lx->end && *p != '"') {
		if (*p == '\\')
			p++;
		if (p >= lx->end || *p == '\n' || *p == '\r')
			return -EINVAL;
		p++;
	}
	if (p >= lx->end)
		return -EINVAL;
	tok->len = (size_t)(p - tok->s);
	lx->p = p + 1;
	return 1;
}

/*
 * Next token.  @keyword_pos: a keyword is expected here, so '#' starts a
 * comment.  Returns 1 with @tok filled, 0 at the end, -EINVAL for an
 * unterminated quote.
 */
static int netrc_next(struct netrc_lexer *lx, struct netrc_token *tok,
		      bool keyword_pos)
{
	for (;;) {
		while (lx->p < lx->end && netrc_is_space(*lx->p))
			lx->p++;
		if (lx->p == lx->end)
			return 0;
		if (!keyword_pos || *lx->p != '#')
			break;
		netrc_skip_line(lx);
	}
	if (*lx->p == '"')
		return netrc_quoted(lx, tok);
	tok->s = lx->p;
	tok->quoted = false;
	while (lx->p < lx->end && !netrc_is_space(*lx->p))
		lx->p++;
	tok->len = (size_t)(lx->p - tok->s);
	return 1;
}

/* The value after a keyword: its absence means a truncated file. */
static int netrc_value(struct netrc_lexer *lx, struct netrc_token *tok)
{
	int ret = netrc_next(lx, tok, false);

	return ret == 0 ? -EINVAL : ret;
}

/*
 * Copy a token's value into a buffer of @size bytes, resolving backslash
 * escapes in quoted tokens.  -ENAMETOOLONG if it does not fit, -EINVAL for
 * a NUL byte (it would silently cut the value short).
 */
static int netrc_decode(const struct netrc_token *tok, char *dst, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < tok->len; i++) {
		char c = tok->s[i];

		if (tok->quoted && c == '\\')
			c = tok->s[++i]; /* the lexer checked it exists */
		if (c == '\0')
			return -EINVAL;
		if (n + 1 >= size)
			return -ENAMETOOLONG;
		dst[n++] = c;
	}
	dst[n] = '\0';
	return 0;
}

static bool netrc_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

static enum netrc_keyword netrc_keyword(const struct netrc_token *tok)
{
	static const struct {
		const char *word;
		enum netrc_keyword kw;
	} words[] = {
		{ "machine", NETRC_KW_MACHINE },
		{ "default", NETRC_KW_DEFAULT },
		{ "login", NETRC_KW_LOGIN },
		{ "password", NETRC_KW_PASSWORD },
		{ "account", NETRC_KW_ACCOUNT },
		{ "macdef", NETRC_KW_MACDEF },
	};

	if (tok->quoted)
		return NETRC_KW_OTHER;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) == tok->len &&
		    !memcmp(words[i].word, tok->s, tok->len))
			return words[i].kw;
	}
	return NETRC_KW_OTHER;
}

/* A macro body runs from the line after "macdef NAME" to an empty line. */
static void netrc_skip_macdef(struct netrc_lexer *lx)
{
	netrc_skip_line(lx);
	while (lx->p < lx->end) {
		const char *line = lx->p;

		netrc_skip_line(lx);
		if (*line == '\n' ||
		    (*line == '\r' && line + 1 < lx->end && line[1] == '\n'))
			break;
	}
}

static int netrc_host_matches(const struct netrc_token *tok, const char *host,
			      bool *match)
{
	char name[NETRC_FIELD_MAX + 1];
	int ret = netrc_decode(tok, name, sizeof(name));

	/* a name too long to store is too long to be @host */
	if (ret == -ENAMETOOLONG) {
		*match = false;
		return 0;
	}
	if (ret < 0)
		return ret;
	*match = netrc_ieq(name, host);
	return 0;
}

/* Store a login or password value if the entry might be returned. */
static int netrc_store(struct netrc_entry *e, const struct netrc_token *tok,
		       char *field)
{
	int ret;

	if (!e->open || (!e->host_match && !e->is_default))
		return 0;
	ret = netrc_decode(tok, field, NETRC_FIELD_MAX + 1);
	if (ret == -ENAMETOOLONG) {
		field[0] = '\0';
		e->too_long = true;
		return 0;
	}
	return ret;
}

static bool netrc_user_ok(const struct netrc_entry *e, const char *user)
{
	if (!user || !*user || !e->has_login)
		return true;
	return strcmp(e->m.login, user) == 0;
}

static void netrc_wipe(struct netrc_entry *e)
{
	explicit_bzero(e, sizeof(*e));
}

/* Handle one keyword.  Returns 0, or a negative errno. */
static int netrc_keyword_value(struct netrc_lexer *lx, enum netrc_keyword kw,
			       struct netrc_entry *cur, const char *host)
{
	struct netrc_token val;
	int ret;

	switch (kw) {
	case NETRC_KW_MACHINE:
		ret = netrc_value(lx, &val);
		if (ret < 0)
			return ret;
		cur->open = true;
		return netrc_host_matches(&val, host, &cur->host_match);
	case NETRC_KW_DEFAULT:
		cur->open = true;
		cur->is_default = true;
		return 0;
	case NETRC_KW_LOGIN:
		ret = netrc_value(lx, &val);
		if (ret < 0)
			return ret;
		cur->has_login = true;
		return netrc_store(cur, &val, cur->m.login);
	case NETRC_KW_PASSWORD:
		ret = netrc_value(lx, &val);
		if (ret < 0)
			return ret;
		return netrc_store(cur, &val, cur->m.password);
	case NETRC_KW_ACCOUNT:
		ret = netrc_value(lx, &val);
		return ret < 0 ? ret : 0;
	case NETRC_KW_MACDEF:
		ret = netrc_value(lx, &val);
		if (ret < 0)
			return ret;
		netrc_skip_macdef(lx);
		return 0;
	case NETRC_KW_OTHER:
		/* unknown words ("port", typos) are skipped, as ftp(1) does */
		return 0;
	}
	return 0;
}

/*
 * An entry ends.  Returns 1 if it is a matching "machine" entry (the
 * answer), 0 otherwise; a matching "default" is kept in @def if it is the
 * first one.
 */
static int netrc_close_entry(struct netrc_entry *cur, struct netrc_entry *def,
			     const char *user)
{
	int found = 0;

	if (cur->open && netrc_user_ok(cur, user)) {
		if (cur->host_match && !cur->is_default)
			found = 1;
		else if (cur->is_default && !def->open)
			*def = *cur;
	}
	if (!found)
		netrc_wipe(cur);
	return found;
}

static int netrc_return(struct netrc_entry *e, struct netrc_match *out)
{
	if (e->too_long)
		return -ENAMETOOLONG;
	*out = e->m;
	return 0;
}

int netrc_lookup(const char *text, size_t len, const char *host,
		 const char *user, struct netrc_match *out)
{
	struct netrc_lexer lx = { .p = text, .end = text + len };
	struct netrc_entry cur = { 0 }, def = { 0 };
	struct netrc_token tok;
	enum netrc_keyword kw;
	int ret;

	memset(out, 0, sizeof(*out));
	while ((ret = netrc_next(&lx, &tok, true)) > 0) {
		kw = netrc_keyword(&tok);
		if ((kw == NETRC_KW_MACHINE || kw == NETRC_KW_DEFAULT) &&
		    netrc_close_entry(&cur, &def, user)) {
			ret = netrc_return(&cur, out);
			goto out_wipe;
		}
		ret = netrc_keyword_value(&lx, kw, &cur, host);
		if (ret < 0)
			goto out_wipe;
	}
	if (ret < 0)
		goto out_wipe;
	if (netrc_close_entry(&cur, &def, user))
		ret = netrc_return(&cur, out);
	else if (def.open)
		ret = netrc_return(&def, out);
	else
		ret = -ENOENT;
out_wipe:
	netrc_wipe(&cur);
	netrc_wipe(&def);
	return ret;
}
