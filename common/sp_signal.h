/* sp_signal.h - how every solipass binary stops: SIGINT and SIGTERM call the
 * binary's own handler (which only sets its volatile sig_atomic_t flag, owned
 * by main), and SIGPIPE is ignored so that a peer closing a socket is an
 * error return, not a death. */
#ifndef SP_SIGNAL_H
#define SP_SIGNAL_H

/* 0, or -1 when a handler could not be installed (errno says why). */
int sp_signal_install_stop(void (*on_stop)(int signal_number));

#endif
