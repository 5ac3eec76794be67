/*
 * Unit tests for the connection pool, with a fake connector
 * (struct ftp_pool_ops): acquire and release, the capacity kept for
 * metadata, shrinking to a server's limit, back-off and waiting out an
 * outage (one prober), parking and
 * reclaiming, the download/upload interlock, spares.
 *
 * The tests run by one thread use a virtual clock (struct ftp_pool_clock)
 * that moves only when the pool waits, so their times are exact and take
 * no wall-clock time; those with threads use the real one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "ftpsfs/ftp_conn.h"
#include "ftpsfs/ftp_pool.h"
#include "ftpsfs/net.h"
#include "ftpsfs/stats.h"

static struct {
	atomic_int opens;
	int closes, live, limit, fail_next, fail_all;
	int open_ms; /* each connect takes this long */
	int aborts, finishes, finish_result;
} fake;

static int fake_open(const struct ftp_endpoint *ep, unsigned id,
		     struct ftp_conn **out, char *err, size_t errsz)
{
	struct ftp_conn *c;

	fake.opens++;
	if (fake.open_ms)
		usleep((useconds_t)fake.open_ms * 1000);
	if (fake.fail_all) {
		snprintf(err, errsz, "fake outage");
		return fake.fail_all;
	}
	if (fake.fail_next) {
		int e = fake.fail_next;

		fake.fail_next = 0;
		snprintf(err, errsz, "fake failure");
		return e;
	}
	if (fake.limit && fake.live >= fake.limit) {
		snprintf(err, errsz, "421 Too many connections");
		return -EUSERS;
	}
	if (ftp_conn_new(ep, id, &c) < 0)
		return -ENOMEM;
	fake.live++;
	*out = c;
	return 0;
}

static void fake_close(struct ftp_conn *c, bool polite)
{
	(void)polite;
	fake.closes++;
	fake.live--;
	ftp_conn_close(c, false); /* never connected: only frees it */
}

static bool fake_dead(struct ftp_conn *c)
{
	return ftp_conn_broken(c);
}

static int fake_noop(struct ftp_conn *c)
{
	(void)c;
	return 0;
}

static void fake_abort(struct ftp_conn *c, struct ftp_xfer *x)
{
	(void)c;
	(void)x;
	fake.aborts++;
}

static int fake_finish(struct ftp_conn *c, struct ftp_xfer *x, enum ftp_op op)
{
	(void)c;
	(void)x;
	(void)op;
	fake.finishes++;
	return fake.finish_result;
}

/* The virtual clock: a wait that no other thread can end jumps to its
 * end.  It starts far from 0 (an operation deadline of 0 means none). */
static struct {
	int64_t now;
	int waits;
} vclock;

static int64_t vclock_now(void)
{
	return vclock.now;
}

static void vclock_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms)
{
	(void)cond;
	(void)lock;
	vclock.waits++;
	if (ms > vclock.now)
		vclock.now = ms;
}

static const struct ftp_pool_clock virtual_clock = {
	.now_ms = vclock_now,
	.wait_until = vclock_wait,
};

#define FAKE_OPS                                                               \
	.open = fake_open, .close = fake_close, .looks_dead = fake_dead,       \
	.noop = fake_noop, .abort_xfer = fake_abort,                           \
	.finish_upload = fake_finish

static const struct ftp_pool_ops fake_ops = { FAKE_OPS,
					      .clock = &virtual_clock };
static const struct ftp_pool_ops fake_ops_real_clock = { FAKE_OPS };

static struct ftp_endpoint ep = { .timeout_ms = 300,
				  .connect_timeout_ms = 300 };

/* A fake transfer: the pool only passes it to the ops. */
static struct ftp_xfer *dummy_xfer = (struct ftp_xfer *)&ep;

static struct ftp_pool *pool_with(unsigned max, const struct ftp_pool_ops *ops)
{
	struct ftp_pool *p = NULL;

	memset(&fake, 0, sizeof(fake));
	vclock.now = 1000000;
	vclock.waits = 0;
	if (ftp_pool_new_with(&ep, max, ops, &p) < 0)
		return NULL;
	return p;
}

/* A pool of @max on the virtual clock, for tests run by one thread. */
static struct ftp_pool *pool_of(unsigned max)
{
	return pool_with(max, &fake_ops);
}

/* On the real clock, for tests with threads. */
static struct ftp_pool *pool_of_real(unsigned max)
{
	return pool_with(max, &fake_ops_real_clock);
}

static struct ftp_conn *get(struct ftp_pool *p, unsigned use, int *ret)
{
	struct ftp_conn *c = NULL;
	char err[256];

	*ret = ftp_pool_acquire(p, use, &c, err, sizeof(err));
	return c;
}

TEST(released_connections_are_used_again)
{
	struct ftp_pool *p = pool_of(3);
	struct ftp_conn *c1, *c2;
	int ret;

	CHECK(p);
	c1 = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	ftp_pool_release(p, c1);
	c2 = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	CHECK(c1 == c2);
	CHECK_INT(fake.opens, 1);
	ftp_pool_release(p, c2);
	ftp_pool_free(p);
	CHECK_INT(fake.live, 0);
}

/* Give back @n connections, free the pool: none is left open. */
static void end_pool(struct ftp_pool *p, struct ftp_conn *const *cs, size_t n,
		     int *failed)
{
	for (size_t i = 0; i < n; i++)
		ftp_pool_release(p, cs[i]);
	ftp_pool_free(p);
	CHECK_INT(fake.live, 0);
}

TEST(transfers_leave_one_connection_for_metadata)
{
	struct ftp_pool *p = pool_of(3);
	struct ftp_conn *x1, *x2, *x3, *m;
	int ret, waits;

	x1 = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ret, 0);
	x2 = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ret, 0);
	x3 = get(p, FTP_POOL_XFER, &ret); /* waits the timeout */
	CHECK_INT(ret, -ETIMEDOUT);
	CHECK(!x3);
	CHECK(vclock.now - 1000000 >= ep.timeout_ms);
	waits = vclock.waits;
	m = get(p, FTP_POOL_META, &ret); /* at once */
	CHECK_INT(ret, 0);
	CHECK_INT(vclock.waits, waits);
	end_pool(p, (struct ftp_conn *[]){ m, x1, x2 }, 3, failed);
}

TEST(spare_transfer_takes_the_metadata_connection_for_a_moment)
{
	struct ftp_pool *p = pool_of(3);
	struct ftp_conn *x1, *x2, *x3, *x4, *m;
	int ret, waits;

	x1 = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ret, 0);
	x2 = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ret, 0);
	/* The limit of transfers reached: a spare one gets the third
	 * connection at once, another spare one none. */
	waits = vclock.waits;
	x3 = get(p, FTP_POOL_XFER | FTP_POOL_SPARE | FTP_POOL_NOWAIT, &ret);
	CHECK_INT(ret, 0);
	CHECK(x3 != NULL);
	x4 = get(p, FTP_POOL_XFER | FTP_POOL_SPARE | FTP_POOL_NOWAIT, &ret);
	CHECK_INT(ret, -EBUSY);
	CHECK(!x4);
	CHECK_INT(vclock.waits, waits);
	CHECK_INT(fake.opens, 3);
	/* A range ended: metadata gets its connection back. */
	ftp_pool_release(p, x1);
	m = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	CHECK(m == x1);
	end_pool(p, (struct ftp_conn *[]){ m, x2, x3 }, 3, failed);
}

TEST(spare_transfer_is_no_more_than_one_connection_allows)
{
	struct ftp_pool *one = pool_of(1);
	struct ftp_conn *x = get(one, FTP_POOL_XFER, &(int){ 0 });
	int ret;

	CHECK(!get(one, FTP_POOL_XFER | FTP_POOL_SPARE | FTP_POOL_NOWAIT,
		   &ret));
	CHECK_INT(ret, -EBUSY);
	CHECK(x != NULL);
	ftp_pool_release(one, x);
	ftp_pool_free(one);
	CHECK_INT(fake.opens, 1);
}

TEST(fresh_acquire_logs_in_a_new_connection_never_an_idle_one)
{
	struct ftp_pool *p = pool_of(3);
	struct ftp_conn *idle, *c1, *c2, *none;
	int ret;
	unsigned use = FTP_POOL_META | FTP_POOL_NOWAIT | FTP_POOL_FRESH;

	idle = get(p, FTP_POOL_META, &ret);
	ftp_pool_release(p, idle);
	c1 = get(p, use, &ret);
	CHECK_INT(ret, 0);
	CHECK(c1 != idle);
	c2 = get(p, use, &ret);
	CHECK_INT(ret, 0);
	CHECK(c2 != idle && c2 != c1);
	none = get(p, use, &ret); /* all three slots taken, one idle */
	CHECK_INT(ret, -EBUSY);
	CHECK(!none);
	CHECK_INT(fake.opens, 3);
	end_pool(p, (struct ftp_conn *[]){ c1, c2 }, 2, failed);
}

TEST(pool_shrinks_to_the_servers_limit)
{
	struct ftp_pool *p = pool_of(4);
	struct ftp_conn *a, *b, *c;
	struct stats_pool s;
	int ret;

	fake.limit = 2;
	a = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	b = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	c = get(p, FTP_POOL_META, &ret); /* refused: waits for one of ours */
	CHECK_INT(ret, -ETIMEDOUT);
	CHECK(!c);
	ftp_pool_counts(p, &s);
	CHECK_INT(s.max, 2);
	ftp_pool_release(p, a);
	c = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	CHECK(c == a);
	ftp_pool_release(p, b);
	ftp_pool_release(p, c);
	ftp_pool_free(p);
}

TEST(a_soft_pool_fails_fast_during_the_back_off)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c;
	int64_t t0;
	int ret;

	ftp_pool_set_soft(p, true, ep.timeout_ms);
	fake.fail_next = -ECONNREFUSED;
	c = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, -ECONNREFUSED);
	CHECK(!c);
	t0 = vclock.now;
	c = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, -EIO);
	CHECK_INT(vclock.waits, 0); /* failed without waiting */
	CHECK(vclock.now == t0);
	CHECK_INT(fake.opens, 1); /* not tried again */
	ftp_pool_free(p);
}

TEST(a_patient_request_waits_out_the_back_off_even_when_soft)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c;
	int64_t t0;
	int ret;

	ftp_pool_set_soft(p, true, ep.timeout_ms);
	ep.timeout_ms = 2000;
	fake.fail_next = -ECONNREFUSED;
	(void)get(p, FTP_POOL_META, &ret);
	t0 = vclock.now;
	c = get(p, FTP_POOL_XFER | FTP_POOL_PATIENT, &ret);
	ep.timeout_ms = 300;
	CHECK_INT(ret, 0);
	CHECK(vclock.now - t0 >= 500); /* the first back-off: 500 ms */
	CHECK_INT(fake.opens, 2);
	ftp_pool_release(p, c);
	ftp_pool_free(p);
}

TEST(a_request_waits_for_an_unreachable_server_to_come_back)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c;
	struct stats_pool s = { 0 };
	int64_t t0 = vclock.now, before;
	int ret;

	/* The operation may take 2 s; the endpoint's timeout is 300 ms. */
	before = net_set_op_deadline(vclock.now + 2000);
	fake.fail_next = -ECONNREFUSED;
	c = get(p, FTP_POOL_META, &ret);
	net_set_op_deadline(before);
	CHECK_INT(ret, 0);
	CHECK(vclock.now - t0 >= 500); /* the first back-off: 500 ms */
	CHECK(vclock.now - t0 < 2000);
	CHECK_INT(fake.opens, 2);
	ftp_pool_counts(p, &s);
	CHECK(!s.server_down);
	ftp_pool_release(p, c);
	ftp_pool_free(p);
}

TEST(a_refused_login_is_not_waited_for)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c;
	int64_t before;
	int ret;

	before = net_set_op_deadline(vclock.now + 2000);
	fake.fail_all = -EPROTO; /* a certificate that changed */
	c = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, -EPROTO);
	CHECK(!c);
	c = get(p, FTP_POOL_META, &ret);
	net_set_op_deadline(before);
	CHECK_INT(ret, -EIO);
	CHECK_INT(fake.opens, 1);
	CHECK_INT(vclock.waits, 0);
	ftp_pool_free(p);
}

TEST(an_outage_longer_than_the_operation_deadline_times_out)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c;
	struct stats_pool s = { 0 };
	int64_t t0 = vclock.now, before;
	int ret;

	before = net_set_op_deadline(vclock.now + 800);
	fake.fail_all = -ECONNREFUSED;
	c = get(p, FTP_POOL_META, &ret);
	net_set_op_deadline(before);
	CHECK_INT(ret, -ETIMEDOUT);
	CHECK(!c);
	/* At the deadline, give or take one look (every 100 ms)... */
	CHECK(vclock.now - t0 >= 800);
	CHECK(vclock.now - t0 < 800 + 100);
	/* ...after a connect at 0, 0.5 and 1.5 s of back-off: 0 and 0.5. */
	CHECK_INT(fake.opens, 2);
	ftp_pool_counts(p, &s);
	CHECK(s.server_down);
	ftp_pool_free(p);
}

/* Many requests waiting for a server that is down: one connect attempt
 * per back-off step, not one per request. */
struct waiter {
	struct ftp_pool *p;
	int ret;
};

static void *wait_for_server(void *arg)
{
	struct waiter *w = arg;
	struct ftp_conn *c = NULL;
	char err[256];

	net_set_op_deadline(net_deadline(2500));
	w->ret = ftp_pool_acquire(w->p, FTP_POOL_META, &c, err, sizeof(err));
	if (c)
		ftp_pool_release(w->p, c);
	return NULL;
}

TEST(waiting_requests_share_one_prober)
{
	struct ftp_pool *p = pool_of_real(4);
	struct waiter w[4];
	pthread_t t[4];

	fake.fail_all = -ECONNREFUSED;
	fake.open_ms = 200; /* a slow network: attempts overlap */
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){ .p = p };
		CHECK(pthread_create(&t[i], NULL, wait_for_server, &w[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK_INT(w[i].ret, -ETIMEDOUT);
	/* Each request may try once before the first failure is known
	 * (they end at 0.2 s); then one attempt a step of the back-off, at
	 * 0.7 and 1.9 s (12 in all if each request tried at each step). */
	CHECK(fake.opens <= 6);
	ftp_pool_free(p);
}

TEST(a_parked_download_is_reclaimed_and_aborted)
{
	struct ftp_pool *p = pool_of(2); /* one transfer at a time */
	struct ftp_conn *c, *again, *back = NULL;
	struct ftp_xfer *x = NULL;
	uint64_t lease;
	int ret;

	c = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ret, 0);
	lease = ftp_pool_park(p, c, dummy_xfer, 42);
	CHECK(lease != 0);
	again = get(p, FTP_POOL_XFER, &ret); /* reclaims it */
	CHECK_INT(ret, 0);
	CHECK(again == c);
	CHECK_INT(fake.aborts, 1);
	CHECK_INT(ftp_pool_unpark(p, lease, &back, &x), 0); /* gone */
	ftp_pool_release(p, again);
	ftp_pool_free(p);
}

TEST(a_parked_download_is_taken_back_by_its_owner)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c, *back = NULL;
	struct ftp_xfer *x = NULL;
	uint64_t lease;
	int ret;

	c = get(p, FTP_POOL_XFER, &ret);
	lease = ftp_pool_park(p, c, dummy_xfer, 42);
	CHECK_INT(ftp_pool_unpark(p, lease, &back, &x), 1);
	CHECK(back == c && x == dummy_xfer);
	CHECK_INT(fake.aborts, 0);
	ftp_pool_release(p, c);
	ftp_pool_free(p);
}

TEST(a_reclaimed_upload_reports_how_it_ended)
{
	struct ftp_pool *p = pool_of(2);
	struct ftp_conn *c, *again, *back = NULL;
	struct ftp_xfer *x = NULL;
	uint64_t lease;
	int ret;

	c = get(p, FTP_POOL_XFER, &ret);
	lease = ftp_pool_park_upload(p, c, dummy_xfer, FTP_OP_STOR);
	CHECK(lease != 0);
	fake.finish_result = -EDQUOT;
	again = get(p, FTP_POOL_XFER, &ret); /* ends the upload */
	CHECK_INT(ret, 0);
	CHECK_INT(fake.finishes, 1);
	CHECK_INT(fake.aborts, 0); /* ended, never aborted */
	CHECK_INT(ftp_pool_unpark(p, lease, &back, &x), -EDQUOT);
	ftp_pool_release(p, again);
	ftp_pool_free(p);
}

TEST(downloads_of_a_file_being_uploaded_do_not_park)
{
	struct ftp_pool *p = pool_of(3);
	struct ftp_conn *c;
	struct stats_pool s;
	int ret;

	CHECK_INT(ftp_pool_upload_begin(p, 7), 0);
	c = get(p, FTP_POOL_XFER, &ret);
	CHECK_INT(ftp_pool_park(p, c, dummy_xfer, 7), 0); /* aborted */
	CHECK_INT(fake.aborts, 1);
	ftp_pool_counts(p, &s);
	CHECK_INT(s.parked, 0);
	ftp_pool_upload_end(p, 7);
	c = get(p, FTP_POOL_XFER, &ret);
	CHECK(ftp_pool_park(p, c, dummy_xfer, 7) != 0);
	ftp_pool_free(p);
}

TEST(a_spare_is_logged_in_when_the_last_idle_one_is_taken)
{
	struct ftp_pool *p = pool_of_real(3);
	struct ftp_conn *c;
	struct stats_pool s = { 0 };
	int ret;

	CHECK_INT(ftp_pool_start(p), 0);
	c = get(p, FTP_POOL_META, &ret);
	CHECK_INT(ret, 0);
	for (int i = 0; i < 100 && s.idle == 0; i++) {
		usleep(20000);
		ftp_pool_counts(p, &s);
	}
	CHECK_INT(s.idle, 1);
	CHECK_INT(s.open, 2);
	ftp_pool_release(p, c);
	ftp_pool_free(p);
	CHECK_INT(fake.live, 0);
}

static const struct check_case cases[] = {
	TEST_ENTRY(released_connections_are_used_again),
	TEST_ENTRY(transfers_leave_one_connection_for_metadata),
	TEST_ENTRY(spare_transfer_takes_the_metadata_connection_for_a_moment),
	TEST_ENTRY(spare_transfer_is_no_more_than_one_connection_allows),
	TEST_ENTRY(fresh_acquire_logs_in_a_new_connection_never_an_idle_one),
	TEST_ENTRY(pool_shrinks_to_the_servers_limit),
	TEST_ENTRY(a_soft_pool_fails_fast_during_the_back_off),
	TEST_ENTRY(a_patient_request_waits_out_the_back_off_even_when_soft),
	TEST_ENTRY(a_request_waits_for_an_unreachable_server_to_come_back),
	TEST_ENTRY(a_refused_login_is_not_waited_for),
	TEST_ENTRY(an_outage_longer_than_the_operation_deadline_times_out),
	TEST_ENTRY(waiting_requests_share_one_prober),
	TEST_ENTRY(a_parked_download_is_reclaimed_and_aborted),
	TEST_ENTRY(a_parked_download_is_taken_back_by_its_owner),
	TEST_ENTRY(a_reclaimed_upload_reports_how_it_ended),
	TEST_ENTRY(downloads_of_a_file_being_uploaded_do_not_park),
	TEST_ENTRY(a_spare_is_logged_in_when_the_last_idle_one_is_taken),
};

CHECK_MAIN(cases)
