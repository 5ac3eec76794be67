/*
 * fuzz_netrc.c - libFuzzer target for netrc_lookup().  The first byte
 * picks the user filter; the rest is the file's text.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpsfs/netrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = { NULL, "", "alice", "bob" };
	struct netrc_match m;
	const char *user;
	char *text;
	int ret;

	if (size == 0)
		return 0;
	user = users[data[0] % 4];
	text = malloc(size - 1 ? size - 1 : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	ret = netrc_lookup(text, size - 1, "ftp.example.com", user, &m);
	if (ret != 0 && ret != -ENOENT && ret != -EINVAL &&
	    ret != -ENAMETOOLONG)
		abort();
	if (ret == 0) {
		if (strnlen(m.login, sizeof(m.login)) == sizeof(m.login) ||
		    strnlen(m.password, sizeof(m.password)) ==
			    sizeof(m.password))
			abort();
		if (user && user[0] && m.login[0] && strcmp(m.login, user))
			abort();
	}
	free(text);
	return 0;
}
