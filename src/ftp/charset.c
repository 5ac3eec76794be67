/*
 * charset.c - name conversion for servers that do not use UTF-8.  See
 * charset.h.
 */
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/charset.h"

struct charset {
	/* An iconv_t keeps shift state: one user at a time. */
	pthread_mutex_t lock;
	iconv_t to_server;
	iconv_t to_local;
};

int charset_new(const char *server_charset, struct charset **out)
{
	struct charset *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return -ENOMEM;
	cs->to_server = iconv_open(server_charset, "UTF-8");
	cs->to_local = iconv_open("UTF-8", server_charset);
	if (cs->to_server == (iconv_t)-1 || cs->to_local == (iconv_t)-1) {
		if (cs->to_server != (iconv_t)-1)
			iconv_close(cs->to_server);
		if (cs->to_local != (iconv_t)-1)
			iconv_close(cs->to_local);
		free(cs);
		return -EINVAL;
	}
	pthread_mutex_init(&cs->lock, NULL);
	*out = cs;
	return 0;
}

void charset_free(struct charset *cs)
{
	if (!cs)
		return;
	iconv_close(cs->to_server);
	iconv_close(cs->to_local);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

static int charset_convert(struct charset *cs, iconv_t cd, const char *in,
			   char *out, size_t outsz)
{
	char *src = (char *)in, *dst = out;
	size_t inleft = strlen(in), outleft;
	int ret = 0;

	if (outsz == 0)
		return -ENAMETOOLONG;
	outleft = outsz - 1; /* room for the NUL */
	pthread_mutex_lock(&cs->lock);
	(void)iconv(cd, NULL, NULL, NULL, NULL); /* initial state */
	if (iconv(cd, &src, &inleft, &dst, &outleft) == (size_t)-1 ||
	    iconv(cd, NULL, NULL, &dst, &outleft) == (size_t)-1)
		ret = errno == E2BIG ? -ENAMETOOLONG : -EILSEQ;
	pthread_mutex_unlock(&cs->lock);
	if (ret == 0)
		*dst = '\0';
	/* A NUL made from something else would cut the name short. */
	if (ret == 0 && (size_t)(dst - out) != strlen(out))
		ret = -EILSEQ;
	return ret;
}

int charset_to_server(struct charset *cs, const char *in, char *out,
		      size_t outsz)
{
	return charset_convert(cs, cs->to_server, in, out, outsz);
}

int charset_to_local(struct charset *cs, const char *in, char *out,
		     size_t outsz)
{
	return charset_convert(cs, cs->to_local, in, out, outsz);
}
