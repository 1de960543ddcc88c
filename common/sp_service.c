/* sp_service.c - a service's start and orderly stop (see sp_service.h). */
#include "sp_service.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sp_signal.h"

int sp_service_check_environment(const char *environment, const char *clock_offset_file,
                                 sp_error *err) {
    assert(environment != NULL && err != NULL);
    static const char *const known[] = {"development", "staging", "production"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(environment, known[i]) == 0) is_known = true;
    if (!is_known)
        return sp_error_set(err, 500, "invalid_config", "SP_ENVIRONMENT",
                            "SP_ENVIRONMENT must be development, staging or production");
    /* A moved clock in production would date payments, expiries and the
     * monthly refund run wrongly: public money paid on the wrong day. */
    if (strcmp(environment, "production") == 0 && clock_offset_file != NULL &&
        clock_offset_file[0] != '\0')
        return sp_error_set(err, 500, "invalid_config", "SP_CLOCK_OFFSET_FILE",
                            "SP_CLOCK_OFFSET_FILE moves the clock for tests and staging: "
                            "it is refused when SP_ENVIRONMENT is production");
    return 0;
}

/* The binary's table followed by the skeleton's own settings, which every
 * service thus reads and lists in --help whatever its table holds. */
static sp_config_result load_settings(sp_service *svc, const sp_service_spec *spec, int argc,
                                      char **argv) {
    sp_config_item all[SP_SERVICE_CONFIG_ITEMS_MAX];
    if (spec->item_count + 1 > SP_SERVICE_CONFIG_ITEMS_MAX) {
        sp_error_set(&svc->err, 500, "startup_failed", NULL,
                     "the settings table is longer than SP_SERVICE_CONFIG_ITEMS_MAX");
        return SP_CONFIG_FAILED;
    }
    if (spec->item_count > 0) memcpy(all, spec->items, spec->item_count * sizeof all[0]);
    all[spec->item_count] = (sp_config_item){
        "SP_ENVIRONMENT",
        SP_CONFIG_STRING,
        "development",
        0,
        0,
        "development, staging or production; production refuses the test facilities "
        "(SP_CLOCK_OFFSET_FILE)",
        &svc->environment};
    return sp_config_load_with_flags(all, spec->item_count + 1, spec->flags, spec->flag_count, argc,
                                     argv, spec->program, spec->summary, &svc->err);
}

/* The settings, then what the process needs before any module runs. On
 * failure err names the variable and the reason. */
static int load_and_check(sp_service *svc, const sp_service_spec *spec, int argc, char **argv,
                          bool *help_shown) {
    sp_config_result loaded = load_settings(svc, spec, argc, argv);
    *help_shown = loaded == SP_CONFIG_HELP_SHOWN;
    if (loaded != SP_CONFIG_OK) return -1;
    if (sp_service_check_environment(svc->environment, svc->clock_offset_file, &svc->err) != 0)
        return -1;
    int level = sp_log_level_parse(svc->log_level != NULL ? svc->log_level : "info");
    if (level < 0)
        return sp_error_set(&svc->err, 500, "invalid_config", "SP_LOG_LEVEL",
                            "SP_LOG_LEVEL must be debug, info, warn or error");
    svc->log.level_min = (sp_log_level)level;
    if (svc->kafka_security.protocol != NULL) {
        if (sp_kafka_security_check(&svc->kafka_security, &svc->err) != 0 ||
            sp_kafka_security_files_check(&svc->kafka_security, &svc->err) != 0)
            return -1;
        sp_kafka_security_install(&svc->kafka_security);
    }
    if (spec->check != NULL && spec->check(spec->check_ctx, svc, &svc->err) != 0) return -1;
    if (sodium_init() < 0)
        return sp_error_set(&svc->err, 500, "startup_failed", NULL, "cannot initialise libsodium");
    svc->stop = sp_signal_install_stop();
    if (svc->stop == NULL)
        return sp_error_set(&svc->err, 500, "startup_failed", NULL,
                            "cannot install the signal handlers");
    /* A table without the endpoint's two settings (the gateway, which serves
     * /metrics itself) starts none. */
    if (svc->metrics_config.address != NULL &&
        sp_metrics_http_start(&svc->metrics_config, &svc->log, &svc->metrics, &svc->err) != 0)
        return -1;
    return 0;
}

int sp_service_start(sp_service *svc, const sp_service_spec *spec, int argc, char **argv) {
    assert(svc != NULL && spec != NULL && spec->name != NULL && spec->program != NULL);
    assert(spec->items != NULL || spec->item_count == 0);
    memset(svc, 0, sizeof *svc);
    sp_log_init(&svc->log, spec->name, SP_LOG_INFO, stderr);
    sp_error_clear(&svc->err);
    bool help_shown = false;
    if (load_and_check(svc, spec, argc, argv, &help_shown) != 0) {
        int refused = spec->refused_exit_code != 0 ? spec->refused_exit_code : 1;
        svc->exit_code = help_shown ? 0 : refused;
        if (!help_shown)
            sp_log_error(&svc->log, "cannot start", "code", svc->err.code, "field", svc->err.field,
                         "detail", svc->err.message, NULL);
        sp_log_destroy(&svc->log);
        return -1;
    }
    const char *offset_file = svc->clock_offset_file;
    sp_clock_init(&svc->clock, offset_file != NULL && offset_file[0] != '\0' ? offset_file : NULL);
    return 0;
}

bool sp_service_stopping(const sp_service *svc) {
    assert(svc != NULL && svc->stop != NULL);
    return *svc->stop != 0;
}

static void release(sp_service *svc) {
    sp_clock_destroy(&svc->clock);
    sp_metrics_http_stop(svc->metrics, &svc->log);
    svc->metrics = NULL;
}

void sp_service_close(sp_service *svc) {
    assert(svc != NULL);
    release(svc);
    sp_log_destroy(&svc->log);
}

int sp_service_finish(sp_service *svc, int rc) {
    assert(svc != NULL);
    release(svc);
    if (rc != 0)
        sp_log_error(&svc->log, "fatal", "code", svc->err.code, "detail", svc->err.message, NULL);
    else sp_log_info(&svc->log, "stopped", NULL);
    sp_log_destroy(&svc->log);
    return rc == 0 ? 0 : 1;
}

void sp_service_ready(sp_service_readiness *readiness) {
    assert(readiness != NULL && readiness->log != NULL);
    if (readiness->ready) return;
    readiness->ready = true;
    sp_log_info(readiness->log, "ready", NULL);
}

int sp_service_on_assigned(void *readiness, const sp_kafka_tp *tps, size_t tp_count,
                           sp_error *err) {
    (void)tps;
    (void)tp_count;
    (void)err;
    sp_service_ready(readiness);
    return 0;
}
