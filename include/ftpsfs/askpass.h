/*
 * askpass.h - ask a person for a secret: through a helper program
 * (askpass=PROGRAM, $FTPSFS_ASKPASS, $SSH_ASKPASS) or on the terminal.
 *
 * Both read one line, bounded by SECRET_MAX, straight into locked secret
 * memory (secret.h).  Nothing goes through a shell.
 */
#ifndef FTPSFS_ASKPASS_H
#define FTPSFS_ASKPASS_H

#include "ftpsfs/secret.h"

/*
 * Run @program (searched in PATH when it has no '/') with @prompt as its
 * only argument, as ssh runs SSH_ASKPASS; its standard output's first line
 * is the secret.  Standard input and error are inherited.  Returns 0,
 * -ECANCELED when the program exits non-zero (the user cancelled),
 * -ENODATA for an empty answer, -ENAMETOOLONG for one longer than
 * SECRET_MAX, or -errno when it cannot run.  @s is wiped on failure.
 */
int askpass_run(const char *program, const char *prompt, struct secret *s);

/*
 * Prompt on the controlling terminal (/dev/tty) with echo off.  Returns
 * 0, -ENXIO when there is no terminal, -ENODATA for an empty answer,
 * -ECANCELED when interrupted (Ctrl-C: the terminal is restored first),
 * or another negative errno.  @s is wiped on failure.
 */
int askpass_tty(const char *prompt, struct secret *s);

/*
 * The helper for when no terminal is present: $FTPSFS_ASKPASS, else
 * $SSH_ASKPASS; NULL when neither is set (or set but empty).
 */
const char *askpass_env_program(void);

#endif
