/* ledger_refund.c - refund requests in the ledger. A request is an
 * aggregate of its own (its id is the aggregate id of its commands and
 * events) whose life is opening -> pending -> paid | cancelled, or opening
 * -> cancelled when it is aborted; it moves no money. The passes it covers
 * reserve, release and settle their own operations (commands keyed by the
 * pass), and only those events move money, through sp_ledger_post:
 *   reserve: partner:<p>:owed -> refund:<request_id>
 *   release: refund:<request_id> -> partner:<p>:owed
 *   settle:  refund:<request_id> -> bank
 * Deciding never changes the state; applying (live and at rebuild) is the
 * only writer. Pure: no I/O. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"
#include "sp_money.h"

#define KIND_MANUAL "manual"
#define KIND_AUTOMATIC "automatic"
#define REASON_PARTNER "partner"
#define REASON_ABORTED "aborted"
#define HTTP_CREATED 201
#define HTTP_OK 200

static const char *text_or_empty(const char *text) {
    return text != NULL ? text : "";
}

const char *sp_ledger_refund_status_name(sp_ledger_refund_status status) {
    switch (status) {
    case SP_LEDGER_REFUND_OPENING: return "opening";
    case SP_LEDGER_REFUND_PENDING: return "pending";
    case SP_LEDGER_REFUND_PAID: return "paid";
    case SP_LEDGER_REFUND_CANCELLED: return "cancelled";
    }
    return "unknown";
}

/* ------------------------------------------------------------ the requests */

static void request_key(uint8_t key[SP_KEY_LEN], const char *request_id) {
    sp_key_of(key, "refund_request", request_id, NULL, NULL);
}

static sp_ledger_refund_request *request_get(const sp_ledger_state *state, const char *request_id) {
    uint8_t key[SP_KEY_LEN];
    request_key(key, request_id);
    return sp_map_get(&state->refund_requests, key);
}

const sp_ledger_refund_request *sp_ledger_refund_request_find(const sp_ledger_state *state,
                                                              const char *request_id) {
    assert(state != NULL);
    return request_id != NULL ? request_get(state, request_id) : NULL;
}

/* ------------------------------------------------------------ request hashes */

static void hex_of(const uint8_t key[SP_KEY_LEN], char out[2 * SP_KEY_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (size_t b = 0; b < SP_KEY_LEN; b++) {
        out[2 * b] = hex[key[b] >> 4];
        out[2 * b + 1] = hex[key[b] & 0x0F];
    }
    out[2 * SP_KEY_LEN] = '\0';
}

/* Chained so that any number of fields fits: out = H(hex(out), a, b, c). */
static void chain(uint8_t out[SP_KEY_LEN], const char *a, const char *b, const char *c) {
    char previous[2 * SP_KEY_LEN + 1];
    hex_of(out, previous);
    sp_key_of(out, previous, text_or_empty(a), text_or_empty(b), text_or_empty(c));
}

static void number_text(char out[24], int64_t value) {
    snprintf(out, 24, "%" PRId64, value);
}

static void chain_ids(uint8_t out[SP_KEY_LEN], const char *const *ids, size_t count) {
    char count_text[24];
    number_text(count_text, (int64_t)count);
    chain(out, count_text, NULL, NULL);
    for (size_t i = 0; i < count; i++) chain(out, ids != NULL ? ids[i] : "", NULL, NULL);
}

static void hash_open(const sp_ledger_command *command, uint8_t out[SP_KEY_LEN]) {
    assert(command != NULL);
    char total[24], parts[24];
    number_text(total, command->expected_total_cents);
    number_text(parts, (int64_t)command->part_count);
    sp_key_of(out, SP_LEDGER_TYPE_OPEN_REFUND_REQUEST, text_or_empty(command->pass_id),
              text_or_empty(command->partner_id), text_or_empty(command->refund_kind));
    chain(out, text_or_empty(command->period), total,
          command->bank_account_missing ? "bank_account_missing" : "");
    chain(out, parts, NULL, NULL);
    for (size_t i = 0; command->parts != NULL && i < command->part_count; i++) {
        const sp_ledger_refund_part *part = &command->parts[i];
        chain(out, text_or_empty(part->pass_id), NULL, NULL);
        chain_ids(out, part->operation_ids, part->operation_id_count);
    }
}

void sp_ledger_hash_refund(const sp_ledger_command *command, uint8_t out[SP_KEY_LEN]) {
    assert(command != NULL);
    const char *type = sp_ledger_command_type(command->kind);
    const char *aggregate_id = text_or_empty(command->pass_id);
    char a[24], b[24];
    switch (command->kind) {
    case SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST: hash_open(command, out); return;
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST:
        number_text(a, command->total_cents);
        number_text(b, command->operation_count);
        sp_key_of(out, type, aggregate_id, a, b);
        return;
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST:
        sp_key_of(out, type, aggregate_id, text_or_empty(command->code), NULL);
        chain(out, text_or_empty(command->message), text_or_empty(command->operation_id), NULL);
        return;
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST:
        sp_key_of(out, type, aggregate_id, text_or_empty(command->partner_id), NULL);
        return;
    case SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID:
        sp_key_of(out, type, aggregate_id, text_or_empty(command->transfer_reference),
                  text_or_empty(command->paid_on));
        return;
    case SP_LEDGER_COMMAND_RESERVE_OPERATIONS:
        sp_key_of(out, type, aggregate_id, text_or_empty(command->request_id),
                  text_or_empty(command->partner_id));
        chain(out, command->skip_unavailable ? "skip_unavailable" : "strict", NULL, NULL);
        chain_ids(out, command->operation_ids, command->operation_id_count);
        return;
    case SP_LEDGER_COMMAND_RELEASE_OPERATIONS:
    case SP_LEDGER_COMMAND_SETTLE_OPERATIONS:
        sp_key_of(out, type, aggregate_id, text_or_empty(command->request_id), NULL);
        return;
    default: break;
    }
    assert(!"not a refund command");
}

/* ------------------------------------------------------------ validation */

static int compare_texts(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether ids[0..count) holds one id twice (*twice = it); -1 out of memory. */
static int find_duplicate(const char *const *ids, size_t count, const char **twice, sp_error *err) {
    *twice = NULL;
    if (count < 2) return 0;
    const char **sorted = malloc(count * sizeof *sorted);
    if (sorted == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    memcpy(sorted, ids, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, compare_texts);
    for (size_t i = 1; i < count && *twice == NULL; i++) {
        if (strcmp(sorted[i - 1], sorted[i]) == 0) *twice = sorted[i];
    }
    free(sorted);
    return 0;
}

/* 1..SP_LEDGER_REFUND_PART_OPERATIONS_MAX uuids, each once. */
static int operation_ids_valid(const char *const *ids, size_t count, sp_error *err) {
    if (count == 0 || ids == NULL) {
        return sp_error_set(err, 422, "empty_selection", "operation_ids",
                            "select at least one operation");
    }
    if (count > SP_LEDGER_REFUND_PART_OPERATIONS_MAX) {
        return sp_error_set(err, 422, "too_many_operations", "operation_ids",
                            "at most %d operations of one pass in one request, got %zu",
                            SP_LEDGER_REFUND_PART_OPERATIONS_MAX, count);
    }
    for (size_t i = 0; i < count; i++) {
        if (ids[i] == NULL || !sp_id_valid(ids[i])) {
            return sp_error_set(err, 400, "invalid_value", "operation_ids",
                                "operation id %zu is not a uuid", i + 1);
        }
    }
    const char *twice = NULL;
    if (find_duplicate(ids, count, &twice, err) != 0) return -1;
    if (twice != NULL) {
        return sp_error_set(err, 422, "duplicate_operation", "operation_ids",
                            "the operation %s is listed twice", twice);
    }
    return 0;
}

static int parts_valid(const sp_ledger_command *command, int64_t *operation_count, sp_error *err) {
    if (command->part_count == 0 || command->parts == NULL) {
        return sp_error_set(err, 422, "empty_selection", "parts", "select at least one operation");
    }
    if (command->part_count > SP_LEDGER_REFUND_PARTS_MAX) {
        return sp_error_set(err, 422, "too_many_passes", "parts",
                            "at most %d passes in one request, got %zu", SP_LEDGER_REFUND_PARTS_MAX,
                            command->part_count);
    }
    const char **pass_ids = malloc(command->part_count * sizeof *pass_ids);
    if (pass_ids == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    int rc = 0;
    *operation_count = 0;
    for (size_t i = 0; i < command->part_count && rc == 0; i++) {
        const sp_ledger_refund_part *part = &command->parts[i];
        pass_ids[i] = text_or_empty(part->pass_id);
        if (!sp_id_valid(pass_ids[i])) {
            rc = sp_error_set(err, 400, "invalid_value", "parts", "part %zu: pass id is not a uuid",
                              i + 1);
        } else {
            rc = operation_ids_valid(part->operation_ids, part->operation_id_count, err);
            *operation_count += (int64_t)part->operation_id_count; /* <= 10000 * 1024 */
        }
    }
    const char *twice = NULL;
    if (rc == 0) rc = find_duplicate(pass_ids, command->part_count, &twice, err);
    if (rc == 0 && twice != NULL) {
        rc = sp_error_set(err, 422, "duplicate_pass", "parts", "the pass %s is listed twice",
                          twice);
    }
    free(pass_ids);
    return rc;
}

/* "YYYY-MM" with a month 01..12. */
static bool period_valid(const char *period) {
    if (strnlen(period, SP_LEDGER_REFUND_PERIOD_LEN + 1) != SP_LEDGER_REFUND_PERIOD_LEN ||
        period[4] != '-') {
        return false;
    }
    for (size_t i = 0; i < SP_LEDGER_REFUND_PERIOD_LEN; i++) {
        if (i != 4 && !(period[i] >= '0' && period[i] <= '9')) return false;
    }
    int month = (period[5] - '0') * 10 + (period[6] - '0');
    return month >= 1 && month <= 12;
}

static int open_fields_valid(const sp_ledger_command *command, sp_error *err) {
    assert(command != NULL);
    const char *kind = text_or_empty(command->refund_kind);
    const char *period = text_or_empty(command->period);
    if (command->partner_id == NULL || !sp_id_valid(command->partner_id)) {
        return sp_error_set(err, 400, "invalid_value", "partner_id", "partner id is not a uuid");
    }
    bool automatic = strcmp(kind, KIND_AUTOMATIC) == 0;
    if (!automatic && strcmp(kind, KIND_MANUAL) != 0) {
        return sp_error_set(err, 400, "invalid_value", "kind",
                            "a request's kind is \"manual\" or \"automatic\"");
    }
    if (automatic ? !period_valid(period) : period[0] != '\0') {
        return sp_error_set(err, 400, "invalid_value", "period",
                            "an automatic request names its month \"YYYY-MM\", a manual one none");
    }
    if (command->expected_total_cents < 0 ||
        command->expected_total_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX) {
        return sp_error_set(err, 422, "invalid_amount", "expected_total_cents",
                            "expected total out of range");
    }
    return 0;
}

/* A SEPA remittance reference: 1..35 of A-Z a-z 0-9 / - ? : ( ) . , ' + space. */
static bool transfer_reference_valid(const char *reference) {
    size_t len = strnlen(reference, SP_LEDGER_TRANSFER_REFERENCE_MAX + 1);
    if (len < 1 || len > SP_LEDGER_TRANSFER_REFERENCE_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = reference[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  strchr("/-?:().,'+ ", c) != NULL;
        if (!ok) return false;
    }
    return true;
}

/* ------------------------------------------------------------ request decisions */

static void refuse(sp_ledger_decision *out, const sp_error *why) {
    assert(out != NULL);
    out->kind = SP_LEDGER_DECIDED_REFUSED;
    out->error = *why;
}

static void request_header(sp_ledger_event *event, sp_ledger_event_kind kind,
                           const sp_ledger_refund_request *request,
                           const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                           int64_t now_ms) {
    assert(event != NULL);
    assert(command != NULL);
    event->kind = kind;
    sp_ledger_copy(event->pass_id, sizeof event->pass_id, command->pass_id);
    sp_ledger_copy(event->request_id, sizeof event->request_id, command->pass_id);
    event->version = request != NULL ? request->version + 1 : 1;
    event->occurred_at_ms = now_ms;
    bool fits = sp_ledger_copy(event->command_id, sizeof event->command_id, command->command_id) &&
                sp_ledger_copy(event->actor_id, sizeof event->actor_id, command->actor_id);
    assert(fits); /* identities are validated before deciding */
    (void)fits;
    memcpy(event->request_hash, hash, SP_KEY_LEN);
    if (request != NULL) {
        sp_ledger_copy(event->partner_id, sizeof event->partner_id, request->partner_id);
    }
}

/* A rule refused a command of an existing request: recorded as its event. */
static void request_reject(sp_ledger_decision *out, const sp_ledger_refund_request *request,
                           const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                           int64_t now_ms, const sp_error *why) {
    assert(out != NULL);
    assert(request != NULL); /* a command of no request is refused, not recorded */
    assert(why != NULL);
    if (why->http_status == 503) {
        refuse(out, why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    out->error = *why;
    sp_ledger_event *event = &out->event;
    request_header(event, SP_LEDGER_EVENT_COMMAND_REJECTED, request, command, hash, now_ms);
    event->partner_id[0] = '\0';
    sp_ledger_copy(event->command_type, sizeof event->command_type,
                   sp_ledger_command_type(command->kind));
    sp_ledger_copy(event->code, sizeof event->code, why->code);
    sp_ledger_copy(event->message, sizeof event->message, why->message);
    sp_ledger_copy(event->field, sizeof event->field, why->field);
}

/* Only an opening (Confirm, Abort) or a pending (Cancel, MarkPaid) request moves on. */
static int status_is(const sp_ledger_refund_request *request, sp_ledger_refund_status wanted,
                     sp_error *err) {
    assert(request != NULL);
    /* Only an opening or a pending request moves on. */
    assert(wanted == SP_LEDGER_REFUND_OPENING || wanted == SP_LEDGER_REFUND_PENDING);
    if (request->status == wanted) return 0;
    switch (request->status) {
    case SP_LEDGER_REFUND_OPENING:
        return sp_error_set(err, 409, "refund_request_opening", "request_id",
                            "the refund request %s is still being opened", request->request_id);
    case SP_LEDGER_REFUND_PENDING:
        return sp_error_set(err, 409, "refund_request_pending", "request_id",
                            "the refund request %s is already pending", request->request_id);
    case SP_LEDGER_REFUND_PAID:
        return sp_error_set(err, 409, "refund_request_paid", "request_id",
                            "the refund request %s is paid", request->request_id);
    case SP_LEDGER_REFUND_CANCELLED:
        return sp_error_set(err, 409, "refund_request_cancelled", "request_id",
                            "the refund request %s is cancelled", request->request_id);
    }
    return sp_error_set(err, 500, "ledger_invariant", NULL, "unknown request status");
}

static void decide_open(const sp_ledger_state *state, const sp_ledger_refund_request *request,
                        const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                        int64_t now_ms, sp_ledger_decision *out) {
    sp_error why;
    sp_error_clear(&why);
    if (request != NULL) {
        sp_error_set(&why, 409, "refund_request_exists", "request_id",
                     "the refund request %s already exists", request->request_id);
        request_reject(out, request, command, hash, now_ms, &why);
        return;
    }
    int64_t operation_count = 0;
    if (state->refund_requests.entry_count >= state->limits.refund_requests_max) {
        sp_error_set(&why, 503, "unavailable", NULL,
                     "refund requests limit reached (SP_REFUND_REQUESTS_MAX=%zu)",
                     state->limits.refund_requests_max);
        refuse(out, &why);
        return;
    }
    if (open_fields_valid(command, &why) != 0 ||
        parts_valid(command, &operation_count, &why) != 0) {
        refuse(out, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_event *event = &out->event;
    request_header(event, SP_LEDGER_EVENT_REFUND_REQUEST_OPENED, NULL, command, hash, now_ms);
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, command->partner_id);
    sp_ledger_copy(event->refund_kind, sizeof event->refund_kind, command->refund_kind);
    sp_ledger_copy(event->period, sizeof event->period, text_or_empty(command->period));
    event->parts = command->parts;
    event->part_count = command->part_count;
    event->operation_count = operation_count;
    event->expected_total_cents = command->expected_total_cents;
    event->bank_account_missing = command->bank_account_missing;
    /* parts_valid counted 1 to SP_LEDGER_REFUND_PARTS_MAX parts and their operations. */
    assert(event->part_count >= 1);
    assert(event->part_count <= SP_LEDGER_REFUND_PARTS_MAX);
    assert(event->operation_count >= 0);
}

static int confirm_rules(const sp_ledger_refund_request *request, const sp_ledger_command *command,
                         sp_error *err) {
    if (status_is(request, SP_LEDGER_REFUND_OPENING, err) != 0) return -1;
    if (command->total_cents < 0 || command->total_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX) {
        return sp_error_set(err, 422, "invalid_amount", "total_cents", "total out of range");
    }
    if (command->operation_count < 0 || command->operation_count > request->asked_operation_count) {
        return sp_error_set(err, 422, "invalid_operation_count", "operation_count",
                            "the request asked %" PRId64 " operations, not %" PRId64,
                            request->asked_operation_count, command->operation_count);
    }
    if (command->operation_count == 0 && command->total_cents != 0) {
        return sp_error_set(err, 422, "invalid_amount", "total_cents", "no operation, no amount");
    }
    return 0;
}

static int abort_rules(const sp_ledger_refund_request *request, const sp_ledger_command *command,
                       sp_error *err) {
    if (status_is(request, SP_LEDGER_REFUND_OPENING, err) != 0) return -1;
    const char *code = text_or_empty(command->code);
    const char *operation_id = text_or_empty(command->operation_id);
    if (code[0] == '\0' || strnlen(code, SP_ERROR_CODE_MAX) >= SP_ERROR_CODE_MAX) {
        return sp_error_set(err, 400, "invalid_value", "code",
                            "an abort names the refusing code (1 to %d bytes)",
                            SP_ERROR_CODE_MAX - 1);
    }
    if (strnlen(text_or_empty(command->message), SP_ERROR_MESSAGE_MAX) >= SP_ERROR_MESSAGE_MAX) {
        return sp_error_set(err, 400, "invalid_value", "message", "message longer than %d bytes",
                            SP_ERROR_MESSAGE_MAX - 1);
    }
    if (operation_id[0] != '\0' && !sp_id_valid(operation_id)) {
        return sp_error_set(err, 400, "invalid_value", "operation_id",
                            "operation id is not a uuid");
    }
    return 0;
}

static int cancel_rules(const sp_ledger_refund_request *request, const sp_ledger_command *command,
                        sp_error *err) {
    if (strcmp(text_or_empty(command->partner_id), request->partner_id) != 0) {
        return sp_error_set(err, 404, "refund_request_not_found", "request_id",
                            "no refund request %s", request->request_id);
    }
    return status_is(request, SP_LEDGER_REFUND_PENDING, err);
}

static int paid_rules(const sp_ledger_refund_request *request, const sp_ledger_command *command,
                      sp_error *err) {
    if (!transfer_reference_valid(text_or_empty(command->transfer_reference))) {
        return sp_error_set(err, 422, "invalid_transfer_reference", "transfer_reference",
                            "a transfer reference is 1 to %d of A-Z a-z 0-9 / - ? : ( ) . , ' + "
                            "and space",
                            SP_LEDGER_TRANSFER_REFERENCE_MAX);
    }
    sp_date paid_on;
    if (sp_date_parse(text_or_empty(command->paid_on), &paid_on, err) != 0) {
        snprintf(err->field, sizeof err->field, "paid_on");
        return -1;
    }
    return status_is(request, SP_LEDGER_REFUND_PENDING, err);
}

static void fill_request_event(sp_ledger_event *event, const sp_ledger_refund_request *request,
                               const sp_ledger_command *command) {
    switch (command->kind) {
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST:
        event->kind = SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED;
        event->total_cents = command->total_cents;
        event->operation_count = command->operation_count;
        /* confirm_rules: no operation, no amount; never more than asked. */
        assert(event->operation_count > 0 || event->total_cents == 0);
        assert(event->operation_count <= request->asked_operation_count);
        return;
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST:
        event->kind = SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED;
        sp_ledger_copy(event->reason, sizeof event->reason, REASON_ABORTED);
        sp_ledger_copy(event->code, sizeof event->code, command->code);
        sp_ledger_copy(event->message, sizeof event->message, text_or_empty(command->message));
        sp_ledger_copy(event->operation_id, sizeof event->operation_id,
                       text_or_empty(command->operation_id));
        return;
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST:
        event->kind = SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED;
        sp_ledger_copy(event->reason, sizeof event->reason, REASON_PARTNER);
        return;
    case SP_LEDGER_COMMAND_MARK_REFUND_REQUEST_PAID:
        event->kind = SP_LEDGER_EVENT_REFUND_REQUEST_PAID;
        assert(request->status == SP_LEDGER_REFUND_PENDING); /* paid_rules */
        event->total_cents = request->total_cents;
        sp_ledger_copy(event->transfer_reference, sizeof event->transfer_reference,
                       command->transfer_reference);
        sp_ledger_copy(event->paid_on, sizeof event->paid_on, command->paid_on);
        return;
    default: break;
    }
    assert(!"not a request command");
}

void sp_ledger_decide_refund_request(const sp_ledger_state *state, const sp_ledger_command *command,
                                     const uint8_t hash[SP_KEY_LEN], int64_t now_ms,
                                     sp_ledger_decision *out) {
    assert(command != NULL);
    assert(sp_ledger_command_is_refund_request(command->kind));
    const sp_ledger_refund_request *request = request_get(state, command->pass_id);
    if (command->kind == SP_LEDGER_COMMAND_OPEN_REFUND_REQUEST) {
        decide_open(state, request, command, hash, now_ms, out);
        return;
    }
    sp_error why;
    sp_error_clear(&why);
    if (request == NULL) {
        sp_error_set(&why, 404, "refund_request_not_found", "request_id", "no refund request %s",
                     command->pass_id);
        refuse(out, &why);
        return;
    }
    int rc = 0;
    switch (command->kind) {
    case SP_LEDGER_COMMAND_CONFIRM_REFUND_REQUEST:
        rc = confirm_rules(request, command, &why);
        break;
    case SP_LEDGER_COMMAND_ABORT_REFUND_REQUEST: rc = abort_rules(request, command, &why); break;
    case SP_LEDGER_COMMAND_CANCEL_REFUND_REQUEST: rc = cancel_rules(request, command, &why); break;
    default: rc = paid_rules(request, command, &why); break;
    }
    if (rc != 0) {
        request_reject(out, request, command, hash, now_ms, &why);
        return;
    }
    out->kind = SP_LEDGER_DECIDED_EVENT;
    /* The header first; the command's own fields then set the event's kind. */
    request_header(&out->event, SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED, request, command, hash,
                   now_ms);
    fill_request_event(&out->event, request, command);
}

/* ------------------------------------------------------------ part decisions */

/* Why one operation cannot be reserved, or 0. */
static int operation_available(const sp_ledger_pass *pass, const char *operation_id,
                               const char *partner_id, sp_error *err) {
    const sp_ledger_operation *op = sp_ledger_operation_find(pass, operation_id);
    if (op == NULL || strcmp(op->partner_id, partner_id) != 0) {
        return sp_error_set(err, 404, "operation_not_found", "operation_ids",
                            "no operation %s of this partner on this pass", operation_id);
    }
    switch (op->status) {
    case SP_LEDGER_OPERATION_ACCEPTED: return 0;
    case SP_LEDGER_OPERATION_CANCELLED:
        return sp_error_set(err, 409, "operation_cancelled", "operation_ids",
                            "the operation %s was cancelled", operation_id);
    case SP_LEDGER_OPERATION_REQUESTED:
        return sp_error_set(err, 409, "operation_in_refund_request", "operation_ids",
                            "the operation %s is in the refund request %s", operation_id,
                            op->request_id);
    case SP_LEDGER_OPERATION_PAID:
        return sp_error_set(err, 409, "operation_paid", "operation_ids",
                            "the operation %s was refunded by the request %s", operation_id,
                            op->request_id);
    }
    return sp_error_set(err, 500, "ledger_invariant", NULL, "unknown operation status");
}

static void part_posting(sp_ledger_event_kind kind, const char *request_id, const char *partner_id,
                         int64_t amount_cents, sp_ledger_posting *posting) {
    assert(posting != NULL);
    memset(posting, 0, sizeof *posting);
    posting->amount_cents = amount_cents;
    char refund[SP_LEDGER_ACCOUNT_MAX + 1], owed[SP_LEDGER_ACCOUNT_MAX + 1];
    sp_ledger_refund_account_name(refund, request_id);
    if (kind == SP_LEDGER_EVENT_OPERATIONS_SETTLED) {
        sp_ledger_copy(owed, sizeof owed, SP_LEDGER_BANK_ACCOUNT);
    } else {
        sp_ledger_partner_account(owed, partner_id);
    }
    bool reserve = kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED;
    sp_ledger_copy(posting->debit_account, sizeof posting->debit_account, reserve ? owed : refund);
    sp_ledger_copy(posting->credit_account, sizeof posting->credit_account,
                   reserve ? refund : owed);
}

/* The operations of a reserve: listed ones that are available first, the
 * skipped after them; strict: the first unavailable one refuses it all. */
static int reserve_select(const sp_ledger_pass *pass, const sp_ledger_command *command,
                          sp_ledger_event *event, sp_error *err) {
    const char *skipped[SP_LEDGER_REFUND_PART_OPERATIONS_MAX];
    size_t skipped_count = 0;
    for (size_t i = 0; i < command->operation_id_count; i++) {
        const char *id = command->operation_ids[i];
        sp_error why;
        sp_error_clear(&why);
        if (operation_available(pass, id, command->partner_id, &why) != 0) {
            if (!command->skip_unavailable) {
                *err = why;
                sp_ledger_copy(event->operation_id, sizeof event->operation_id, id);
                return -1;
            }
            skipped[skipped_count++] = id;
            continue;
        }
        const sp_ledger_operation *op = sp_ledger_operation_find(pass, id);
        assert(op != NULL); /* operation_available found it */
        assert(op->amount_cents > 0);
        event->amount_cents += op->amount_cents; /* 1024 payments within the limit */
        sp_ledger_copy(event->operation_ids[event->changed_count], sizeof event->operation_ids[0],
                       id);
        event->changed_count++;
    }
    for (size_t i = 0; i < skipped_count; i++) {
        sp_ledger_copy(event->operation_ids[event->changed_count + i],
                       sizeof event->operation_ids[0], skipped[i]);
    }
    event->skipped_count = skipped_count;
    assert(event->changed_count + event->skipped_count == command->operation_id_count);
    return 0;
}

/* Release and settle: every operation of this pass in requested(request_id),
 * of the partner of the first one found (a request is one partner's). */
static void requested_select(const sp_ledger_pass *pass, const char *request_id,
                             sp_ledger_event *event) {
    for (size_t i = 0; i < pass->operation_count; i++) {
        const sp_ledger_operation *op = &pass->operations[i];
        if (op->status != SP_LEDGER_OPERATION_REQUESTED ||
            strcmp(op->request_id, request_id) != 0) {
            continue;
        }
        if (event->changed_count == 0) {
            sp_ledger_copy(event->partner_id, sizeof event->partner_id, op->partner_id);
        } else if (strcmp(op->partner_id, event->partner_id) != 0) {
            continue;
        }
        assert(event->changed_count < SP_LEDGER_REFUND_PART_OPERATIONS_MAX);
        assert(op->amount_cents > 0);
        event->amount_cents += op->amount_cents;
        sp_ledger_copy(event->operation_ids[event->changed_count], sizeof event->operation_ids[0],
                       op->operation_id);
        event->changed_count++;
    }
}

static int part_rules(const sp_ledger_pass *pass, const sp_ledger_command *command,
                      sp_ledger_event *event, sp_error *err) {
    assert(command != NULL);
    const char *request_id = text_or_empty(command->request_id);
    if (!sp_id_valid(request_id)) {
        return sp_error_set(err, 400, "invalid_value", "request_id", "request id is not a uuid");
    }
    sp_ledger_copy(event->request_id, sizeof event->request_id, request_id);
    if (command->kind != SP_LEDGER_COMMAND_RESERVE_OPERATIONS) {
        requested_select(pass, request_id, event);
        return 0;
    }
    if (command->partner_id == NULL || !sp_id_valid(command->partner_id)) {
        return sp_error_set(err, 400, "invalid_value", "partner_id", "partner id is not a uuid");
    }
    sp_ledger_copy(event->partner_id, sizeof event->partner_id, command->partner_id);
    if (operation_ids_valid(command->operation_ids, command->operation_id_count, err) != 0) {
        return -1;
    }
    return reserve_select(pass, command, event, err);
}

static sp_ledger_event_kind part_event_kind(sp_ledger_command_kind kind) {
    if (kind == SP_LEDGER_COMMAND_RESERVE_OPERATIONS) return SP_LEDGER_EVENT_OPERATIONS_RESERVED;
    if (kind == SP_LEDGER_COMMAND_RELEASE_OPERATIONS) return SP_LEDGER_EVENT_OPERATIONS_RELEASED;
    return SP_LEDGER_EVENT_OPERATIONS_SETTLED;
}

void sp_ledger_decide_refund_part(const sp_ledger_state *state, const sp_ledger_pass *pass,
                                  const sp_ledger_command *command, const uint8_t hash[SP_KEY_LEN],
                                  int64_t now_ms, sp_ledger_decision *out) {
    assert(command != NULL);
    assert(out != NULL);
    sp_error why;
    sp_error_clear(&why);
    sp_ledger_event *event = &out->event;
    event->kind = part_event_kind(command->kind);
    int rc = part_rules(pass, command, event, &why);
    if (rc == 0 && event->amount_cents > 0) {
        part_posting(event->kind, event->request_id, event->partner_id, event->amount_cents,
                     &event->postings[0]);
        event->posting_count = 1;
        rc = sp_ledger_post_check(state, event->postings, 1, &why);
    }
    if (rc != 0) {
        /* The refusal names the request and, strict, the first operation refused. */
        char request_id[SP_ID_LEN + 1], operation_id[SP_ID_LEN + 1];
        sp_ledger_copy(request_id, sizeof request_id, event->request_id);
        sp_ledger_copy(operation_id, sizeof operation_id, event->operation_id);
        sp_ledger_event_clear(event);
        sp_ledger_decided_reject(out, pass, command, hash, now_ms, &why);
        if (out->kind == SP_LEDGER_DECIDED_EVENT) {
            sp_ledger_copy(event->request_id, sizeof event->request_id, request_id);
            sp_ledger_copy(event->operation_id, sizeof event->operation_id, operation_id);
        }
        return;
    }
    sp_ledger_event_kind kind = event->kind;
    out->kind = SP_LEDGER_DECIDED_EVENT;
    sp_ledger_decided_header(event, kind, pass, command, now_ms);
    memcpy(event->request_hash, hash, SP_KEY_LEN);
}

/* ------------------------------------------------------------ result JSON */

static int set_text_or_null(json_t *obj, const char *key, const char *value) {
    return json_object_set_new(obj, key, value[0] != '\0' ? json_string(value) : json_null());
}

static char *dump(json_t *obj, int failed) {
    char *text = (obj != NULL && failed == 0) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return text;
}

/* The request as every reply of its commands shows it. */
static char *request_json(const sp_ledger_refund_request *request, const sp_ledger_event *event) {
    assert(request != NULL);
    assert(event != NULL);
    char updated_at[25];
    sp_ledger_format_instant(request->updated_at_ms, updated_at);
    bool opening = request->status == SP_LEDGER_REFUND_OPENING;
    bool aborted = strcmp(request->reason, REASON_ABORTED) == 0;
    json_t *obj = json_object();
    int failed = obj == NULL;
    failed |= json_object_set_new(obj, "request_id", json_string(request->request_id));
    failed |= json_object_set_new(obj, "partner_id", json_string(request->partner_id));
    failed |= json_object_set_new(obj, "status",
                                  json_string(sp_ledger_refund_status_name(request->status)));
    failed |= json_object_set_new(obj, "kind", json_string(request->kind));
    failed |= set_text_or_null(obj, "period", request->period);
    /* While opening, what was asked; from confirmation on, what was reserved. */
    failed |= json_object_set_new(obj, "total_cents",
                                  json_integer(opening ? request->expected_total_cents
                                                       : request->total_cents));
    failed |= json_object_set_new(obj, "operation_count",
                                  json_integer(opening ? request->asked_operation_count
                                                       : request->operation_count));
    failed |= json_object_set_new(obj, "part_count", json_integer((json_int_t)request->part_count));
    failed |= json_object_set_new(obj, "expected_total_cents",
                                  json_integer(request->expected_total_cents));
    failed |= json_object_set_new(obj, "bank_account_missing",
                                  json_boolean(request->bank_account_missing));
    failed |= set_text_or_null(obj, "reason", request->reason);
    failed |= set_text_or_null(obj, "code", aborted ? event->code : "");
    failed |= set_text_or_null(obj, "operation_id", aborted ? event->operation_id : "");
    failed |= set_text_or_null(obj, "transfer_reference", request->transfer_reference);
    failed |= set_text_or_null(obj, "paid_on", request->paid_on);
    failed |= json_object_set_new(obj, "updated_at", json_string(updated_at));
    return dump(obj, failed);
}

static const char *part_status(sp_ledger_event_kind kind) {
    if (kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED) return "reserved";
    if (kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED) return "released";
    return "settled";
}

static json_t *ids_array(const sp_ledger_event *event, size_t from, size_t count) {
    json_t *array = json_array();
    for (size_t i = 0; array != NULL && i < count; i++) {
        if (json_array_append_new(array, json_string(event->operation_ids[from + i])) != 0) {
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* One pass's part of a request, as its step left it. */
static char *part_json(const sp_ledger_event *event) {
    assert(event != NULL);
    json_t *obj = json_object();
    json_t *changed = ids_array(event, 0, event->changed_count);
    json_t *skipped = ids_array(event, event->changed_count, event->skipped_count);
    int failed = obj == NULL || changed == NULL || skipped == NULL;
    failed |= json_object_set_new(obj, "request_id", json_string(event->request_id));
    failed |= json_object_set_new(obj, "pass_id", json_string(event->pass_id));
    failed |= set_text_or_null(obj, "partner_id", event->partner_id);
    failed |= json_object_set_new(obj, "status", json_string(part_status(event->kind)));
    failed |= json_object_set(obj, "operation_ids", changed);
    failed |= json_object_set_new(obj, "amount_cents", json_integer(event->amount_cents));
    failed |= json_object_set(obj, "skipped_operation_ids", skipped);
    json_decref(changed);
    json_decref(skipped);
    return dump(obj, failed);
}

/* ------------------------------------------------------------ apply: requests */

bool sp_ledger_event_of_refund_request(const sp_ledger_event *event) {
    switch (event->kind) {
    case SP_LEDGER_EVENT_REFUND_REQUEST_OPENED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED:
    case SP_LEDGER_EVENT_REFUND_REQUEST_PAID: return true;
    case SP_LEDGER_EVENT_COMMAND_REJECTED: {
        const char *types[] = {SP_LEDGER_TYPE_OPEN_REFUND_REQUEST,
                               SP_LEDGER_TYPE_CONFIRM_REFUND_REQUEST,
                               SP_LEDGER_TYPE_ABORT_REFUND_REQUEST,
                               SP_LEDGER_TYPE_CANCEL_REFUND_REQUEST,
                               SP_LEDGER_TYPE_MARK_REFUND_REQUEST_PAID};
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcmp(event->command_type, types[i]) == 0) return true;
        }
        return false;
    }
    default: return false;
    }
}

static int request_from_event(const sp_ledger_event *event, sp_ledger_refund_request *request,
                              sp_error *err) {
    assert(event != NULL);
    bool automatic = strcmp(event->refund_kind, KIND_AUTOMATIC) == 0;
    if (!sp_id_valid(event->partner_id) ||
        (!automatic && strcmp(event->refund_kind, KIND_MANUAL) != 0) ||
        (automatic ? !period_valid(event->period) : event->period[0] != '\0') ||
        strcmp(event->request_id, event->pass_id) != 0) {
        return sp_ledger_invalid_event(err, "request id, partner, kind or period");
    }
    if (event->part_count < 1 || event->part_count > SP_LEDGER_REFUND_PARTS_MAX ||
        event->operation_count < (int64_t)event->part_count ||
        event->operation_count >
            (int64_t)event->part_count * SP_LEDGER_REFUND_PART_OPERATIONS_MAX ||
        event->expected_total_cents < 0 ||
        event->expected_total_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX) {
        return sp_ledger_invalid_event(err, "parts, operation count or expected total");
    }
    memset(request, 0, sizeof *request);
    sp_ledger_copy(request->request_id, sizeof request->request_id, event->pass_id);
    sp_ledger_copy(request->partner_id, sizeof request->partner_id, event->partner_id);
    sp_ledger_copy(request->kind, sizeof request->kind, event->refund_kind);
    sp_ledger_copy(request->period, sizeof request->period, event->period);
    request->status = SP_LEDGER_REFUND_OPENING;
    request->part_count = event->part_count;
    request->asked_operation_count = event->operation_count;
    request->expected_total_cents = event->expected_total_cents;
    request->bank_account_missing = event->bank_account_missing;
    request->opened_at_ms = event->occurred_at_ms;
    request->updated_at_ms = event->occurred_at_ms;
    return 0;
}

static int apply_opened(sp_ledger_state *state, const sp_ledger_event *event,
                        sp_ledger_applied *out, sp_error *err) {
    if (state->refund_requests.entry_count >= state->limits.refund_requests_max) {
        return sp_error_set(err, 503, "unavailable", NULL,
                            "refund requests limit reached (SP_REFUND_REQUESTS_MAX=%zu)",
                            state->limits.refund_requests_max);
    }
    if (sp_ledger_records_room(state, err) != 0) return -1;
    sp_ledger_refund_request *request = calloc(1, sizeof *request);
    if (request == NULL) return sp_error_set(err, 503, "unavailable", NULL, "out of memory");
    if (request_from_event(event, request, err) != 0) {
        free(request);
        return -1;
    }
    request->version = event->version;
    char *json = request_json(request, event);
    uint8_t key[SP_KEY_LEN];
    request_key(key, request->request_id);
    if (json == NULL || sp_map_put(&state->refund_requests, key, request, err) != 0) {
        free(json);
        free(request);
        return sp_error_set(err, 503, "unavailable", NULL, "out of memory or no room");
    }
    return sp_ledger_record_keep(state, event, event->request_hash, HTTP_CREATED, json, out, err);
}

/* The request as this event leaves it (next), checked against its rules. */
static int request_change(const sp_ledger_refund_request *request, const sp_ledger_event *event,
                          sp_ledger_refund_request *next, sp_error *err) {
    assert(event != NULL);
    assert(next != NULL);
    *next = *request;
    next->updated_at_ms = event->occurred_at_ms;
    if (event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CONFIRMED) {
        if (request->status != SP_LEDGER_REFUND_OPENING || event->total_cents < 0 ||
            event->total_cents > SP_MONEY_BALANCE_ABS_CENTS_MAX || event->operation_count < 0 ||
            event->operation_count > request->asked_operation_count) {
            return sp_ledger_invalid_event(err, "confirmation of a request not opening");
        }
        next->status = SP_LEDGER_REFUND_PENDING;
        next->total_cents = event->total_cents;
        next->operation_count = event->operation_count;
    } else if (event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_CANCELLED) {
        bool aborted = strcmp(event->reason, REASON_ABORTED) == 0;
        if (!aborted && strcmp(event->reason, REASON_PARTNER) != 0) {
            return sp_ledger_invalid_event(err, "cancellation reason");
        }
        if (request->status != (aborted ? SP_LEDGER_REFUND_OPENING : SP_LEDGER_REFUND_PENDING)) {
            return sp_ledger_invalid_event(err, "cancellation of a request in another status");
        }
        next->status = SP_LEDGER_REFUND_CANCELLED;
        sp_ledger_copy(next->reason, sizeof next->reason, event->reason);
    } else {
        if (request->status != SP_LEDGER_REFUND_PENDING ||
            !transfer_reference_valid(event->transfer_reference) ||
            event->total_cents != request->total_cents) {
            return sp_ledger_invalid_event(err, "payment of a request not pending");
        }
        sp_date paid_on;
        if (sp_date_parse(event->paid_on, &paid_on, err) != 0) {
            return sp_ledger_invalid_event(err, "paid_on");
        }
        assert(next->total_cents >= 0);
        next->status = SP_LEDGER_REFUND_PAID;
        sp_ledger_copy(next->transfer_reference, sizeof next->transfer_reference,
                       event->transfer_reference);
        sp_ledger_copy(next->paid_on, sizeof next->paid_on, event->paid_on);
    }
    return 0;
}

static int apply_request_change(sp_ledger_state *state, sp_ledger_refund_request *request,
                                const sp_ledger_event *event, sp_ledger_applied *out,
                                sp_error *err) {
    if (event->kind == SP_LEDGER_EVENT_COMMAND_REJECTED) {
        return sp_ledger_apply_rejected(state, event, out, err);
    }
    if (strcmp(event->request_id, request->request_id) != 0) {
        return sp_ledger_invalid_event(err, "request id is not the aggregate id");
    }
    sp_ledger_refund_request next;
    if (request_change(request, event, &next, err) != 0) return -1;
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_record_keep(state, event, event->request_hash, HTTP_OK,
                              request_json(&next, event), out, err) != 0) {
        return -1;
    }
    *request = next;
    return 0;
}

int sp_ledger_apply_refund_request(sp_ledger_state *state, const sp_ledger_event *event,
                                   sp_ledger_applied *out, sp_error *err) {
    assert(state != NULL);
    assert(event != NULL);
    assert(out != NULL);
    assert(sp_ledger_event_of_refund_request(event));
    sp_ledger_refund_request *request = request_get(state, event->pass_id);
    bool opening = event->kind == SP_LEDGER_EVENT_REFUND_REQUEST_OPENED;
    uint64_t next_version = request != NULL ? request->version + 1 : 1;
    /* A duplicate, a second writer's event, or an event of a request never opened. */
    if (event->version != next_version || (request == NULL) != opening) {
        out->skipped = true;
        state->events_skipped++;
        return 0;
    }
    int rc = opening ? apply_opened(state, event, out, err)
                     : apply_request_change(state, request, event, out, err);
    if (rc != 0) return -1;
    if (request != NULL) request->version = event->version;
    assert(request_get(state, event->pass_id) != NULL);
    assert(request_get(state, event->pass_id)->version == event->version);
    state->events_applied++;
    return 0;
}

/* ------------------------------------------------------------ apply: parts */

/* The status an operation must have for this event, and the one it takes. */
static void part_transition(sp_ledger_event_kind kind, sp_ledger_operation_status *from,
                            sp_ledger_operation_status *to) {
    assert(kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED ||
           kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED ||
           kind == SP_LEDGER_EVENT_OPERATIONS_SETTLED);
    *from = kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED ? SP_LEDGER_OPERATION_ACCEPTED
                                                        : SP_LEDGER_OPERATION_REQUESTED;
    *to = kind == SP_LEDGER_EVENT_OPERATIONS_RESERVED   ? SP_LEDGER_OPERATION_REQUESTED
          : kind == SP_LEDGER_EVENT_OPERATIONS_RELEASED ? SP_LEDGER_OPERATION_ACCEPTED
                                                        : SP_LEDGER_OPERATION_PAID;
}

/* Every changed operation exists, is the partner's, can make this move, and
 * their amounts add up to the event's. */
static int part_check(sp_ledger_pass *pass, const sp_ledger_event *event, sp_error *err) {
    assert(event != NULL);
    sp_ledger_operation_status from, to;
    part_transition(event->kind, &from, &to);
    if (!sp_id_valid(event->request_id) ||
        event->changed_count + event->skipped_count > SP_LEDGER_REFUND_PART_OPERATIONS_MAX ||
        (event->changed_count > 0 && !sp_id_valid(event->partner_id))) {
        return sp_ledger_invalid_event(err, "request, partner or operation count");
    }
    int64_t sum_cents = 0;
    for (size_t i = 0; i < event->changed_count; i++) {
        const sp_ledger_operation *op = sp_ledger_operation_of(pass, event->operation_ids[i]);
        if (op == NULL || strcmp(op->partner_id, event->partner_id) != 0 || op->status != from ||
            (from == SP_LEDGER_OPERATION_REQUESTED &&
             strcmp(op->request_id, event->request_id) != 0)) {
            return sp_ledger_invalid_event(err, "an operation cannot make this move");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(event->operation_ids[j], event->operation_ids[i]) == 0) {
                return sp_ledger_invalid_event(err, "an operation listed twice");
            }
        }
        sum_cents += op->amount_cents; /* 1024 payments within the limit */
    }
    if (sum_cents != event->amount_cents) return sp_ledger_invalid_event(err, "amount");
    return 0;
}

int sp_ledger_apply_refund_part(sp_ledger_state *state, sp_ledger_pass *pass,
                                const sp_ledger_event *event, sp_ledger_applied *out,
                                sp_error *err) {
    assert(state != NULL);
    assert(pass != NULL);
    assert(event != NULL);
    assert(out != NULL);
    if (part_check(pass, event, err) != 0) return -1;
    sp_ledger_posting posting;
    if (event->amount_cents > 0) {
        part_posting(event->kind, event->request_id, event->partner_id, event->amount_cents,
                     &posting);
        if (event->posting_count != 1 || !sp_ledger_postings_match(event, &posting, 1)) {
            return sp_ledger_invalid_event(err, "postings");
        }
        if (sp_ledger_post_check(state, &posting, 1, err) != 0) return sp_ledger_post_refused(err);
    } else if (event->posting_count != 0) {
        return sp_ledger_invalid_event(err, "postings");
    }
    if (sp_ledger_records_room(state, err) != 0) return -1;
    if (sp_ledger_record_keep(state, event, event->request_hash, HTTP_OK, part_json(event), out,
                              err) != 0) {
        return -1;
    }
    if (event->amount_cents > 0) {
        int rc = sp_ledger_post(state, &posting, 1, err);
        assert(rc == 0); /* sp_ledger_post_check accepted it just now */
        if (rc != 0) return -1;
    }
    sp_ledger_operation_status from, to;
    part_transition(event->kind, &from, &to);
    for (size_t i = 0; i < event->changed_count; i++) {
        sp_ledger_operation *op = sp_ledger_operation_of(pass, event->operation_ids[i]);
        assert(op != NULL); /* part_check found each one */
        assert(op->status == from);
        op->status = to;
        /* Released: the operation is nobody's request any more. */
        sp_ledger_copy(op->request_id, sizeof op->request_id,
                       to == SP_LEDGER_OPERATION_ACCEPTED ? "" : event->request_id);
    }
    return 0;
}
