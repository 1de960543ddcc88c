/* build.h - building one export file from the read models, streamed.
 *
 * The rows are read through a server-side cursor inside one REPEATABLE READ,
 * READ ONLY transaction (one consistent snapshot, however long the export),
 * SP_EXPORTS_BATCH_ROWS at a time, and written as they come through a
 * bounded buffer into "<dir>/<export id>.csv.tmp". The finished file is
 * fsync'd, renamed to "<dir>/<export id>.csv", the folder fsync'd, and only
 * then is the row marked ready with its row count and size. A failure at
 * any step removes the temporary file and marks the row failed with the
 * reason; a file is never marked ready half written.
 *
 * Memory: a sp_export_build owns its buffer, its file descriptor and the
 * open transaction of the connection it was given (borrowed). */
#ifndef SP_EXPORTS_BUILD_H
#define SP_EXPORTS_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "sp_error.h"
#include "sp_id.h"
#include "sp_log.h"

#define SP_EXPORT_BUFFER_BYTES (256 * 1024)
#define SP_EXPORT_ROW_BYTES_MAX (16 * 1024) /* the buffer is written out before it gets closer */
#define SP_EXPORT_PATH_MAX 4096

typedef struct sp_export_build sp_export_build;

typedef enum { SP_EXPORT_STEP_MORE, SP_EXPORT_STEP_DONE, SP_EXPORT_STEP_FAILED } sp_export_step;

/* Takes the oldest pending export, if any, and begins it on conn (*out NULL
 * when none is pending). -1 only when the database fails. */
int sp_export_build_next(PGconn *conn, const char *dir, int64_t rows_max, int64_t batch_rows,
                         sp_log *log, sp_export_build **out, sp_error *err);
/* Writes the next batch of rows; at the end finishes the file and marks the
 * row ready (DONE); on any failure removes the file and marks the row
 * failed (FAILED). Either way the build is over and must be freed. -1 only
 * when even the failure could not be recorded (the database is gone). */
int sp_export_build_step(sp_export_build *build, int64_t now_ms, sp_export_step *step,
                         sp_error *err);
/* The export being built. */
const char *sp_export_build_id(const sp_export_build *build);
/* Stops a build whose row was deleted or expired meanwhile: the temporary
 * file is removed, the transaction rolled back, nothing recorded. */
void sp_export_build_abandon(sp_export_build *build);
void sp_export_build_free(sp_export_build *build);

/* "<dir>/<export id>.csv" (or ".csv.tmp") into out; false when too long. */
bool sp_export_path(const char *dir, const char *export_id, bool temporary,
                    char out[SP_EXPORT_PATH_MAX]);

#endif
