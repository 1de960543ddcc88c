/* sp_config.c - reading and validating a binary's settings from environment
 * variables and its few command-line flags, and printing them for --help. */
#include "sp_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_help_arg(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static bool parse_int_strict(const char *text, int64_t min, int64_t max, int64_t *out) {
    /* strtoll would skip leading blanks; a setting is the number and nothing else. */
    if (text[0] == '\0' || isspace((unsigned char)text[0])) return false;
    errno = 0;
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') return false;
    if (value < min || value > max) return false;
    *out = (int64_t)value;
    return true;
}

static bool parse_bool(const char *text, bool *out) {
    static const char *const truths[] = {"true", "1", "yes"};
    static const char *const falsehoods[] = {"false", "0", "no"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, truths[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, falsehoods[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Applies one item; `from_default` only changes whose fault a bad value is. */
static int load_item(const sp_config_item *item, sp_error *err) {
    const char *env_value = getenv(item->env);
    bool from_default = env_value == NULL || env_value[0] == '\0';
    const char *value = from_default ? item->default_value : env_value;
    if (value == NULL) {
        return sp_error_set(err, 500, "invalid_config", item->env,
                            "%s is required (see --help): %s", item->env,
                            item->help ? item->help : "no default");
    }
    switch (item->kind) {
    case SP_CONFIG_STRING: *(const char **)item->target = value; return 0;
    case SP_CONFIG_INT:
        if (parse_int_strict(value, item->int_min, item->int_max, (int64_t *)item->target)) {
            return 0;
        }
        assert(!from_default); /* a default outside its own bounds is a bug */
        return sp_error_set(err, 500, "invalid_config", item->env,
                            "%s must be an integer between %" PRId64 " and %" PRId64 ", got '%s'",
                            item->env, item->int_min, item->int_max, value);
    case SP_CONFIG_BOOL:
        if (parse_bool(value, (bool *)item->target)) return 0;
        assert(!from_default);
        return sp_error_set(err, 500, "invalid_config", item->env,
                            "%s must be one of true, false, 1, 0, yes, no, got '%s'", item->env,
                            value);
    }
    assert(!"unknown sp_config_kind");
    return -1;
}

static void print_item(const sp_config_item *item) {
    printf("  %s", item->env);
    if (item->default_value == NULL) {
        printf(" (required");
    } else if (item->kind == SP_CONFIG_STRING) {
        printf(" (default \"%s\"", item->default_value);
    } else {
        printf(" (default %s", item->default_value);
    }
    if (item->kind == SP_CONFIG_INT) {
        printf(", integer %" PRId64 "..%" PRId64, item->int_min, item->int_max);
    } else if (item->kind == SP_CONFIG_BOOL) {
        printf(", true|false");
    }
    printf(")\n      %s\n", item->help ? item->help : "");
}

static void print_usage(const sp_config_item *items, size_t item_count, const sp_config_flag *flags,
                        size_t flag_count, const char *program, const char *summary) {
    printf("Usage: %s [OPTIONS]\n%s\n\nOptions:\n", program, summary ? summary : "");
    printf("  --help, -h\n      Print this help and exit.\n");
    for (size_t i = 0; i < flag_count; i++) {
        printf("  %s\n      %s\n", flags[i].name, flags[i].help ? flags[i].help : "");
    }
    printf("\nEnvironment variables (unset or empty means the default):\n");
    for (size_t i = 0; i < item_count; i++) print_item(&items[i]);
    fflush(stdout);
}

static const sp_config_flag *find_flag(const sp_config_flag *flags, size_t flag_count,
                                       const char *arg) {
    for (size_t i = 0; i < flag_count; i++) {
        if (strcmp(flags[i].name, arg) == 0) return &flags[i];
    }
    return NULL;
}

/* Sets the given flags; -1 on the first argument that is not one. */
static int parse_args(const sp_config_flag *flags, size_t flag_count, int argc, char **argv,
                      const char *program, sp_error *err) {
    for (size_t i = 0; i < flag_count; i++) {
        assert(flags[i].name != NULL && flags[i].target != NULL);
        *flags[i].target = false;
    }
    for (int i = 1; i < argc; i++) {
        const sp_config_flag *flag = find_flag(flags, flag_count, argv[i]);
        if (flag == NULL) {
            return sp_error_set(err, 500, "invalid_argument", NULL,
                                "unknown argument '%s'; see %s --help", argv[i], program);
        }
        *flag->target = true;
    }
    return 0;
}

sp_config_result sp_config_load_with_flags(const sp_config_item *items, size_t item_count,
                                           const sp_config_flag *flags, size_t flag_count, int argc,
                                           char **argv, const char *program, const char *summary,
                                           sp_error *err) {
    assert(items != NULL || item_count == 0);
    assert(flags != NULL || flag_count == 0);
    assert(argc >= 0 && (argv != NULL || argc == 0));
    assert(program != NULL);
    /* --help wins wherever it is, even over a wrong argument or setting. */
    for (int i = 1; i < argc; i++) {
        if (is_help_arg(argv[i])) {
            print_usage(items, item_count, flags, flag_count, program, summary);
            return SP_CONFIG_HELP_SHOWN;
        }
    }
    if (parse_args(flags, flag_count, argc, argv, program, err) != 0) return SP_CONFIG_FAILED;
    for (size_t i = 0; i < item_count; i++) {
        assert(items[i].env != NULL && items[i].target != NULL);
        if (load_item(&items[i], err) != 0) return SP_CONFIG_FAILED;
    }
    return SP_CONFIG_OK;
}

sp_config_result sp_config_load(const sp_config_item *items, size_t item_count, int argc,
                                char **argv, const char *program, const char *summary,
                                sp_error *err) {
    return sp_config_load_with_flags(items, item_count, NULL, 0, argc, argv, program, summary, err);
}
