/* sp_secret.h - refuse weak secrets at start.
 *
 * The example settings ship with obvious placeholders ("change-me...") so
 * that nobody copies a working secret from the documentation; a service that
 * accepted them would run with a key everyone knows. These checks refuse, at
 * start, a secret or password that is a placeholder, too short or made of
 * too few different bytes, with a message naming the variable.
 *
 * Pure functions; nothing is allocated. */
#ifndef SP_SECRET_H
#define SP_SECRET_H

#include <stddef.h>
#include "sp_error.h"

#define SP_SECRET_KEY_LEN_MIN 32          /* bytes of a shared key (SP_LINK_SECRET) */
#define SP_SECRET_KEY_DISTINCT_MIN 10     /* different bytes in such a key */
#define SP_SECRET_PASSWORD_LEN_MIN 12     /* bytes of a start-up password */
#define SP_SECRET_PASSWORD_DISTINCT_MIN 6 /* different bytes in such a password */

/* Whether value is usable as a secret of at least len_min bytes with at
 * least distinct_min different bytes and no placeholder word in it
 * ("change-me", "changeme", "change_me", "placeholder", "secret-here",
 * "xxxxxxxx", any case). 500 "weak_secret" with field = name and a message
 * saying what is wrong and how to make a real one otherwise. */
int sp_secret_check(const char *value, const char *name, size_t len_min, size_t distinct_min,
                    sp_error *err);

#endif
