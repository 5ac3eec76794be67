/*
 * probe_internal.h - state shared by the files of the probe module.
 *
 * The probe is single-threaded: one struct probe, the connections it
 * opens one after the other, and the facts each check leaves for the
 * verdict (probe_verdict.c).  Printing happens here, on stdout, and only
 * here: the library modules underneath never print.
 */
#ifndef FTPSFS_PROBE_INTERNAL_H
#define FTPSFS_PROBE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/probe.h"
#include "ftpsfs/setup.h"
#include "ftpsfs/tls.h"
#include "ftpsfs/tofu.h"

/* Data connection modes, each tried on its own. */
enum probe_mode { PROBE_EPSV, PROBE_PASV, PROBE_EPRT, PROBE_PORT, PROBE_MODES };

/* What one transfer showed. */
struct probe_xfer {
	bool tried;
	bool ok;      /* completed, confirmed by the server */
	bool reached; /* a data connection was made (TCP and TLS) */
	bool unknown; /* EPSV/EPRT unknown to the server: the fallback ran */
	bool offered; /* a TLS session was offered for resumption */
	bool resumed; /* ... and the server resumed it */
	char err[512];
};

/* Most bytes of a file the probe reads (its beginning, for the checks
 * that compare content). */
#define PROBE_READ_MAX 65536

/* The names of the probe's temporary file, directory and symlink start
 * with this (probe_data.c). */
#define PROBE_TMP_PREFIX ".ftpsfs-probe-"

/* Most suggestions a report can make (see probe_verdict.c). */
#define PROBE_SUGGEST_MAX 8

struct probe_suggestion {
	char option[128]; /* "tls_max=1.2" or, to drop one, "-active" */
	char why[256];
};

struct probe {
	const struct probe_args *a;
	struct setup *s;	     /* a->setup */
	const struct ftpsfs_opts *o; /* s->opts */
	struct ftp_endpoint ep;	     /* as a mount's (setup_endpoint()),
				      * the probe's own: its checks set
				      * the mode (probe_set_mode()) */
	struct tls_ctx *tls;
	int tls_max;	    /* the context's cap: 0 or TLS1_2_VERSION */
	struct ftp_conn *c; /* the main connection, or NULL */
	unsigned next_id;

	/* Seen through the endpoint's and the TLS context's observers. */
	char greeting[2048]; /* the server's text: escape to print */
	bool have_greeting;
	int last_code;		    /* last reply on any connection */
	bool saw_prelim;	    /* a 1xx reply came (reset by the checks) */
	char last_text[512];	    /* ... code and first line, escaped */
	struct tls_peer_info *peer; /* last control handshake, or NULL */
	bool peer_seen;		    /* ... during the last probe_connect() */
	char tls13_error[512];	    /* why the first handshake failed */
	char why[1024];		    /* what stops a mount (escaped) */

	char root[HOSTSPEC_PATH_MAX + 1]; /* the remote directory */

	/* Facts for the verdict. */
	bool tls13_failed;  /* handshake failed with 1.3, 1.2 worked */
	bool tls12_resumes; /* data refused with 1.3, resumed on 1.2 */
	struct probe_xfer mode[PROBE_MODES];
	int work_mode;	    /* the mode the checks used; -1: none */
	bool mount_mode_ok; /* the mode the options choose works */
	bool other_mode_ok; /* ... the other one (passive/active) */
	struct probe_xfer list, retr, stor;
	bool mlsd_fails;		  /* FEAT offers MLSD, it fails */
	int list_dots, mlsd_dots;	  /* dot names LIST -a and MLSD showed
					   * (the probe's own left out); -1 if
					   * not listed */
	char file[HOSTSPEC_PATH_MAX + 1]; /* a file to read (readonly) */
	uint64_t file_size;
	bool have_file;
	uint8_t *content; /* what RETR read of it (malloc) */
	size_t content_len;
	bool content_whole;  /* ... all of it */
	char tmp_name[64];   /* .ftpsfs-probe-PID-RANDOM */
	bool tmp_name_taken; /* seen in a listing: choose again */
	char tmp_path[HOSTSPEC_PATH_MAX + 1]; /* root + tmp_name */
	bool tmp_file; /* STOR was sent: delete at the end */
	bool tmp_dir;  /* MKD succeeded: remove at the end */
	bool tmp_link; /* SITE SYMLINK succeeded: delete */
	/* Files the last LIST listing showed that a mount could learn the
	 * LIST zone from (ftp_learned.h), and their LIST times. */
	char zone_name[FTP_ZONE_SAMPLES][256];
	int64_t zone_time[FTP_ZONE_SAMPLES];
	size_t nzone;
	int file_times;	     /* 1 settable, 0 not, -1 unknown */
	int dir_times;	     /* the same for directories */
	unsigned conn_limit; /* 0: none met up to the bound */

	struct probe_suggestion suggest[PROBE_SUGGEST_MAX];
	unsigned nsuggest;
};

/* probe_report.c */

/* Print "key: value" (value printf-style; the caller escapes server
 * text), and a section title. */
void probe_fact(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void probe_section(const char *title);

/* Each line of the server's multi-line @text as "key: line", escaped. */
void probe_fact_lines(const char *key, const char *text);

/* @in fit for printing into @out (log_sanitize()); returns @out. */
char *probe_esc(char *out, size_t outsz, const char *in);

/* probe_conn.c */

/* The endpoint's observer (ftp_conn.h: reply_seen): the greeting (the
 * first reply of all) and the last reply, whose text explains a refusal. */
void probe_reply_seen(void *arg, unsigned conn_id, const struct ftp_reply *r);

/* Open a new logged-in connection; 0 or a negative errno (@err says). */
int probe_connect(struct probe *p, struct ftp_conn **out, char *err,
		  size_t errsz);

/* The main connection, reopened when a check has broken it.  0 or a
 * negative errno (@err says). */
int probe_main_conn(struct probe *p, struct ftp_conn **out, char *err,
		    size_t errsz);

/* The main connection, or NULL after printing "@key: not checked: why". */
struct ftp_conn *probe_conn_for(struct probe *p, const char *key);

/* Make the next transfer on @c use @mode: EPSV and EPRT as a mount tries
 * them first; PASV and PORT by marking the former as refused, the way
 * xfer.c remembers a server that does not know them. */
void probe_set_mode(struct probe *p, struct ftp_conn *c, enum probe_mode mode);

/* probe_tls.c */

/* A TLS context as the options say, capped at @max_version (0: as the
 * options say).  0 or a negative errno (printed). */
int probe_tls_new(struct probe *p, int max_version, struct tls_ctx **out);

/* The TLS section: what the last control handshake showed. */
void probe_tls_report(struct probe *p);

/* "sha256:HEX" of the server's public key, if a handshake showed it. */
bool probe_tls_fingerprint(const struct probe *p, char *out, size_t outsz);

/* probe_data.c */

/* Passive and active mode, resumption on LIST/RETR/STOR, enforcement. */
void probe_data_run(struct probe *p);

/* probe_xfer.c */

/* One transfer on @c in @mode, its facts into @f.  probe_list() lists
 * the remote directory (LIST, or MLSD with @mlsd); probe_retr() reads
 * @path from @rest into @buf (at most @cap bytes: the rest is aborted);
 * probe_stor() stores (or with @append appends) @len bytes. */
int probe_list(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       bool mlsd, struct probe_xfer *f, unsigned *entries);
int probe_retr(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       const char *path, uint64_t rest, uint8_t *buf, size_t cap,
	       size_t *got, struct probe_xfer *f);
int probe_stor(struct probe *p, struct ftp_conn *c, enum probe_mode mode,
	       const char *path, const void *data, size_t len, bool append,
	       struct probe_xfer *f);

/* The mode the checks use (p->work_mode), or passive if none works. */
enum probe_mode probe_xfer_mode(const struct probe *p);

/* probe_data.c */

/* The mode a mount with these options would use: EPSV (EPRT), or PASV
 * (PORT) where the server does not know the first, or with no_epsv. */
enum probe_mode probe_mount_mode(const struct probe *p);

/* probe_feat.c */

/* MLSD, MLST, MFMT ..., UTF8; the write checks unless probe_readonly. */
void probe_feat_run(struct probe *p);

/* probe_write.c */

/* APPE, times, SITE CHMOD, SITE SYMLINK on the temporary file. */
void probe_feat_write(struct probe *p);

/* Delete what the probe created on the server; says so (once). */
void probe_tmp_cleanup(struct probe *p);

/* probe_learned.c */

/* The Learned section: what a mount learns about the server (pipelining,
 * the LIST zone), read from the struct it learns into. */
void probe_learned_report(struct probe *p);

/* probe_verdict.c */

/* How many control connections the server allows (up to the bound). */
void probe_conn_limit(struct probe *p);

/* Suggestions, the fstab line, the result.  @status is what the checks
 * so far found (p->why says why, if not OK).  Returns the exit status. */
int probe_verdict(struct probe *p, int status);

/* Add a suggestion (ignored beyond PROBE_SUGGEST_MAX). */
void probe_suggest(struct probe *p, const char *option, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
