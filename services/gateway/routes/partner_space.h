/* partner_space.h - pure pieces of the partner space: the service's contact
 * block (configuration, validated at start), the Server-Sent Events framing
 * and positions of the live operations stream, the set of operations a
 * stream already sent, and the bound on streams open at once. No I/O.
 *
 * Memory: sp_gw_contact and sp_gw_sse_sent are filled by value (fixed-size
 * buffers, owned by the caller). sp_gw_contact_json() and
 * sp_gw_sse_event_format() return what the caller releases (json_decref,
 * free). sp_gw_streams_new() returns a handle freed by sp_gw_streams_free(). */
#ifndef SP_GW_PARTNER_SPACE_H
#define SP_GW_PARTNER_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sp_error.h"
#include "sp_id.h"

/* ------------------------------------------------------------------ contact */

#define SP_GW_CONTACT_HOURS_CHARS_MAX 200
#define SP_GW_CONTACT_EMAIL_LEN_MAX 254
#define SP_GW_CONTACT_PHONES_MAX 4
#define SP_GW_CONTACT_PHONE_LEN_MIN 4     /* "3939" */
#define SP_GW_CONTACT_PHONE_LEN_MAX 24    /* "+33 (0)1 23 45 67 89" */
#define SP_GW_CONTACT_PHONES_TEXT_MAX 128 /* SP_CONTACT_PHONES as configured */

typedef struct sp_gw_contact {
    char hours[SP_GW_CONTACT_HOURS_CHARS_MAX * 4 + 1];
    char email[SP_GW_CONTACT_EMAIL_LEN_MAX + 1];
    size_t phone_count; /* 1..SP_GW_CONTACT_PHONES_MAX */
    char phones[SP_GW_CONTACT_PHONES_MAX][SP_GW_CONTACT_PHONE_LEN_MAX + 1];
} sp_gw_contact;

/* Checks the three settings (SP_CONTACT_HOURS: 1..200 characters of UTF-8
 * without control characters; SP_CONTACT_EMAIL: an e-mail address, lower-cased;
 * SP_CONTACT_PHONES: 1 to 4 numbers separated by ';', each 4..24 of
 * "0-9 +.()-" and space, with at least 4 digits) into out. 500
 * invalid_config naming the setting otherwise. */
int sp_gw_contact_parse(const char *hours, const char *email, const char *phones,
                        sp_gw_contact *out, sp_error *err);
/* {hours, email, phones: [...]}; NULL when out of memory. */
json_t *sp_gw_contact_json(const sp_gw_contact *contact);

/* ------------------------------------------------------------------ payment link */

#define SP_GW_PAYER_URL_LEN_MAX (255 + 7 + 8) /* SP_PUBLIC_URL + "/payer/" + code */

/* "<public_url>/payer/<partner_code>": what the partner's QR code and
 * poster encode, the beneficiary app's payment screen for this partner.
 * out: SP_GW_PAYER_URL_LEN_MAX + 1 bytes; -1 when it does not fit. */
int sp_gw_payer_url(const char *public_url, const char *partner_code,
                    char out[SP_GW_PAYER_URL_LEN_MAX + 1]);

/* ------------------------------------------------------------------ SSE */

#define SP_GW_SSE_ID_LEN_MAX (20 + 1 + SP_ID_LEN) /* "<ms>|<operation id>" */
#define SP_GW_SSE_SENT_MAX 256                    /* ids remembered per stream */

/* An event id "<occurred_at_ms>|<operation_id>" into out (SP_GW_SSE_ID_LEN_MAX + 1). */
void sp_gw_sse_id_format(int64_t occurred_at_ms, const char *operation_id, char *out);
/* The Last-Event-ID header a reconnecting client sends back: 400
 * invalid_value (field Last-Event-ID) when it is not one of ours. */
int sp_gw_sse_id_parse(const char *text, int64_t *occurred_at_ms, char operation_id[SP_ID_LEN + 1],
                       sp_error *err);
/* "id: <id>\nevent: <name>\ndata: <data>\n\n" (malloc'd, NUL-terminated,
 * *len without it); NULL when data holds a line break (one data line only)
 * or memory runs out. */
char *sp_gw_sse_event_format(const char *id, const char *name, const char *data, size_t *len);

/* The operation ids a stream sent lately (a ring): rows that become visible
 * late are looked for again, and this keeps them from being sent twice. */
typedef struct sp_gw_sse_sent {
    char ids[SP_GW_SSE_SENT_MAX][SP_ID_LEN + 1];
    size_t next;
    size_t count;
} sp_gw_sse_sent;

void sp_gw_sse_sent_init(sp_gw_sse_sent *sent);
bool sp_gw_sse_sent_has(const sp_gw_sse_sent *sent, const char *operation_id);
/* Remembers id, forgetting the oldest when SP_GW_SSE_SENT_MAX are held. */
void sp_gw_sse_sent_add(sp_gw_sse_sent *sent, const char *operation_id);
/* The ids as a PostgreSQL array literal "{id,id,...}" ("{}" when none). */
#define SP_GW_SSE_SENT_ARRAY_MAX (2 + SP_GW_SSE_SENT_MAX * (SP_ID_LEN + 1))
void sp_gw_sse_sent_array(const sp_gw_sse_sent *sent, char out[SP_GW_SSE_SENT_ARRAY_MAX + 1]);

/* ------------------------------------------------------------------ stream slots */

typedef struct sp_gw_streams sp_gw_streams;

/* NULL when out of memory. */
sp_gw_streams *sp_gw_streams_new(int64_t max);
void sp_gw_streams_free(sp_gw_streams *streams);
/* Takes a slot: false when max streams are open or the server is stopping. */
bool sp_gw_streams_enter(sp_gw_streams *streams);
void sp_gw_streams_leave(sp_gw_streams *streams);

/* At most this many streams of one partner at once, so that one partner
 * cannot hold every slot (each holds an HTTP thread). */
#define SP_GW_SSE_STREAMS_PER_PARTNER_MAX 4

typedef enum sp_gw_streams_entry {
    SP_GW_STREAMS_ENTERED = 0,
    SP_GW_STREAMS_FULL,         /* max streams open, or stopping: 503, retry later */
    SP_GW_STREAMS_PARTNER_FULL, /* this partner has SP_GW_SSE_STREAMS_PER_PARTNER_MAX open */
} sp_gw_streams_entry;

/* Takes a slot for a stream of partner_id (a valid id). */
sp_gw_streams_entry sp_gw_streams_enter_partner(sp_gw_streams *streams, const char *partner_id);
/* Gives back a slot taken by sp_gw_streams_enter_partner() for partner_id. */
void sp_gw_streams_leave_partner(sp_gw_streams *streams, const char *partner_id);
int64_t sp_gw_streams_open(sp_gw_streams *streams);
/* From now on every stream ends at its next tick and none is let in. */
void sp_gw_streams_stop(sp_gw_streams *streams);
bool sp_gw_streams_stopping(sp_gw_streams *streams);

#endif
