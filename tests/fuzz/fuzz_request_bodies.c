/* fuzz_request_bodies.c - libFuzzer target: every JSON request body parser
 * of the gateway, on a thread with the stack of a civetweb worker (100 KiB,
 * where 720 nested arrays used to overflow jansson's recursion).
 *
 * Input: first byte picks the parser, the rest is the body. Built and run by
 * tests/fuzz/run (clang, libFuzzer, ASan and UBSan). */
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/routes/export_request.h"
#include "gateway/http/json_limits.h"
#include "gateway/routes/refund_request.h"
#include "gateway/routes/structure.h"
#include "gateway/endpoints/validate.h"

#define WORKER_STACK_BYTES (100 * 1024)
#define AMOUNT_CENTS_MAX 100000

typedef struct fuzz_case {
    unsigned parser;
    const char *body; /* NUL-terminated copy, as the gateway reads it */
    size_t len;
} fuzz_case;

/* The parsers' outputs are large: on the heap, as one union. */
typedef union parsed {
    sp_gw_login_req login;
    sp_gw_payment_req payment;
    sp_gw_partner_req partner;
    sp_gw_set_password_req set_password;
    sp_gw_reset_request_req reset;
    sp_gw_beneficiary_req beneficiary;
    sp_gw_credit_req credit;
    sp_gw_voucher_issue_req voucher_issue;
    sp_gw_voucher_redeem_req voucher_redeem;
    sp_gw_profile_req profile;
    sp_gw_user_add_req user_add;
    char role[16];
    sp_export_request export_request;
    sp_gw_refund_selection refund_selection;
} parsed;

#define PARSERS 14

static void parse_one(const fuzz_case *c, parsed *out) {
    sp_error err;
    const char *b = c->body;
    size_t n = c->len;
    switch (c->parser % PARSERS) {
    case 0: sp_gw_parse_login(b, n, &out->login, &err); break;
    case 1: sp_gw_parse_payment(b, n, AMOUNT_CENTS_MAX, &out->payment, &err); break;
    case 2: sp_gw_parse_partner(b, n, &out->partner, &err); break;
    case 3: sp_gw_parse_set_password(b, n, &out->set_password, &err); break;
    case 4: sp_gw_parse_reset_request(b, n, &out->reset, &err); break;
    case 5:
        sp_gw_parse_beneficiary(b, n, sp_date_from_ymd(2026, 11, 27), &out->beneficiary, &err);
        break;
    case 6:
        sp_gw_parse_credit(b, n, AMOUNT_CENTS_MAX, sp_date_from_ymd(2026, 11, 27), &out->credit,
                           &err);
        break;
    case 7: sp_gw_parse_voucher_issue(b, n, AMOUNT_CENTS_MAX, &out->voucher_issue, &err); break;
    case 8: sp_gw_parse_voucher_redeem(b, n, &out->voucher_redeem, &err); break;
    case 9: sp_gw_parse_profile(b, n, &out->profile, &err); break;
    case 10: sp_gw_parse_user_add(b, n, &out->user_add, &err); break;
    case 11: sp_gw_parse_user_role(b, n, out->role, &err); break;
    case 12: sp_gw_export_request_parse(b, n, &out->export_request, &err); break;
    default: sp_gw_refund_selection_parse(b, n, &out->refund_selection, &err); break;
    }
}

static void *run_case(void *arg) {
    parsed *out = malloc(sizeof *out);
    assert(out != NULL);
    parse_one(arg, out);
    free(out);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t len = size - 1;
    char *body = malloc(len + 1);
    assert(body != NULL);
    memcpy(body, data + 1, len);
    body[len] = '\0';
    fuzz_case c = {.parser = data[0], .body = body, .len = len};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES);
    pthread_t thread;
    if (pthread_create(&thread, &attr, run_case, &c) == 0) pthread_join(thread, NULL);
    pthread_attr_destroy(&attr);
    free(body);
    return 0;
}
