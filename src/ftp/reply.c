/*
 * reply.c - FTP reply assembly and the parsers for 227/229/257/211.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/log.h"
#include "ftpsfs/lsparse.h"
#include "ftpsfs/reply.h"

void ftp_reply_init(struct ftp_reply *r)
{
	r->code = 0;
	r->text[0] = '\0';
	r->text_len = 0;
	r->nlines = 0;
	r->multiline = false;
}

/* "NNN" with a first digit 1-5 (RFC 959 4.2), followed by @sep or end. */
static int reply_code_of(const char *line, size_t len, char *sep)
{
	if (len < 3 || line[0] < '1' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	*sep = len > 3 ? line[3] : ' ';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static void reply_append(struct ftp_reply *r, const char *line, size_t len)
{
	size_t room = sizeof(r->text) - 1 - r->text_len;

	if (r->text_len > 0 && room > 0) {
		r->text[r->text_len++] = '\n';
		room--;
	}
	if (len > room)
		len = room;
	memcpy(r->text + r->text_len, line, len);
	r->text_len += len;
	r->text[r->text_len] = '\0';
}

int ftp_reply_feed_line(struct ftp_reply *r, const char *line, size_t len)
{
	char sep = 0;
	int code;

	if (++r->nlines > FTP_REPLY_LINES_MAX)
		return -EMSGSIZE;
	code = reply_code_of(line, len, &sep);
	if (!r->multiline) {
		if (code < 0 || (sep != ' ' && sep != '-'))
			return -EPROTO;
		r->code = code;
		reply_append(r, line, len);
		if (sep == '-') {
			r->multiline = true;
			return 0;
		}
		return 1;
	}
	reply_append(r, line, len);
	/* The reply ends with a line "NNN " carrying the same code. */
	if (code == r->code && sep == ' ') {
		r->multiline = false;
		return 1;
	}
	return 0;
}

const char *ftp_reply_message(const struct ftp_reply *r, char *buf,
			      size_t bufsz)
{
	const char *s = r->text_len > 4 ? r->text + 4 : "";

	/* Escaped here, where server text becomes message text: an ESC,
	 * BEL or bare CR must not reach the user's terminal or the log. */
	return log_escape(buf, bufsz, s, strcspn(s, "\n"));
}

int ftp_parse_epsv(const char *text, uint16_t *port)
{
	const char *p = strchr(text, '(');
	unsigned long v = 0;
	char d;

	/* RFC 2428 section 3: (<d><d><d><port><d>), d is printable ASCII. */
	if (!p || !p[1])
		return -EPROTO;
	d = p[1];
	if (d < 33 || d > 126 || isdigit((unsigned char)d) || p[2] != d ||
	    p[3] != d)
		return -EPROTO;
	p += 4;
	if (!isdigit((unsigned char)*p))
		return -EPROTO;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p++ - '0');
		if (v > 65535)
			return -EPROTO;
	}
	if (*p != d || p[1] != ')' || v == 0)
		return -EPROTO;
	*port = (uint16_t)v;
	return 0;
}

int ftp_parse_pasv(const char *text, uint16_t *port)
{
	const char *p = text;
	unsigned v[6];
	int i;

	/* Some servers omit the parentheses: find the first digit run
	 * after the code that starts six comma-separated numbers. */
	p = strchr(text, '(');
	p = p ? p + 1 : text + 4;
	while (*p && !isdigit((unsigned char)*p))
		p++;
	for (i = 0; i < 6; i++) {
		unsigned long n = 0;

		if (!isdigit((unsigned char)*p))
			return -EPROTO;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (unsigned long)(*p++ - '0');
			if (n > 255)
				return -EPROTO;
		}
		v[i] = (unsigned)n;
		if (i < 5 && *p++ != ',')
			return -EPROTO;
	}
	if (v[4] == 0 && v[5] == 0)
		return -EPROTO;
	*port = (uint16_t)(v[4] * 256 + v[5]);
	return 0;
}

int ftp_parse_pwd(const char *text, char *out, size_t outsz)
{
	const char *p = strchr(text, '"');
	size_t o = 0;

	if (!p || strncmp(text, "257", 3) != 0)
		return -EPROTO;
	for (p++; *p && *p != '\n'; p++) {
		if (*p == '"') {
			if (p[1] != '"')
				break;
			p++;
		}
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = *p;
	}
	if (*p != '"' || o == 0)
		return -EPROTO;
	out[o] = '\0';
	return 0;
}

static bool feat_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len >= n && strncasecmp(line, name, n) == 0 &&
	       (len == n || line[n] == ' ');
}

/*
 * The MLST feature line lists the facts the server knows, those it sends
 * now marked with "*" (RFC 3659 7.8).  Collect the facts we use that it
 * knows, spelled as it spells them (pyftpdlib compares OPTS MLST facts
 * case-sensitively), and keep them as the OPTS MLST argument if any of
 * them is off (pyftpdlib: unix.mode and unique are off by default).
 */
static void feat_mlst_facts(const char *s, size_t len, struct ftp_features *f)
{
	static const char *const used[] = { "type", "size", "modify",
					    "unix.mode", "unique" };
	const char *p = s + 4, *end = s + len; /* after "MLST" */
	bool some_off = false;
	size_t o = 0;

	while (p < end && *p == ' ')
		p++;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t flen = semi ? (size_t)(semi - p) : (size_t)(end - p);
		bool on = flen > 0 && p[flen - 1] == '*';
		size_t nlen = on ? flen - 1 : flen;

		for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
			if (strlen(used[i]) != nlen ||
			    strncasecmp(p, used[i], nlen) != 0)
				continue;
			some_off |= !on;
			if (o + nlen + 2 <= sizeof(f->mlst_opts)) {
				memcpy(f->mlst_opts + o, p, nlen);
				o += nlen;
				f->mlst_opts[o++] = ';';
			}
		}
		p = semi ? semi + 1 : end;
	}
	f->mlst_opts[some_off ? o : 0] = '\0';
}

void ftp_parse_feat(const char *text, struct ftp_features *f)
{
	const char *line = text;

	memset(f, 0, sizeof(*f));
	f->hash_selected = -1;
	while (*line) {
		size_t len = strcspn(line, "\n");
		const char *s = line;
		size_t sl = len;

		/* Feature lines start with a space (RFC 2389 3.2); the
		 * first and last lines carry the code. */
		while (sl > 0 && *s == ' ') {
			s++;
			sl--;
		}
		if (s != line && ftp_hash_feat_line(s, sl, &f->hash_algos,
						    &f->hash_selected)) {
			/* taken */
		} else if (s != line) {
			if (feat_is(s, sl, "MLST")) {
				f->mlst = true;
				f->mlst_unique = memmem(s, sl, "unique", 6) ||
						 memmem(s, sl, "Unique", 6);
				f->mlst_mode = memmem(s, sl, "UNIX.mode", 9) ||
					       memmem(s, sl, "unix.mode", 9);
				feat_mlst_facts(s, sl, f);
			} else if (feat_is(s, sl, "AUTH")) {
				f->auth_tls = memmem(s, sl, "TLS", 3) != NULL;
			} else if (feat_is(s, sl, "UTF8")) {
				f->utf8 = true;
			} else if (feat_is(s, sl, "EPSV")) {
				f->epsv = true;
			} else if (feat_is(s, sl, "MDTM")) {
				f->mdtm = true;
			} else if (feat_is(s, sl, "SIZE")) {
				f->size = true;
			} else if (feat_is(s, sl, "REST")) {
				f->rest_stream =
					memmem(s, sl, "STREAM", 6) != NULL;
			} else if (feat_is(s, sl, "MFMT")) {
				f->mfmt = true;
			} else if (feat_is(s, sl, "TVFS")) {
				f->tvfs = true;
			} else if (feat_is(s, sl, "AVBL")) {
				f->avbl = true;
			}
		}
		line += len;
		if (*line == '\n')
			line++;
	}
}

/* RFC 3659 section 2.3: time-val = 14DIGIT [ "." 1*DIGIT ], always UTC. */
int ftp_parse_mdtm(const char *text, int64_t *sec, uint32_t *nsec)
{
	const char *p = text;
	int v[6], widths[6] = { 4, 2, 2, 2, 2, 2 };
	uint32_t ns = 0, scale = 100000000;

	if (strncmp(text, "213 ", 4) != 0)
		return -EPROTO;
	p += 4;
	for (int i = 0; i < 6; i++) {
		v[i] = 0;
		for (int k = 0; k < widths[i]; k++, p++) {
			if (!isdigit((unsigned char)*p))
				return -EPROTO;
			v[i] = v[i] * 10 + (*p - '0');
		}
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EPROTO;
		for (; isdigit((unsigned char)*p); p++) {
			ns += (uint32_t)(*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p && *p != '\n' && *p != ' ' && *p != '\r')
		return -EPROTO;
	if (lsparse_utc_time(v[0], v[1], v[2], v[3], v[4], v[5], sec) < 0)
		return -EPROTO;
	*nsec = ns;
	return 0;
}

int ftp_parse_size(const char *text, uint64_t *size)
{
	const char *p = text + 4;
	uint64_t n = 0;

	if (strncmp(text, "213 ", 4) != 0 || !isdigit((unsigned char)*p))
		return -EPROTO;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -EPROTO;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (*p && *p != '\n' && *p != ' ' && *p != '\r')
		return -EPROTO;
	*size = n;
	return 0;
}

int ftp_format_time(int64_t sec, char *buf, size_t bufsz)
{
	/* Civil from days (proleptic Gregorian), the inverse of
	 * lsparse_utc_time(). */
	int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
	int64_t rem = sec - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);

	if (y < 1 || y > 9999 || bufsz < 15)
		return -EINVAL;
	snprintf(buf, bufsz, "%04d%02d%02d%02d%02d%02d", (int)y, (int)m, (int)d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	return 0;
}
