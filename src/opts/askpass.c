/*
 * askpass.c - a secret from a helper program or from the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ftpsfs/askpass.h"

extern char **environ;

int askpass_run(const char *program, const char *prompt, struct secret *s)
{
	char *argv[] = { (char *)program, (char *)prompt, NULL };
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0, ret;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	ret = -posix_spawn_file_actions_init(&fa);
	if (ret == 0)
		ret = -posix_spawn_file_actions_adddup2(&fa, pfd[1],
							STDOUT_FILENO);
	/* No shell: the program name is used as given (PATH if no '/'). */
	if (ret == 0)
		ret = -posix_spawnp(&pid, program, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (ret < 0) {
		close(pfd[0]);
		return ret;
	}
	ret = secret_read_line(s, pfd[0]);
	close(pfd[0]); /* a program still writing gets SIGPIPE */
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ret = ret < 0 ? ret : -errno;
			break;
		}
	}
	if (ret == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		ret = -ECANCELED;
	if (ret < 0)
		secret_wipe(s);
	return ret;
}

/*
 * Set by the signal handlers while the terminal's echo is off; a signal
 * handler can reach nothing else, hence a static (the only one here).
 */
static volatile sig_atomic_t askpass_signal;

static void askpass_on_signal(int sig)
{
	askpass_signal = sig;
}

static const int askpass_signals[] = { SIGINT,	SIGTERM, SIGQUIT, SIGHUP,
				       SIGTSTP, SIGTTIN, SIGTTOU };
#define NSIG_ASKPASS (sizeof(askpass_signals) / sizeof(askpass_signals[0]))

int askpass_tty(const char *prompt, struct secret *s)
{
	struct sigaction sa, old[NSIG_ASKPASS];
	struct termios saved, quiet;
	int fd, ret, sig;

	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -ENXIO;
	if (tcgetattr(fd, &saved) < 0) {
		close(fd);
		return -ENXIO;
	}
	/* Without SA_RESTART: a read() interrupted by Ctrl-C returns, and
	 * the echo is switched back on before the signal does its work. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = askpass_on_signal;
	sigemptyset(&sa.sa_mask);
	askpass_signal = 0;
	for (size_t i = 0; i < NSIG_ASKPASS; i++)
		sigaction(askpass_signals[i], &sa, &old[i]);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	ret = tcsetattr(fd, TCSAFLUSH, &quiet) < 0 ? -errno : 0;
	if (ret == 0 && write(fd, prompt, strlen(prompt)) < 0)
		ret = -errno;
	if (ret == 0)
		ret = secret_read_line_cancel(s, fd, &askpass_signal);
	(void)tcsetattr(fd, TCSAFLUSH, &saved);
	if (write(fd, "\n", 1) < 0) {
		/* only cosmetic */
	}
	close(fd);
	for (size_t i = 0; i < NSIG_ASKPASS; i++)
		sigaction(askpass_signals[i], &old[i], NULL);
	sig = askpass_signal;
	if (sig) {
		/* Now with the terminal restored, let it act as it would
		 * have (Ctrl-C ends the program). */
		ret = -ECANCELED;
		kill(getpid(), sig);
	}
	if (ret < 0)
		secret_wipe(s);
	return ret;
}

const char *askpass_env_program(void)
{
	static const char *const vars[] = { "FTPSFS_ASKPASS", "SSH_ASKPASS" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && v[0])
			return v;
	}
	return NULL;
}
