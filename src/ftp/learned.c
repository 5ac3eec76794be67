/*
 * learned.c - what ftpsfs learns about a server (ftp_learned.h): the way
 * it takes modification times, and the zone of its LIST times.
 */
#include <errno.h>

#include "conn_internal.h"
#include "ftpsfs/ftp_learned.h"
#include "ftpsfs/ftp_ops.h"
#include "ftpsfs/list_tz.h"
#include "ftpsfs/log.h"
#include "pool_internal.h"

bool ftp_learned_pipelining(const struct ftp_conn *c)
{
	return !(c->ep->learned && atomic_load(&c->ep->learned->no_pipelining));
}

int ftp_learned_mtime_method(const struct ftp_pool *p)
{
	const struct ftp_learned *l = p->ep->learned;

	return l ? atomic_load(&l->mtime_method) : FTP_MTIME_UNKNOWN;
}

int ftp_learned_set_mtime(struct ftp_conn *c, const char *path, int64_t sec,
			  bool is_dir)
{
	struct ftp_learned *l = c->ep->learned;
	enum ftp_mtime_method m =
		l ? atomic_load(&l->mtime_method) : FTP_MTIME_UNKNOWN;
	int ret = ftp_op_set_mtime(c, path, sec, &m);

	if (l && (ret == 0 || !is_dir))
		atomic_store(&l->mtime_method, m);
	return ret;
}

bool ftp_zone_wanted(const struct ftp_conn *c)
{
	const struct ftp_learned *l = c->ep->learned;

	return l && atomic_load(&l->list_zone_tries) < FTP_ZONE_TRIES &&
	       c->feat.mdtm;
}

bool ftp_zone_file_useful(int64_t list_time, time_t now)
{
	return list_time > (int64_t)now - LIST_TZ_RECENT;
}

int ftp_zone_learn(struct ftp_conn *c, const char *dir,
		   struct ftp_zone_file *files, size_t n)
{
	struct ftp_learned *l = c->ep->learned;
	struct list_tz_sample samples[FTP_ZONE_SAMPLES];
	const char *names[FTP_ZONE_SAMPLES] = { NULL };
	int64_t secs[FTP_ZONE_SAMPLES] = { 0 };
	int res[FTP_ZONE_SAMPLES], off, ret;
	size_t m = 0;

	if (n > FTP_ZONE_SAMPLES)
		n = FTP_ZONE_SAMPLES;
	for (size_t k = 0; k < n; k++)
		names[k] = files[k].name;
	ret = ftp_op_mdtm_in(c, dir, names, n, secs, res);
	if (ret < 0)
		return ret;
	for (size_t k = 0; k < n; k++) {
		files[k].answered = res[k] == 0;
		files[k].mdtm_time = secs[k];
		if (!files[k].answered)
			continue;
		samples[m].list_time = files[k].list_time;
		samples[m++].mdtm_time = files[k].mdtm_time;
	}
	ret = list_tz_detect(samples, m, time(NULL), &off);
	if (!l)
		return 0;
	if (ret == 0) {
		atomic_store(&l->list_zone, off);
		atomic_store(&l->list_zone_tries, FTP_ZONE_TRIES);
		if (off)
			log_info(
				"the server's LIST times are UTC%+d:%02d (from "
				"MDTM): corrected",
				off / 3600, (off < 0 ? -off : off) / 60 % 60);
	} else if (ret == -EINVAL) {
		atomic_fetch_add(&l->list_zone_tries, 1);
	}
	return 0;
}

int ftp_zone_offset(const struct ftp_conn *c)
{
	return c->ep->learned ? atomic_load(&c->ep->learned->list_zone) : 0;
}
