/* sp_config.h - configuration from environment variables, declared as a table.
 *
 * Each binary declares its settings (name, kind, default, bounds, help) once;
 * sp_config_load() validates every one (a bad value is an error naming the
 * variable, never a silent default) and `--help` prints the table. String
 * values point into the environment or the default literal: nothing to free. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sp_error.h"

typedef enum { SP_CONFIG_STRING, SP_CONFIG_INT, SP_CONFIG_BOOL } sp_config_kind;

typedef struct sp_config_item {
    const char *env; /* "SP_KAFKA_BROKERS" */
    sp_config_kind kind;
    const char *default_value; /* NULL = required */
    int64_t int_min, int_max;  /* SP_CONFIG_INT bounds, inclusive */
    const char *help;
    void *target; /* const char ** | int64_t * | bool * */
} sp_config_item;

typedef enum { SP_CONFIG_OK = 0, SP_CONFIG_HELP_SHOWN = 1, SP_CONFIG_FAILED = -1 } sp_config_result;

/* A command-line switch a binary accepts besides --help (e.g. "--rebuild"). */
typedef struct sp_config_flag {
    const char *name; /* with its dashes: "--rebuild" */
    const char *help;
    bool *target; /* set to false, then true when the flag is given */
} sp_config_flag;

/* Parses argv (only --help / -h are known; anything else is an error) then
 * the environment. On SP_CONFIG_HELP_SHOWN the caller exits 0. */
sp_config_result sp_config_load(const sp_config_item *items, size_t item_count, int argc,
                                char **argv, const char *program, const char *summary,
                                sp_error *err);

/* The same, for a binary that also accepts the flags of `flags` (listed by --help). */
sp_config_result sp_config_load_with_flags(const sp_config_item *items, size_t item_count,
                                           const sp_config_flag *flags, size_t flag_count, int argc,
                                           char **argv, const char *program, const char *summary,
                                           sp_error *err);

#endif
