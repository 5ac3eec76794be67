/*
 * credentials.c - the login: user name, anonymous policy, and secrets from
 * stdin, a credentials file, an askpass program, netrc, or a prompt.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftpsfs/askpass.h"
#include "ftpsfs/credentials.h"
#include "ftpsfs/credfile.h"
#include "ftpsfs/netrc.h"
#include "ftpsfs/smallfile.h"

#define SMALL_FILE_MAX (1 << 20)

static void free_text(char *text, size_t len)
{
	if (text)
		OPENSSL_cleanse(text, len);
	free(text);
}

/* The entry for @host (and @user, if set) in the netrc file @path: the
 * login into @user when it was empty, the password into @pw. */
static int credentials_from_netrc(const char *path, const char *host,
				  char *user, size_t usersz, struct secret *pw,
				  char *err, size_t errsz)
{
	struct netrc_match *m = NULL;
	char *text = NULL;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* no netrc: fine */
	ret = fd < 0 ? -errno
		     : small_file_read(fd, SMALL_FILE_MAX, &text, &len);
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		snprintf(err, errsz, "cannot read %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		ret = -ENOMEM;
		goto out;
	}
	ret = netrc_lookup(text, len, host, user, m);
	if (ret == -ENOENT) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		snprintf(err, errsz, "%s: malformed netrc file", path);
		goto out;
	}
	if (!user[0] && strlen(m->login) >= usersz) {
		snprintf(err, errsz, "%s: login name too long", path);
		ret = -ENAMETOOLONG;
		goto out;
	}
	if (!user[0])
		memcpy(user, m->login, strlen(m->login) + 1);
	if (m->password[0])
		ret = secret_set(pw, m->password, strlen(m->password));
out:
	if (m)
		OPENSSL_cleanse(m, sizeof(*m));
	free(m);
	free_text(text, len);
	return ret;
}

/*
 * The credentials file: only its owner (the user, or root) may read or
 * write it, like ssh's private keys; else someone else may have read the
 * password already, and the user must know.
 */
static int credfile_load(const char *path, struct credfile *cf, char *err,
			 size_t errsz)
{
	char *text = NULL;
	size_t len = 0;
	unsigned bad_line = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "credentials file %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		snprintf(
			err, errsz,
			"credentials file %s belongs to another user (uid %u): "
			"refusing to use it",
			path, (unsigned)st.st_uid);
		ret = -EPERM;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errsz,
			 "credentials file %s is accessible by group or others "
			 "(mode %04o): refusing to use it; run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		ret = -EPERM;
		goto out;
	}
	ret = small_file_read(fd, SMALL_FILE_MAX, &text, &len);
	if (ret == 0)
		ret = credfile_parse(text, len, cf, &bad_line);
	if (ret == -EINVAL && bad_line)
		snprintf(err, errsz,
			 "credentials file %s line %u: expected user=, "
			 "password= or key_password=, each at most once",
			 path, bad_line);
	else if (ret == -ENAMETOOLONG)
		snprintf(err, errsz, "credentials file %s line %u: too long",
			 path, bad_line);
out:
	if (ret < 0 && !err[0])
		snprintf(err, errsz, "credentials file %s: %s", path,
			 strerror(-ret));
	free_text(text, len);
	close(fd);
	return ret;
}

static bool is_anonymous_name(const char *user)
{
	return strcasecmp(user, "anonymous") == 0 ||
	       strcasecmp(user, "ftp") == 0;
}

/* The user name from the credentials file, if the command line has none. */
static int take_user(struct hostspec *hs, const char *user, const char *from,
		     char *err, size_t errsz)
{
	if (!user[0])
		return 0;
	if (!hs->user[0]) {
		snprintf(hs->user, sizeof(hs->user), "%s", user);
		return 0;
	}
	if (strcmp(hs->user, user) != 0) {
		snprintf(err, errsz,
			 "user %s on the command line but %s in %s: which one?",
			 hs->user, user, from);
		return -EINVAL;
	}
	return 0;
}

/*
 * Ask a person, if one can answer: the terminal when standard input is
 * one, else $FTPSFS_ASKPASS / $SSH_ASKPASS.  Returns 0 (maybe with no
 * answer: nobody to ask), or a negative errno.
 */
static int ask_person(const char *prompt, struct secret *s, char *err,
		      size_t errsz)
{
	const char *prog;
	int ret;

	if (isatty(STDIN_FILENO)) {
		ret = askpass_tty(prompt, s);
		if (ret != -ENXIO) {
			if (ret == -ENODATA)
				return 0; /* Enter alone: no password */
			if (ret < 0)
				snprintf(err, errsz,
					 "no answer at the prompt: %s",
					 strerror(-ret));
			return ret;
		}
	}
	prog = askpass_env_program();
	if (!prog)
		return 0;
	ret = askpass_run(prog, prompt, s);
	if (ret < 0)
		snprintf(err, errsz, "askpass program %s: %s", prog,
			 ret == -ENODATA ? "empty answer" : strerror(-ret));
	return ret;
}

/* The netrc file: netrc= or ~/.netrc.  False when there is none to read
 * (no netrc= and no $HOME). */
static bool netrc_path(const struct ftpsfs_opts *o, char *path, size_t size)
{
	const char *home = getenv("HOME");

	if (o->netrc)
		snprintf(path, size, "%s", o->netrc);
	else
		snprintf(path, size, "%s/.netrc", home ? home : "");
	return o->netrc || home;
}

/* The askpass=PROGRAM answer to @prompt. */
static int askpass_option(const struct ftpsfs_opts *o, const char *prompt,
			  struct secret *s, char *err, size_t errsz)
{
	int ret = askpass_run(o->askpass, prompt, s);

	if (ret < 0)
		snprintf(err, errsz, "askpass=%s: %s", o->askpass,
			 ret == -ENODATA ? "empty answer" : strerror(-ret));
	return ret;
}

static int login_password(const struct ftpsfs_opts *o, struct hostspec *hs,
			  struct credentials *cr, const struct credfile *cf,
			  char *err, size_t errsz)
{
	char prompt[HOSTSPEC_USER_MAX + HOSTSPEC_HOST_MAX + 32];
	char path[4096];
	int ret;

	if (o->password_stdin) {
		ret = secret_read_line(&cr->password, STDIN_FILENO);
		if (ret < 0)
			snprintf(err, errsz, "password_stdin: %s",
				 ret == -ENODATA
					 ? "no password on standard input"
					 : strerror(-ret));
		return ret;
	}
	if (o->credentials) {
		if (!cf->has_password)
			return 0;
		ret = secret_set(&cr->password, cf->password,
				 strlen(cf->password));
		if (ret < 0)
			snprintf(err, errsz,
				 "credentials file %s: unusable "
				 "password",
				 o->credentials);
		return ret;
	}
	if (o->askpass) {
		snprintf(prompt, sizeof(prompt),
			 "Password for %s@%s: ", hs->user[0] ? hs->user : "?",
			 hs->host);
		return askpass_option(o, prompt, &cr->password, err, errsz);
	}
	if (netrc_path(o, path, sizeof(path))) {
		ret = credentials_from_netrc(path, hs->host, hs->user,
					     sizeof(hs->user), &cr->password,
					     err, errsz);
		if (ret < 0)
			return ret;
	}
	if (cr->password.value || cr->anonymous || !hs->user[0] ||
	    is_anonymous_name(hs->user))
		return 0;
	snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", hs->user,
		 hs->host);
	return ask_person(prompt, &cr->password, err, errsz);
}

/* The proxy user's password (credentials.h): never from argv, never
 * from password_stdin. */
static int proxy_password(const struct ftpsfs_opts *o, struct proxy_spec *px,
			  struct credentials *cr, const struct credfile *cf,
			  char *err, size_t errsz)
{
	char prompt[HOSTSPEC_USER_MAX + HOSTSPEC_HOST_MAX + 48];
	char path[4096], user[HOSTSPEC_USER_MAX + 1];
	int ret = 0;

	snprintf(prompt, sizeof(prompt),
		 "Password for proxy user %s@%s: ", px->user, px->host);
	snprintf(user, sizeof(user), "%s", px->user);
	if (cf->has_proxy_password)
		ret = secret_set(&cr->proxy_password, cf->proxy_password,
				 strlen(cf->proxy_password));
	else if (netrc_path(o, path, sizeof(path)))
		ret = credentials_from_netrc(path, px->host, user, sizeof(user),
					     &cr->proxy_password, err, errsz);
	if (ret == 0 && !cr->proxy_password.value && o->askpass)
		ret = askpass_option(o, prompt, &cr->proxy_password, err,
				     errsz);
	else if (ret == 0 && !cr->proxy_password.value)
		ret = ask_person(prompt, &cr->proxy_password, err, errsz);
	if (ret == 0 && !cr->proxy_password.value) {
		snprintf(err, errsz,
			 "no password for proxy user %s: write proxy_password= "
			 "in a credentials= file, or a line \"machine %s login "
			 "%s password ...\" in your netrc file",
			 px->user, px->host, px->user);
		ret = -EACCES;
	}
	if (ret == 0)
		px->password = &cr->proxy_password;
	return ret;
}

static int key_password(const struct ftpsfs_opts *o, struct credentials *cr,
			const struct credfile *cf, char *err, size_t errsz)
{
	const char *key = o->key ? o->key : o->cert;
	char prompt[4200];
	int ret;

	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", key);
	if (o->key_password_stdin) {
		ret = secret_read_line(&cr->key_password, STDIN_FILENO);
		if (ret < 0)
			snprintf(err, errsz, "key_password_stdin: %s",
				 ret == -ENODATA ? "no passphrase on standard "
						   "input"
						 : strerror(-ret));
		return ret;
	}
	if (cf->has_key_password)
		return secret_set(&cr->key_password, cf->key_password,
				  strlen(cf->key_password));
	if (o->askpass)
		return askpass_option(o, prompt, &cr->key_password, err, errsz);
	ret = ask_person(prompt, &cr->key_password, err, errsz);
	if (ret == 0 && !cr->key_password.value) {
		snprintf(
			err, errsz,
			"client key %s is encrypted: give its passphrase with "
			"-o key_password_stdin, key_password= in a credentials "
			"file, or -o askpass=PROGRAM",
			key);
		ret = -EACCES;
	}
	return ret;
}

int credentials_resolve(const struct ftpsfs_opts *o, struct hostspec *hs,
			bool key_encrypted, struct proxy_spec *proxy,
			struct credentials *cr, char *err, size_t errsz)
{
	struct credfile *cf = calloc(1, sizeof(*cf));
	int ret = 0;

	if (!cf)
		return -ENOMEM;
	err[0] = '\0';
	if (o->anonymous) {
		if (hs->user[0] && !is_anonymous_name(hs->user)) {
			snprintf(err, errsz,
				 "-o anonymous but user %s on the command line",
				 hs->user);
			ret = -EINVAL;
			goto out;
		}
		if (!hs->user[0])
			snprintf(hs->user, sizeof(hs->user), "anonymous");
	}
	if (o->credentials) {
		ret = credfile_load(o->credentials, cf, err, errsz);
		if (ret == 0)
			ret = take_user(hs, cf->user, o->credentials, err,
					errsz);
		if (ret < 0)
			goto out;
	}
	cr->anonymous = hs->user[0] && is_anonymous_name(hs->user);
	ret = login_password(o, hs, cr, cf, err, errsz);
	if (ret < 0)
		goto out;
	if (!hs->user[0]) {
		/* Never anonymous by default: that is not what was asked. */
		snprintf(err, errsz,
			 "no user name: write user@host, add a login for %s to "
			 "your netrc file, or use -o anonymous",
			 hs->host);
		ret = -EINVAL;
		goto out;
	}
	cr->anonymous = is_anonymous_name(hs->user);
	if (key_encrypted)
		ret = key_password(o, cr, cf, err, errsz);
	if (ret == 0 && proxy && proxy->user[0])
		ret = proxy_password(o, proxy, cr, cf, err, errsz);
out:
	OPENSSL_cleanse(cf, sizeof(*cf));
	free(cf);
	return ret;
}

void credentials_wipe(struct credentials *cr)
{
	secret_wipe(&cr->password);
	secret_wipe(&cr->key_password);
	secret_wipe(&cr->proxy_password);
}
