/* service.h - the exports service (solipass-exports) at its edges.
 *
 * A consumer group (solipass-exports) reads solipass.exports.commands.v1.
 * RequestExport records a row of the `exports` table (status pending) and
 * replies 202 once it is committed, unless the partner already has
 * SP_EXPORTS_PER_PARTNER_MAX exports pending or ready (429
 * too_many_exports: the files take disk for SP_EXPORTS_RETENTION_S); DeleteExport marks the row
 * deleted, removes its file, and replies. Offsets are committed after the replies are flushed, so a
 * command is never lost, and its row (keyed by the export id) is written once however often it is
 * read again. Between polls the oldest pending export is built (build.h) a batch of rows at a time,
 * so that commands keep being answered during a long export; and every SP_EXPORTS_PURGE_MS the
 * exports whose expiry (injected clock) has passed lose their file and are marked expired, at most
 * SP_EXPORTS_PURGE_BATCH_MAX a round.
 *
 * Memory: the config strings are borrowed for the whole run; the service
 * owns its handles and buffers and frees them on return. */
#ifndef SP_EXPORTS_SERVICE_H
#define SP_EXPORTS_SERVICE_H

#include <signal.h>
#include <stdint.h>
#include "sp_clock.h"
#include "sp_error.h"
#include "sp_log.h"

#define SP_EXPORTS_SERVICE_NAME "exports"
#define SP_EXPORTS_GROUP_ID "solipass-exports"
#define SP_EXPORTS_PURGE_BATCH_MAX 100

typedef struct sp_exports_config {
    const char *brokers;
    const char *pg_dsn;
    const char *migrations_dir;
    const char *dir;         /* SP_EXPORTS_DIR: where the files are */
    int64_t retention_s;     /* SP_EXPORTS_RETENTION_S */
    int64_t purge_ms;        /* SP_EXPORTS_PURGE_MS */
    int64_t rows_max;        /* SP_EXPORTS_ROWS_MAX: a larger export fails */
    int64_t batch_rows;      /* SP_EXPORTS_BATCH_ROWS: rows fetched at a time */
    int64_t per_partner_max; /* SP_EXPORTS_PER_PARTNER_MAX: pending or ready at once */
} sp_exports_config;

/* Runs until *stop is set (0) or a fatal error (-1, err). */
int sp_exports_service_run(const sp_exports_config *config, sp_log *log, sp_clock *clock,
                           volatile sig_atomic_t *stop, sp_error *err);

#endif
