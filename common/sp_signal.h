/* sp_signal.h - how every solipass binary stops: SIGINT and SIGTERM set the
 * process's stop flag, and SIGPIPE is ignored so that a peer closing a socket
 * is an error return, not a death.
 *
 * Ownership: the flag is the one piece of mutable state outside main. A
 * signal handler can reach nothing but a static, and a process has one set
 * of signal dispositions, so one flag per process is what there is; it lives
 * here, once, rather than in every main.c. Loops read it through the pointer
 * sp_signal_install_stop() returns and never write it. */
#ifndef SP_SIGNAL_H
#define SP_SIGNAL_H

#include <signal.h>

/* Installs the handlers; the flag then turns 1 at the first SIGINT or
 * SIGTERM. NULL when a handler could not be installed (errno says why). */
volatile sig_atomic_t *sp_signal_install_stop(void);

#endif
