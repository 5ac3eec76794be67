/*
 * probe_learned.c - the Learned section: what a mount with these options
 * learns about the server, read from the struct it learns into
 * (ftp_learned.h), which the probe's checks filled the mount's way.  The
 * way times are set is said under "file times" (probe_write.c).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "probe_internal.h"

static void probe_learned_pipelining(const struct probe *p)
{
	if (atomic_load(&p->s->learned.no_pipelining))
		probe_fact("pipelining",
			   "no: the server answered commands "
			   "sent together out of order; a mount sends one "
			   "command at a time");
	else
		probe_fact("pipelining",
			   "yes: commands sent together were "
			   "answered in order (a mount sends them in flights)");
}

/* Does a mount list with MLSD here (times in UTC: no zone to learn)? */
static bool probe_uses_mlsd(const struct probe *p, struct ftp_conn *c)
{
	return ftp_conn_feat(c)->mlst && !p->o->no_mlsd && !p->mlsd_fails;
}

/* Learn the zone from the files the last LIST listing showed, as a mount
 * does at its first listing with recent files. */
static void probe_learned_zone(struct probe *p)
{
	struct ftp_conn *c = probe_conn_for(p, "list time zone");
	struct ftp_zone_file files[FTP_ZONE_SAMPLES];
	size_t answered = 0;
	int off;

	if (!c)
		return;
	if (probe_uses_mlsd(p, c)) {
		probe_fact("list time zone", "not needed (MLSD times are UTC)");
		return;
	}
	if (!ftp_zone_wanted(c)) {
		probe_fact("list time zone",
			   "unknown (no MDTM): LIST times "
			   "are shown as the server lists them");
		return;
	}
	if (p->nzone == 0) {
		probe_fact("list time zone",
			   "not learnt yet: no file changed "
			   "in the last 150 days is listed here; a mount "
			   "learns it at the first listing with one");
		return;
	}
	for (size_t i = 0; i < p->nzone; i++)
		files[i] =
			(struct ftp_zone_file){ .name = p->zone_name[i],
						.list_time = p->zone_time[i] };
	if (ftp_zone_learn(c, p->root, files, p->nzone) < 0) {
		probe_fact("list time zone", "not learnt: MDTM failed (%s)",
			   p->last_text);
		return;
	}
	for (size_t i = 0; i < p->nzone; i++)
		answered += files[i].answered;
	if (ftp_zone_wanted(c)) {
		probe_fact(
			"list time zone", "not learnt: %s",
			answered
				? "the LIST and MDTM times of the files listed "
				  "fit no zone"
				: "MDTM answered for none of the files listed");
		return;
	}
	off = ftp_zone_offset(c);
	probe_fact("list time zone", "UTC%+d:%02d%s", off / 3600,
		   abs(off) / 60 % 60,
		   off ? " (a mount corrects LIST times by it)" : "");
}

void probe_learned_report(struct probe *p)
{
	probe_section("Learned");
	probe_learned_pipelining(p);
	probe_learned_zone(p);
}
