/* sp_signal.c - stop signals (see sp_signal.h). */
#include "sp_signal.h"

#include <assert.h>
#include <string.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

volatile sig_atomic_t *sp_signal_install_stop(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0)
        return NULL;
    return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? NULL : &stop_requested;
}
