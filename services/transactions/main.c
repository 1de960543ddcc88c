/* main.c - solipass-transactions: configuration, logging, clock and signals;
 * everything else is in service.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "sp_clock.h"
#include "sp_config.h"
#include "sp_error.h"
#include "sp_log.h"
#include "sp_metrics_http.h"
#include "sp_money.h"
#include "sp_signal.h"

#include "service.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

int main(int argc, char **argv) {
    const char *log_level = NULL, *clock_offset_file = NULL;
    sp_metrics_http_config metrics_config = {0};
    sp_transactions_config config = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &config.brokers},
        {"SP_LOG_LEVEL", SP_CONFIG_STRING, "info", 0, 0, "debug, info, warn or error", &log_level},
        SP_METRICS_HTTP_CONFIG_ITEMS(&metrics_config),
        {"SP_CLOCK_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0,
         "file holding a clock offset in milliseconds (tests); empty: system time",
         &clock_offset_file},
        {"SP_PASSES_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most passes held in memory per ledger partition (also bounds partner accounts)",
         &config.passes_max},
        {"SP_COMMANDS_MAX", SP_CONFIG_INT, "4000000", 1, 1000000000,
         "most command outcomes kept per ledger partition (idempotency); past it, new "
         "commands get 503", &config.commands_max},
        {"SP_PAYMENT_MAX_CENTS", SP_CONFIG_INT, "100000", 1, SP_MONEY_BALANCE_ABS_MAX_CENTS,
         "largest payment, in euro cents", &config.payment_max_cents},
        {"SP_CREDIT_MAX_CENTS", SP_CONFIG_INT, "1000000", 1, SP_MONEY_BALANCE_ABS_MAX_CENTS,
         "largest credit of a pass, in euro cents", &config.credit_max_cents},
        {"SP_EXPIRY_CHECK_MS", SP_CONFIG_INT, "1000", 10, 3600000,
         "how often envelopes and vouchers past their end date are expired, in milliseconds",
         &config.expiry_check_ms},
        {"SP_VOUCHER_VALIDITY_DAYS", SP_CONFIG_INT, "90", 1, 3660,
         "days an exchange voucher can be redeemed after the day it is issued (never past "
         "its envelope's end date)", &config.voucher_validity_days},
        {"SP_VOUCHERS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most exchange vouchers held in memory per ledger partition; past it, new vouchers "
         "get 503", &config.vouchers_max},
        {"SP_REFUND_REQUESTS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most refund requests (and refund accounts) held in memory per ledger partition; past "
         "it, new refund requests get 503", &config.refund_requests_max},
    };
    sp_log log;
    sp_log_init(&log, SP_TRANSACTIONS_SERVICE_NAME, SP_LOG_INFO, stderr);
    sp_error err;
    sp_error_clear(&err);
    int exit_code = 1;
    sp_config_result loaded = sp_config_load(
        items, sizeof items / sizeof items[0], argc, argv, "solipass-transactions",
        "The transactions service: single writer of the ledger (passes, envelopes, payments).",
        &err);
    if (loaded == SP_CONFIG_HELP_SHOWN) {
        exit_code = 0;
        goto done;
    }
    if (loaded != SP_CONFIG_OK) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    int level = sp_log_level_parse(log_level);
    if (level < 0) {
        sp_log_error(&log, "invalid configuration", "field", "SP_LOG_LEVEL", "detail",
                     "SP_LOG_LEVEL must be debug, info, warn or error", NULL);
        goto done;
    }
    log.level_min = (sp_log_level)level;
    if (sodium_init() < 0 || sp_signal_install_stop(on_stop_signal) != 0) {
        sp_log_error(&log, "cannot initialise libsodium or signal handlers", NULL);
        goto done;
    }
    sp_metrics_http *metrics = NULL;
    if (sp_metrics_http_start(&metrics_config, &log, &metrics, &err) != 0) {
        sp_log_error(&log, "invalid configuration", "field", err.field, "detail", err.message, NULL);
        goto done;
    }
    sp_clock clock;
    sp_clock_init(&clock, clock_offset_file);
    int rc = sp_transactions_service_run(&config, &log, &clock, &stop_requested, &err);
    sp_clock_destroy(&clock);
    sp_metrics_http_stop(metrics, &log);
    if (rc != 0) {
        sp_log_error(&log, "fatal", "code", err.code, "detail", err.message, NULL);
        goto done;
    }
    sp_log_info(&log, "stopped", NULL);
    exit_code = 0;
done:
    sp_log_destroy(&log);
    return exit_code;
}
