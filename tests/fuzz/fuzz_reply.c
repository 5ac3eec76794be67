/*
 * fuzz_reply.c - libFuzzer target for the reply assembler and the parsers
 * of 227/229/257/211/213 (HASH) replies.  Input: lines separated by '\n', fed
 * to one reply until it completes; then its text goes to every data parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/ftp_hash.h"
#include "ftpsfs/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ftp_reply r;
	const char *p = (const char *)data, *end = p + size;
	struct ftp_features f;
	char pwd[256];
	uint16_t port;

	ftp_reply_init(&r);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int ret = ftp_reply_feed_line(&r, p, len);

		if (r.text_len >= sizeof(r.text) || r.text[r.text_len] != '\0')
			abort();
		if (ret != 0)
			break;
		p += len + (nl ? 1 : 0);
	}
	if (ftp_parse_epsv(r.text, &port) == 0 && port == 0)
		abort();
	if (ftp_parse_pasv(r.text, &port) == 0 && port == 0)
		abort();
	if (ftp_parse_pwd(r.text, pwd, sizeof(pwd)) == 0 &&
	    strnlen(pwd, sizeof(pwd)) >= sizeof(pwd))
		abort();
	ftp_parse_feat(r.text, &f);
	if (f.hash_algos >= 1u << FTP_HASH_COUNT ||
	    f.hash_selected >= FTP_HASH_COUNT)
		abort();
	for (int a = 0; a < FTP_HASH_COUNT; a++) {
		char hex[FTP_HASH_HEX_MAX];

		if (ftp_parse_hash(r.text, (enum ftp_hash_algo)a, hex,
				   sizeof(hex)) == 0 &&
		    strlen(hex) != ftp_hash_info((enum ftp_hash_algo)a)->hexlen)
			abort();
	}
	return 0;
}
