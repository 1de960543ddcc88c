/* sp_snapshot_file.c - a snapshot's file: read whole, written beside and
 * renamed into place, on a thread of its own (see sp_snapshot_file.h). */
#include "sp_snapshot_file.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sp_snapshot_path(const char *dir, const char *kind, int32_t partition,
                     char out[SP_SNAPSHOT_PATH_MAX], sp_error *err) {
    int n = snprintf(out, SP_SNAPSHOT_PATH_MAX, "%s/%s-%" PRId32 ".snap", dir, kind, partition);
    if (n < 0 || n >= SP_SNAPSHOT_PATH_MAX - 8) { /* room for ".tmp" */
        return sp_error_set(err, 400, "invalid_setting", "SP_SNAPSHOT_DIR", "path too long");
    }
    return 0;
}

int sp_snapshot_read(const char *path, size_t bytes_max, uint8_t **out, size_t *out_len,
                     sp_error *err) {
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return sp_error_set(err, 404, "snapshot_missing", NULL, "no %s", path);
        return sp_error_set(err, 500, "snapshot_io", NULL, "open %s: %s", path, strerror(errno));
    }
    int rc = 0;
    struct stat st;
    uint8_t *bytes = NULL;
    if (fstat(fd, &st) != 0) {
        rc = sp_error_set(err, 500, "snapshot_io", NULL, "stat %s: %s", path, strerror(errno));
    } else if (st.st_size < 0 || (uint64_t)st.st_size > bytes_max) {
        rc = sp_error_set(err, 422, "snapshot_refused", NULL, "%s: %jd bytes, more than %zu", path,
                          (intmax_t)st.st_size, bytes_max);
    } else if ((bytes = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
        rc = sp_error_set(err, 503, "unavailable", NULL, "out of memory reading %s", path);
    }
    size_t len = 0;
    while (rc == 0 && len < (size_t)st.st_size) {
        ssize_t got = read(fd, bytes + len, (size_t)st.st_size - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            rc = sp_error_set(err, 500, "snapshot_io", NULL, "read %s: %s", path,
                              got < 0 ? strerror(errno) : "shorter than its size");
        } else {
            len += (size_t)got;
        }
    }
    close(fd);
    if (rc != 0) {
        free(bytes);
        return rc;
    }
    *out = bytes;
    *out_len = len;
    return 0;
}

static int write_all(int fd, const uint8_t *bytes, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, bytes + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

/* The folder's entry of the rename must reach the disk too. */
static int fsync_folder_of(const char *path) {
    char copy[SP_SNAPSHOT_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int sp_snapshot_write(const char *path, const uint8_t *bytes, size_t len, sp_error *err) {
    char tmp[SP_SNAPSHOT_PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert(n > 0 && n < (int)sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return sp_error_set(err, 500, "snapshot_io", NULL, "create %s: %s", tmp, strerror(errno));
    }
    int rc = write_all(fd, bytes, len) == 0 && fsync(fd) == 0 ? 0 : -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return sp_error_set(err, 500, "snapshot_io", NULL, "write %s: %s", path, strerror(saved));
    }
    if (fsync_folder_of(path) != 0) {
        return sp_error_set(err, 500, "snapshot_io", NULL, "fsync the folder of %s: %s", path,
                            strerror(errno));
    }
    return 0;
}

static void *writer_main(void *arg) {
    sp_snapshot_writer *w = arg;
    sp_error_clear(&w->err);
    w->rc = sp_snapshot_write(w->path, w->bytes, w->len, &w->err);
    free(w->bytes);
    w->bytes = NULL;
    atomic_store(&w->finished, true);
    return NULL;
}

int sp_snapshot_writer_start(sp_snapshot_writer *writer, const char *path, uint8_t *bytes,
                             size_t len, sp_error *err) {
    if (writer->running) {
        return sp_error_set(err, 409, "snapshot_busy", NULL, "a snapshot is still being written");
    }
    snprintf(writer->path, sizeof writer->path, "%s", path);
    writer->bytes = bytes;
    writer->len = len;
    atomic_store(&writer->finished, false);
    int rc = pthread_create(&writer->thread, NULL, writer_main, writer);
    if (rc != 0) {
        writer->bytes = NULL;
        return sp_error_set(err, 503, "unavailable", NULL, "snapshot thread: %s", strerror(rc));
    }
    writer->running = true;
    return 0;
}

bool sp_snapshot_writer_done(sp_snapshot_writer *writer, bool wait, int *rc, sp_error *err) {
    if (!writer->running) return false;
    if (!wait && !atomic_load(&writer->finished)) return false;
    pthread_join(writer->thread, NULL);
    writer->running = false;
    *rc = writer->rc;
    *err = writer->err;
    return true;
}

void sp_snapshot_writer_collect(sp_snapshot_writer *writer, bool wait, sp_log *log,
                                const char *error_msg) {
    int rc = 0;
    sp_error why;
    sp_error_clear(&why);
    if (!sp_snapshot_writer_done(writer, wait, &rc, &why) || rc == 0) return;
    sp_log_error(log, error_msg, "path", writer->path, "code", why.code, "detail", why.message,
                 NULL);
}

int sp_snapshot_writer_save(sp_snapshot_writer *writer, const char *path, uint8_t *bytes,
                            size_t len, bool wait, sp_error *err) {
    int rc = wait ? sp_snapshot_write(path, bytes, len, err)
                  : sp_snapshot_writer_start(writer, path, bytes, len, err);
    if (wait || rc != 0) free(bytes);
    return rc;
}
