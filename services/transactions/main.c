/* main.c - solipass-transactions: its settings; the start and stop are
 * sp_service's, everything else is in service.c. */
#include "sp_money.h"
#include "sp_service.h"

#include "service.h"

int main(int argc, char **argv) {
    sp_service svc;
    sp_transactions_config config = {0};
    const sp_config_item items[] = {
        {"SP_KAFKA_BROKERS", SP_CONFIG_STRING, NULL, 0, 0,
         "Kafka bootstrap servers, host:port[,host:port...]", &config.brokers},
        SP_SERVICE_CONFIG_ITEMS(&svc),
        {"SP_PASSES_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most passes held in memory per ledger partition (also bounds partner accounts)",
         &config.passes_max},
        {"SP_COMMANDS_MAX", SP_CONFIG_INT, "4000000", 1, 1000000000,
         "most command outcomes kept per ledger partition (idempotency); past it, new "
         "commands get 503",
         &config.commands_max},
        {"SP_PAYMENT_MAX_CENTS", SP_CONFIG_INT, "100000", 1, SP_MONEY_BALANCE_ABS_CENTS_MAX,
         "largest payment, in euro cents", &config.payment_cents_max},
        {"SP_CREDIT_MAX_CENTS", SP_CONFIG_INT, "1000000", 1, SP_MONEY_BALANCE_ABS_CENTS_MAX,
         "largest credit of a pass, in euro cents", &config.credit_cents_max},
        {"SP_EXPIRY_CHECK_MS", SP_CONFIG_INT, "1000", 10, 3600000,
         "how often envelopes and vouchers past their end date are expired, in milliseconds",
         &config.expiry_check_ms},
        {"SP_VOUCHER_VALIDITY_DAYS", SP_CONFIG_INT, "90", 1, 3660,
         "days an exchange voucher can be redeemed after the day it is issued (never past "
         "its envelope's end date)",
         &config.voucher_validity_days},
        {"SP_VOUCHERS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most exchange vouchers held in memory per ledger partition; past it, new vouchers "
         "get 503",
         &config.vouchers_max},
        {"SP_REFUND_REQUESTS_MAX", SP_CONFIG_INT, "1000000", 1, 100000000,
         "most refund requests (and refund accounts) held in memory per ledger partition; past "
         "it, new refund requests get 503",
         &config.refund_requests_max},
        {"SP_SNAPSHOT_DIR", SP_CONFIG_STRING, "", 0, 0,
         "folder of the ledger partitions' snapshots (one file each, written every "
         "SP_SNAPSHOT_EVERY_EVENTS events and at a clean stop, read at assignment so that only "
         "the events after it are replayed). Empty: every start replays the whole log",
         &config.snapshot_dir},
        {"SP_SNAPSHOT_EVERY_EVENTS", SP_CONFIG_INT, "10000", 1, 1000000000,
         "events applied to a ledger partition between two of its snapshots",
         &config.snapshot_every_events},
        {"SP_RECEIPT_SECRET_KEY", SP_CONFIG_STRING, "", 0, 0,
         "base64 of the Ed25519 key that signs payment receipts (the 64-byte libsodium secret "
         "key or its 32-byte seed); its public half goes in the gateway's "
         "SP_RECEIPT_PUBLIC_KEYS. Empty: payments carry no receipt",
         &config.receipt_secret_key},
    };
    const sp_service_spec spec = {
        .name = SP_TRANSACTIONS_SERVICE_NAME,
        .program = "solipass-transactions",
        .summary = "The transactions service: single writer of the ledger (passes, envelopes, "
                   "payments).",
        .items = items,
        .item_count = sizeof items / sizeof items[0]};
    if (sp_service_start(&svc, &spec, argc, argv) != 0) return svc.exit_code;
    int rc = sp_transactions_service_run(&config, &svc.log, &svc.clock, svc.stop, &svc.err);
    return sp_service_finish(&svc, rc);
}
