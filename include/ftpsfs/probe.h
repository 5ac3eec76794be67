/*
 * probe.h - ftpsfs --probe: connect to a server as a mount with the same
 * options would, and report in plain words on standard output what the
 * server offers, what a mount will meet, and which options it needs.
 *
 * The probe changes nothing on the server but a temporary file and
 * directory (".ftpsfs-probe-PID-RANDOM" in the remote directory) that it
 * creates and deletes itself, and nothing at all with probe_readonly.  It
 * records nothing locally either (-o tofu: the key is shown, not stored).
 * It never prints a password.
 */
#ifndef FTPSFS_PROBE_H
#define FTPSFS_PROBE_H

struct setup;

/* Exit status of ftpsfs --probe: the first thing that would stop a mount
 * with the options given. */
enum probe_exit {
	PROBE_EXIT_OK = 0,	/* a mount with these options would work */
	PROBE_EXIT_USAGE = 1,	/* bad options or credentials (as a mount) */
	PROBE_EXIT_CONNECT = 2, /* server unreachable, or refusing us now */
	PROBE_EXIT_TLS = 3,	/* no TLS, handshake failed, not verified */
	PROBE_EXIT_LOGIN = 4,	/* login refused */
	PROBE_EXIT_PATH = 5,	/* the remote directory cannot be entered */
	PROBE_EXIT_DATA = 6,	/* no data connection (passive or active
				 * mode, or refused for not resuming TLS) */
};

struct probe_args {
	/* What a mount would connect with: options validated, remote
	 * argument parsed, credentials resolved (setup.h); stays the
	 * caller's. */
	struct setup *setup;
	int argc;    /* the command line, for the fstab */
	char **argv; /* line (its -o options) */
};

/* Run the probe, print the report.  Returns an enum probe_exit value. */
int probe_run(const struct probe_args *a);

#endif
