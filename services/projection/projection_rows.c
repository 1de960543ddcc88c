/* projection_rows.c - from one log message to one parameterized statement
 * over the read models (see projection_rows.h). Pure: no I/O, no clock.
 *
 * Ledger statements apply an event only when its aggregate version is the
 * pass's stored version + 1: one statement of data-modifying CTEs whose every
 * part hangs on the version-checked update of the pass (CTE "p"). Accounts
 * statements are inserts that ignore a row already there.
 *
 * This file holds the dispatch (the table of event types and of prepared
 * statements, sp_projection_row_build) and what every builder shares: the
 * parameter writer, the field checks, the pure helpers and the projection's
 * own bookkeeping SQL (offsets, truncate, checksums). Each event's SQL and
 * builder live with their concern (projection_rows_internal.h lists them):
 *   projection_rows_accounts.c  partners, users, sessions, partner space, conventions
 *   projection_rows_ledger.c    passes, credits, payments, expiries, closes, postings
 *   projection_rows_vouchers.c  vouchers, a partner's cancelled payment and reference
 *   projection_rows_refunds.c   refund requests and the parts each pass reserves */
#include "projection_rows_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sp_clock.h"
#include "sp_id.h"
#include "sp_money.h"

/* ------------------------------------------------------------ SQL */

/* The SQL of each event type lives with its builder (projection_rows_*.c);
 * here, the statements of the projection's own bookkeeping. */
/* clang-format off */
static const char offset_upsert_sql[] =
    "INSERT INTO projection_offsets (consumer, topic, partition, next_offset) "
    "VALUES ('projection', $1::text, $2::integer, $3::bigint) "
    "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset";

const char *const sp_projection_offset_upsert_sql = offset_upsert_sql;

const char *const sp_projection_offsets_select_sql =
    "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = 'projection'";

const char *const sp_projection_truncate_sql =
    "TRUNCATE partners, users, sessions, passes, envelopes, operations, ledger_balances, "
    "vouchers, conventions, convention_acceptances, refund_requests, refund_request_parts, "
    "partner_bank_details, figures_daily, figures_budget, history";

const char *const sp_projection_offsets_delete_sql =
    "DELETE FROM projection_offsets WHERE consumer = 'projection'";
/* clang-format on */

const sp_projection_table sp_projection_tables[] = {
    {"partners"},
    {"users"},
    {"sessions"},
    {"passes"},
    {"envelopes"},
    {"operations"},
    {"ledger_balances"},
    {"vouchers"},
    {"conventions"},
    {"convention_acceptances"},
    {"refund_requests"},
    {"refund_request_parts"},
    {"partner_bank_details"},
    /* figures and history (projection_figures.c) */
    {"figures_daily"},
    {"figures_budget"},
    {"history"},
};
const size_t sp_projection_table_count = sizeof sp_projection_tables /
                                         sizeof sp_projection_tables[0];

void sp_projection_checksum_sql(const sp_projection_table *table, const char *schema, char *out,
                                size_t out_size) {
    assert(table != NULL);
    assert(out != NULL);
    /* Each row hashed whole from its values by PostgreSQL's own hash
     * functions (two seeds: 128 bits), summed: no row rendered as text and
     * no sort (the text of every row in key order cost four times as much,
     * and a table's text past 1 GB could not be aggregated at all). */
    int n = snprintf(out, out_size,
                     "SELECT md5(count(*) || ':' || "
                     "coalesce(sum(hash_record_extended(t, 0)::numeric), 0) || ':' || "
                     "coalesce(sum(hash_record_extended(t, 1)::numeric), 0)) FROM %s%s%s AS t",
                     schema != NULL ? schema : "", schema != NULL ? "." : "", table->name);
    assert(n > 0);
    assert((size_t)n < out_size);
    (void)n;
}

/* ------------------------------------------------------------ pure helpers */

#define TIME_MS_MIN INT64_C(946684800000)  /* 2000-01-01T00:00:00Z */
#define TIME_MS_END INT64_C(7258118400000) /* 2200-01-01T00:00:00Z */
#define MS_PER_DAY INT64_C(86400000)

bool sp_projection_time_valid(int64_t utc_ms) {
    return utc_ms >= TIME_MS_MIN && utc_ms < TIME_MS_END;
}

/* value's last `width` decimal digits, zero-padded, at out. */
static void put_digits(char *out, int64_t value, int width) {
    assert(value >= 0);
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* Written digit by digit rather than by snprintf: every event carries a
 * time or two, and a replay formats millions. */
void sp_projection_time_format(int64_t utc_ms, char *out) {
    assert(sp_projection_time_valid(utc_ms));
    int year, month, day;
    sp_date_to_ymd((sp_date)(utc_ms / MS_PER_DAY), &year, &month, &day);
    int64_t ms_of_day = utc_ms % MS_PER_DAY;
    memcpy(out, "0000-00-00T00:00:00.000Z", SP_PROJECTION_TIME_LEN + 1);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, ms_of_day / 3600000, 2);
    put_digits(out + 14, ms_of_day / 60000 % 60, 2);
    put_digits(out + 17, ms_of_day / 1000 % 60, 2);
    put_digits(out + 20, ms_of_day % 1000, 3);
    assert(out[SP_PROJECTION_TIME_LEN] == '\0');
}

/* Length of the UTF-8 sequence starting at s, 0 when it is not well formed
 * (overlong forms, surrogates and code points above U+10FFFF included). */
size_t utf8_sequence_length(const unsigned char *s) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    /* clang-format off */
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return 0;
    /* clang-format on */
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

bool sp_projection_text_valid(const char *s, size_t bytes_max) {
    assert(s != NULL);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (p[i] != '\0') {
        if (p[i] < 0x20 || p[i] == 0x7F) return false;
        size_t len = utf8_sequence_length(p + i);
        if (len == 0) return false;
        i += len;
        if (i > bytes_max) return false;
    }
    return true;
}

bool sp_projection_category_valid(const char *s) {
    assert(s != NULL);
    size_t len = strlen(s);
    if (len < 2 || len > 32 || s[0] < 'a' || s[0] > 'z') return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

/* ------------------------------------------------------------ parameter writer */

void writer_begin(row_writer *w) {
    assert(w->row->param_count < SP_PROJECTION_PARAMS_MAX);
    w->param_start = w->used;
}

void writer_append(row_writer *w, const char *fmt, ...) {
    if (w->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->used, w->size - w->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->size - w->used) {
        w->overflow = true;
        return;
    }
    w->used += (size_t)n;
}

void writer_add(row_writer *w, const char *bytes, size_t len) {
    if (w->overflow) return;
    if (len >= w->size - w->used) { /* room for the NUL writer_end adds */
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->used, bytes, len);
    w->used += len;
}

size_t sp_projection_int_text(int64_t value, char out[SP_PROJECTION_INT_TEXT_MAX]) {
    char digits[20];
    size_t count = 0, len = 0;
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0) out[len++] = '-';
    while (count > 0) out[len++] = digits[--count];
    assert(len < SP_PROJECTION_INT_TEXT_MAX);
    out[len] = '\0';
    return len;
}

void writer_add_int(row_writer *w, int64_t value) {
    char text[SP_PROJECTION_INT_TEXT_MAX];
    size_t len = sp_projection_int_text(value, text);
    writer_add(w, text, len);
}

void writer_end(row_writer *w) {
    sp_projection_row *row = w->row;
    if (w->overflow || w->used >= w->size) {
        w->overflow = true;
        row->params[row->param_count++] = NULL;
        return;
    }
    w->buf[w->used++] = '\0'; /* room kept by every append */
    row->params[row->param_count++] = w->buf + w->param_start;
}

void put_text(row_writer *w, const char *text) {
    writer_begin(w);
    writer_add(w, text, strlen(text));
    writer_end(w);
}

void put_int(row_writer *w, int64_t value) {
    writer_begin(w);
    writer_add_int(w, value);
    writer_end(w);
}

void put_null(row_writer *w) {
    assert(w->row->param_count < SP_PROJECTION_PARAMS_MAX);
    w->row->params[w->row->param_count++] = NULL;
}

/* An id that may be absent: "" becomes SQL NULL. */
void put_id_or_null(row_writer *w, const char *id) {
    if (id[0] == '\0') put_null(w);
    else put_text(w, id);
}

void put_time(row_writer *w, int64_t utc_ms) {
    char text[SP_PROJECTION_TIME_LEN + 1];
    sp_projection_time_format(utc_ms, text);
    put_text(w, text);
}

/* bytea in PostgreSQL's hex input format. */
void put_bytes(row_writer *w, const uint8_t *data, size_t len) {
    writer_begin(w);
    writer_append(w, "\\x");
    for (size_t i = 0; i < len; i++) writer_append(w, "%02x", data[i]);
    writer_end(w);
}

/* ------------------------------------------------------------ validation */

int invalid(sp_error *err, const char *field, const char *fmt, const char *value) {
    return sp_error_set(err, 422, "invalid_event", field, fmt, field, value);
}

int need_uuid(const char *field, const char *value, sp_error *err) {
    if (sp_id_valid(value)) return 0;
    return invalid(err, field, "%s is not a canonical UUID: \"%.40s\"", value);
}

int need_uuid_or_empty(const char *field, const char *value, sp_error *err) {
    return value[0] == '\0' ? 0 : need_uuid(field, value, err);
}

int need_category(const char *field, const char *value, sp_error *err) {
    if (sp_projection_category_valid(value)) return 0;
    return invalid(err, field, "%s is not a category (^[a-z][a-z0-9_]{1,31}$): \"%.40s\"", value);
}

int need_text(const char *field, const char *value, bool empty_ok, size_t bytes_max,
              sp_error *err) {
    if (!empty_ok && value[0] == '\0') return invalid(err, field, "%s is empty%s", "");
    if (sp_projection_text_valid(value, bytes_max)) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is not UTF-8 text without control characters of at most %zu bytes",
                        field, bytes_max);
}

int need_cents(const char *field, int64_t cents, int64_t cents_min, sp_error *err) {
    if (cents >= cents_min && cents <= SP_MONEY_BALANCE_ABS_CENTS_MAX) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is %" PRId64 ", outside %" PRId64 "..%" PRId64, field, cents, cents_min,
                        SP_MONEY_BALANCE_ABS_CENTS_MAX);
}

int need_time(const char *field, int64_t utc_ms, sp_error *err) {
    if (sp_projection_time_valid(utc_ms)) return 0;
    return sp_error_set(err, 422, "invalid_event", field,
                        "%s is %" PRId64 " ms, outside years 2000..2199", field, utc_ms);
}

int need_same_id(const char *field, const char *payload_id, const char *aggregate_id,
                 sp_error *err) {
    if (strcmp(payload_id, aggregate_id) == 0) return 0;
    return invalid(err, field, "%s differs from the envelope's aggregate_id \"%.40s\"",
                   aggregate_id);
}

int need_partner_code(const char *field, const char *code, sp_error *err) {
    bool ok = strlen(code) == SP_PARTNER_CODE_LEN && code[0] >= '1' && code[0] <= '9';
    for (size_t i = 1; ok && i < SP_PARTNER_CODE_LEN; i++) ok = code[i] >= '0' && code[i] <= '9';
    if (ok && sp_luhn_valid(code)) return 0;
    return invalid(err, field,
                   "%s is not an 8-digit partner code with a Luhn check digit: "
                   "\"%.40s\"",
                   code);
}

int need_date(const char *field, const char *value, sp_error *err) {
    sp_date date = 0;
    sp_error ignored;
    if (strlen(value) == 10 && sp_date_parse(value, &date, &ignored) == 0) return 0;
    return invalid(err, field, "%s is not a YYYY-MM-DD date: \"%.16s\"", value);
}

/* ------------------------------------------------------------ events */

int undecodable_payload(sp_error *err, const char *type) {
    return sp_error_set(err, 422, "undecodable", "payload",
                        "the payload of a %s is not valid "
                        "protobuf",
                        type);
}

/* ------------------------------------------------------------ dispatch */

typedef int (*build_fn)(const build_ctx *c, row_writer *w, sp_error *err);

typedef struct event_type {
    const char *type;
    const char *topic;
    sp_projection_event_kind kind;
    bool versioned;
    const sp_projection_statement *statement; /* NULL: changes no read model */
    build_fn build;
} event_type;

/* Statement names are the prepared statements' names on every connection. */
const sp_projection_statement sp_projection_statements[] = {
    {"sp_partner_created", partner_created_sql, 5},
    {"sp_user_registered", user_registered_sql, 8},
    {"sp_session_started", session_started_sql, 3},
    {"sp_session_ended", session_ended_sql, 3},
    {"sp_pass_opened", pass_opened_sql, 5},
    {"sp_pass_credited", pass_credited_sql, SP_PROJECTION_CREDIT_PARAM_COUNT},
    {"sp_payment_accepted", payment_accepted_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT},
    {"sp_envelope_expired", envelope_expired_sql, SP_PROJECTION_MOVEMENT_PARAM_COUNT},
    {"sp_ledger_rejected", ledger_rejected_sql, 3},
    {SP_PROJECTION_OFFSET_UPSERT_STATEMENT, offset_upsert_sql, 3},
    {"sp_password_set", password_set_sql, 3},
    {"sp_voucher_issued", voucher_issued_sql, 13},
    {"sp_voucher_redeemed", voucher_redeemed_sql, 15},
    {"sp_voucher_released", voucher_released_sql, 11},
    {"sp_partner_profile_updated", partner_profile_updated_sql, 15},
    {"sp_partner_image_set", partner_image_set_sql, 5},
    {"sp_user_role_changed", user_role_changed_sql, 3},
    {"sp_user_removed", user_removed_sql, 3},
    {"sp_convention_published", convention_published_sql, 8},
    {"sp_convention_accepted", convention_accepted_sql, 5},
    {"sp_operation_cancelled", operation_cancelled_sql, 12},
    {"sp_operation_reference_set", operation_reference_set_sql, 6},
    {"sp_refund_request_opened", refund_request_opened_sql, 10},
    {"sp_refund_request_confirmed", refund_request_confirmed_sql, 5},
    {"sp_refund_request_cancelled", refund_request_cancelled_sql, 7},
    {"sp_refund_request_paid", refund_request_paid_sql, 5},
    {"sp_operations_reserved", operations_reserved_sql, 9},
    {"sp_operations_released", operations_released_sql, 9},
    {"sp_operations_settled", operations_settled_sql, 9},
    {"sp_reserve_rejected", reserve_rejected_sql, 7}, /* STATEMENT_RESERVE_REJECTED */
    {"sp_pass_closed", pass_closed_sql, 6},
};
const size_t sp_projection_statement_count = sizeof sp_projection_statements /
                                             sizeof sp_projection_statements[0];

#define STATEMENT(i) (&sp_projection_statements[i])

static const event_type event_types[] = {
    {"accounts.PartnerCreated.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PARTNER_CREATED, false,
     STATEMENT(0), build_partner_created},
    {"accounts.UserRegistered.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_REGISTERED, false,
     STATEMENT(1), build_user_registered},
    {"accounts.SessionStarted.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_SESSION_STARTED, false,
     STATEMENT(2), build_session_started},
    {"accounts.SessionEnded.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_SESSION_ENDED, false,
     STATEMENT(3), build_session_ended},
    {"accounts.CommandRejected.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_ACCOUNTS_REJECTED,
     false, NULL, build_accounts_rejected},
    {"accounts.ActivationIssued.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_ACTIVATION_ISSUED,
     false, NULL, build_activation_issued},
    {"accounts.PasswordSet.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PASSWORD_SET, false,
     STATEMENT(10), build_password_set},
    {"ledger.PassOpened.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_OPENED, true, STATEMENT(4),
     build_pass_opened},
    {"ledger.PassCredited.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_CREDITED, true,
     STATEMENT(5), build_pass_credited},
    {"ledger.PaymentAccepted.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PAYMENT_ACCEPTED, true,
     STATEMENT(6), build_payment_accepted},
    {"ledger.EnvelopeExpired.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_ENVELOPE_EXPIRED, true,
     STATEMENT(7), build_envelope_expired},
    {"ledger.CommandRejected.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_LEDGER_REJECTED, true,
     STATEMENT(8), build_ledger_rejected},
    {"ledger.VoucherIssued.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_ISSUED, true,
     STATEMENT(11), build_voucher_issued},
    {"ledger.VoucherRedeemed.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_REDEEMED, true,
     STATEMENT(12), build_voucher_redeemed},
    {"ledger.VoucherCancelled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_RELEASED, true,
     STATEMENT(13), build_voucher_released},
    {"ledger.VoucherExpired.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_VOUCHER_RELEASED, true,
     STATEMENT(13), build_voucher_released},
    {"accounts.PartnerProfileUpdated.v1", SP_TOPIC_ACCOUNTS_EVENTS,
     SP_PROJECTION_PARTNER_PROFILE_UPDATED, false, STATEMENT(14), build_partner_profile_updated},
    {"accounts.PartnerImageSet.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_PARTNER_IMAGE_SET,
     false, STATEMENT(15), build_partner_image_set},
    {"accounts.UserRoleChanged.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_ROLE_CHANGED,
     false, STATEMENT(16), build_user_role_changed},
    {"accounts.UserRemoved.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_USER_REMOVED, false,
     STATEMENT(17), build_user_removed},
    {"accounts.ConventionPublished.v1", SP_TOPIC_ACCOUNTS_EVENTS,
     SP_PROJECTION_CONVENTION_PUBLISHED, false, STATEMENT(18), build_convention_published},
    {"accounts.ConventionAccepted.v1", SP_TOPIC_ACCOUNTS_EVENTS, SP_PROJECTION_CONVENTION_ACCEPTED,
     false, STATEMENT(19), build_convention_accepted},
    {"ledger.OperationCancelled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATION_CANCELLED,
     true, STATEMENT(20), build_operation_cancelled},
    {"ledger.OperationReferenceSet.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_OPERATION_REFERENCE_SET, true, STATEMENT(21), build_operation_reference_set},
    {"ledger.RefundRequestOpened.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_REFUND_REQUEST_OPENED,
     true, STATEMENT(22), build_refund_request_opened},
    {"ledger.RefundRequestConfirmed.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_REFUND_REQUEST_CONFIRMED, true, STATEMENT(23), build_refund_request_confirmed},
    {"ledger.RefundRequestCancelled.v1", SP_TOPIC_LEDGER_EVENTS,
     SP_PROJECTION_REFUND_REQUEST_CANCELLED, true, STATEMENT(24), build_refund_request_cancelled},
    {"ledger.RefundRequestPaid.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_REFUND_REQUEST_PAID, true,
     STATEMENT(25), build_refund_request_paid},
    {"ledger.OperationsReserved.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_RESERVED,
     true, STATEMENT(26), build_operations_reserved},
    {"ledger.OperationsReleased.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_RELEASED,
     true, STATEMENT(27), build_operations_released},
    {"ledger.OperationsSettled.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_OPERATIONS_SETTLED, true,
     STATEMENT(28), build_operations_settled},
    {"ledger.PassClosed.v1", SP_TOPIC_LEDGER_EVENTS, SP_PROJECTION_PASS_CLOSED, true, STATEMENT(30),
     build_pass_closed},
};

static const event_type *event_type_find(const char *type) {
    for (size_t i = 0; i < sizeof event_types / sizeof event_types[0]; i++)
        if (strcmp(event_types[i].type, type) == 0) return &event_types[i];
    return NULL;
}

/* The envelope checks that do not depend on the type. */
static int need_envelope(const Solipass__Envelope *env, const sp_kafka_msg *msg,
                         const event_type **type_out, sp_error *err) {
    const event_type *type = event_type_find(env->type);
    if (type == NULL)
        return sp_error_set(err, 422, "unknown_type", "type", "unknown event type \"%.60s\"",
                            env->type);
    if (strcmp(type->topic, msg->topic) != 0)
        return sp_error_set(err, 422, "wrong_topic", "type", "a %s does not belong on %.60s",
                            type->type, msg->topic);
    if (need_time("occurred_at_ms", env->occurred_at_ms, err) != 0 ||
        need_text("command_id", env->command_id, true, SP_PROJECTION_COMMAND_ID_BYTES_MAX, err) !=
            0)
        return -1;
    *type_out = type;
    return 0;
}

/* What the history needs of the envelope (unpack checked the id). */
static void row_take_meta(const Solipass__Envelope *env, sp_projection_row *row) {
    snprintf(row->event_id, sizeof row->event_id, "%s", env->id);
    row->occurred_at_ms = env->occurred_at_ms;
    const char *actor = env->actor_id != NULL && sp_id_valid(env->actor_id) ? env->actor_id : "";
    snprintf(row->actor_id, sizeof row->actor_id, "%s", actor);
    const char *role = env->actor_role != NULL && actor[0] != '\0' &&
                               sp_projection_text_valid(env->actor_role, SP_ENVELOPE_ROLE_MAX)
                           ? env->actor_role
                           : "";
    snprintf(row->actor_role, sizeof row->actor_role, "%s", role);
}

int sp_projection_row_peek(const sp_kafka_msg *msg, sp_projection_event_kind *kind,
                           char aggregate_id[SP_ID_LEN + 1]) {
    assert(msg != NULL);
    assert(kind != NULL);
    if (msg->value == NULL || msg->value_len == 0) return -1;
    sp_error ignored;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &ignored);
    if (env == NULL) return -1;
    const event_type *type = NULL;
    int rc = need_envelope(env, msg, &type, &ignored) == 0 && env->aggregate_id != NULL &&
                     sp_id_valid(env->aggregate_id)
                 ? 0
                 : -1;
    if (rc == 0) {
        *kind = type->kind;
        memcpy(aggregate_id, env->aggregate_id, SP_ID_LEN + 1);
    }
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}

int sp_projection_row_build(const sp_kafka_msg *msg, char *buf, size_t buf_size,
                            sp_projection_row *row, sp_error *err) {
    assert(msg != NULL);
    assert(msg->topic != NULL);
    assert(buf != NULL);
    assert(buf_size > 0);
    assert(row != NULL);
    memset(row, 0, sizeof *row);
    if (msg->value == NULL || msg->value_len == 0)
        return sp_error_set(err, 422, "undecodable", "", "empty message (no envelope)");
    sp_error unpack_err;
    Solipass__Envelope *env = sp_envelope_unpack(msg->value, msg->value_len, &unpack_err);
    if (env == NULL)
        return sp_error_set(err, 422, "undecodable", unpack_err.field, "envelope: %s",
                            unpack_err.message);
    int rc = -1;
    const event_type *type = NULL;
    if (need_envelope(env, msg, &type, err) != 0) goto done;
    row_writer w = {.buf = buf, .size = buf_size, .row = row};
    const sp_projection_statement *statement = type->statement;
    build_ctx c = {.env = env, .msg = msg, .statement_override = &statement};
    if (type->build(&c, &w, err) != 0) goto done;
    if (w.overflow) {
        sp_error_set(err, 422, "too_large", "", "the parameters of this %s exceed %zu bytes",
                     type->type, buf_size);
        goto done;
    }
    assert(row->param_count == (statement ? statement->param_count : 0));
    row->kind = type->kind;
    row->type = type->type;
    row->versioned = type->versioned;
    row->sql = statement ? statement->sql : NULL;
    row->statement = statement ? statement->name : NULL;
    row_take_meta(env, row);
    rc = 0;
done:
    if (rc != 0) memset(row, 0, sizeof *row);
    solipass__envelope__free_unpacked(env, NULL);
    return rc;
}
