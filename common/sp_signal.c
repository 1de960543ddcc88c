/* sp_signal.c - stop signals (see sp_signal.h). */
#include "sp_signal.h"

#include <assert.h>
#include <signal.h>
#include <string.h>

int sp_signal_install_stop(void (*on_stop)(int signal_number)) {
    assert(on_stop != NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0) return -1;
    return signal(SIGPIPE, SIG_IGN) == SIG_ERR ? -1 : 0;
}
