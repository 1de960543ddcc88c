/* enrol_csv.c - decoding, splitting and checking a CSV of beneficiaries
 * (see enrol_csv.h for what is accepted and why). */
#include "enrol_csv.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include <sodium.h>

#include "sp_money.h"
#include "sp_text.h"

#define EMAIL_SLOTS 16384        /* power of two above twice SP_GW_ENROL_CSV_LINES_MAX */
#define HEADER_NAME_BYTES_MAX 64 /* a column name once folded */

enum { COL_IGNORED = 0, COL_NOM, COL_PRENOM, COL_EMAIL, COL_KINDS };
static const char *const column_names[COL_KINDS] = {"", "nom", "prenom", "email"};

/* One record as split, each field unquoted into its own buffer. */
typedef struct csv_record {
    size_t count; /* fields seen, may pass COLUMNS_MAX */
    char text[SP_GW_ENROL_CSV_COLUMNS_MAX][SP_GW_ENROL_CSV_FIELD_BYTES_MAX + 1];
    size_t len[SP_GW_ENROL_CSV_COLUMNS_MAX];
    bool too_long[SP_GW_ENROL_CSV_COLUMNS_MAX];
    bool bad_quotes;
} csv_record;

/* What the whole parse needs beside the result; on the heap (the gateway's
 * threads have small stacks). */
typedef struct csv_parser {
    csv_record record;
    int columns[SP_GW_ENROL_CSV_COLUMNS_MAX]; /* kind of each header column */
    size_t column_count;
    char (*emails)[SP_GW_EMAIL_LEN_MAX + 1]; /* by line counted, "" when not valid */
    int32_t *lines;                          /* the file line of each line counted */
    int32_t slots[EMAIL_SLOTS];              /* 1 + index of an e-mail seen, 0 = empty */
} csv_parser;

/* ------------------------------------------------------------------ decoding */

/* 0x80..0x9f of Windows-1252; its five unassigned bytes stay the C1
 * controls they are in ISO-8859-1 (then refused as control characters). */
static const uint16_t cp1252_high[32] = {0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020,
                                         0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d,
                                         0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d,
                                         0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
                                         0x0153, 0x009d, 0x017e, 0x0178};

static size_t utf8_put(uint32_t cp, char *out) {
    assert(out != NULL);
    assert(cp <= 0xFFFF); /* Windows-1252 and ISO-8859-1 stay in the BMP */
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* The text as UTF-8 (malloc'd, NUL-terminated, *text_len bytes without the
 * NUL); NULL when out of memory. */
static char *decode(const uint8_t *bytes, size_t len, sp_gw_enrol_csv_encoding *encoding,
                    size_t *text_len) {
    assert(bytes != NULL || len == 0);
    assert(encoding != NULL);
    assert(text_len != NULL);
    static const uint8_t bom[3] = {0xef, 0xbb, 0xbf};
    bool has_bom = len >= 3 && memcmp(bytes, bom, 3) == 0;
    const uint8_t *s = has_bom ? bytes + 3 : bytes;
    size_t n = has_bom ? len - 3 : len;
    bool utf8 = sp_text_utf8_valid((const char *)s, n);
    *encoding = utf8 ? (has_bom ? SP_GW_ENROL_CSV_UTF8_BOM : SP_GW_ENROL_CSV_UTF8)
                     : SP_GW_ENROL_CSV_WINDOWS_1252;
    /* A BOM before text that is not UTF-8 (a file pasted together) is
     * dropped all the same: "ï»¿" is never what a header means. */
    char *text = malloc(utf8 ? n + 1 : 3 * n + 1);
    if (text == NULL) return NULL;
    size_t out = 0;
    if (utf8) {
        memcpy(text, s, n);
        out = n;
    } else {
        for (size_t i = 0; i < n; i++) {
            uint32_t cp = s[i] >= 0x80 && s[i] <= 0x9f ? cp1252_high[s[i] - 0x80] : s[i];
            out += utf8_put(cp, text + out);
        }
    }
    text[out] = '\0';
    assert(out <= (utf8 ? n : 3 * n));
    *text_len = out;
    return text;
}

/* ------------------------------------------------------------------ splitting */

/* ';' or ',': whichever the header line (up to its first line break outside
 * quotes) holds more of outside quotes; ';' when neither or a tie. */
static char detect_delimiter(const char *s, size_t n) {
    assert(s != NULL || n == 0);
    size_t semicolons = 0, commas = 0;
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') quoted = !quoted;
        else if (!quoted && (c == '\n' || c == '\r')) break;
        else if (!quoted && c == ';') semicolons++;
        else if (!quoted && c == ',') commas++;
    }
    return commas > semicolons ? ',' : ';';
}

static void field_append(csv_record *r, char c) {
    assert(r->count >= 1); /* a field was begun */
    if (r->count > SP_GW_ENROL_CSV_COLUMNS_MAX) return;
    size_t f = r->count - 1;
    if (r->len[f] >= SP_GW_ENROL_CSV_FIELD_BYTES_MAX) {
        r->too_long[f] = true;
        return;
    }
    r->text[f][r->len[f]++] = c;
    r->text[f][r->len[f]] = '\0';
}

static void field_begin(csv_record *r) {
    assert(r != NULL);
    r->count++;
    if (r->count > SP_GW_ENROL_CSV_COLUMNS_MAX) return;
    r->len[r->count - 1] = 0;
    r->text[r->count - 1][0] = '\0';
    r->too_long[r->count - 1] = false;
}

static bool is_end(char c, char delimiter) {
    return c == delimiter || c == '\r' || c == '\n';
}

/* A quoted field from the opening quote at *i; after it *i is on the
 * delimiter, the line break or the end. */
static void read_quoted(const char *s, size_t n, size_t *i, char delimiter, csv_record *r) {
    assert(*i < n);
    assert(s[*i] == '"');
    size_t k = *i + 1;
    bool closed = false;
    while (k < n && !closed) {
        if (s[k] == '"' && k + 1 < n && s[k + 1] == '"') {
            field_append(r, '"');
            k += 2;
        } else if (s[k] == '"') {
            closed = true;
            k++;
        } else {
            field_append(r, s[k++]);
        }
    }
    if (!closed) r->bad_quotes = true;
    /* Text after the closing quote breaks RFC 4180: the line is refused. */
    if (k < n && !is_end(s[k], delimiter)) r->bad_quotes = true;
    while (k < n && !is_end(s[k], delimiter)) k++;
    *i = k;
}

/* The record from *pos; *pos moves past its line break. */
static void read_record(const char *s, size_t n, size_t *pos, char delimiter, csv_record *r) {
    assert(*pos <= n);
    r->count = 0;
    r->bad_quotes = false;
    size_t i = *pos;
    for (;;) {
        field_begin(r);
        if (i < n && s[i] == '"') {
            read_quoted(s, n, &i, delimiter, r);
        } else {
            while (i < n && !is_end(s[i], delimiter)) field_append(r, s[i++]);
        }
        if (i >= n) break;
        if (s[i] == delimiter) {
            i++;
            continue;
        }
        i += s[i] == '\r' && i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
        break;
    }
    *pos = i;
    assert(r->count >= 1);
}

static bool record_blank(const csv_record *r) {
    assert(r != NULL);
    size_t seen = r->count < SP_GW_ENROL_CSV_COLUMNS_MAX ? r->count : SP_GW_ENROL_CSV_COLUMNS_MAX;
    for (size_t f = 0; f < seen; f++) {
        if (r->len[f] > 0 || r->too_long[f]) return false;
    }
    return !r->bad_quotes && r->count <= SP_GW_ENROL_CSV_COLUMNS_MAX;
}

/* Spaces and tabs off both ends, in place; the new length. */
static size_t trim(char *text, size_t len) {
    assert(text != NULL);
    size_t start = 0;
    while (start < len && (text[start] == ' ' || text[start] == '\t')) start++;
    while (len > start && (text[len - 1] == ' ' || text[len - 1] == '\t')) len--;
    memmove(text, text + start, len - start);
    text[len - start] = '\0';
    return len - start;
}

/* ------------------------------------------------------------------ the header */

/* The base letter of a Latin-1 accented letter, lower-cased; 0 for others. */
static char latin1_base(uint32_t cp) {
    static const char table[] = "aaaaaaeceeeeiiiidnooooo/ouuuuyty"; /* U+00E0..U+00FF */
    if (cp >= 0xc0 && cp <= 0xde) cp += 0x20;
    if (cp >= 0xe0 && cp <= 0xff && cp != 0xf7) return table[cp - 0xe0];
    return 0;
}

/* The name (valid UTF-8) folded: lower case, accents off, spaces, dashes,
 * dots, underscores and apostrophes dropped ("E-mail" -> "email"); any
 * other non-ASCII character becomes '?'. */
static void fold_name(const char *name, size_t len, char out[HEADER_NAME_BYTES_MAX]) {
    size_t o = 0;
    const uint8_t *s = (const uint8_t *)name;
    for (size_t i = 0; i < len && o + 1 < HEADER_NAME_BYTES_MAX;) {
        uint32_t cp = s[i];
        size_t step = 1;
        if (s[i] >= 0x80) {
            while (i + step < len && (s[i + step] & 0xc0) == 0x80) step++;
            cp = step == 2 ? (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f)
                 : step == 3 && memcmp(s + i, "\xe2\x80\x99", 3) == 0 ? '\''
                                                                      : '?';
        }
        i += step;
        if (cp == ' ' || cp == '-' || cp == '_' || cp == '.' || cp == '\'' || cp == '\t' ||
            cp == 0xa0)
            continue;
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
        char base = latin1_base(cp);
        out[o++] = base != 0 ? base : cp < 0x80 ? (char)cp : '?';
    }
    out[o] = '\0';
}

static int column_kind(const char *name, size_t len) {
    static const struct {
        const char *folded;
        int kind;
    } known[] = {
        {"nom", COL_NOM},
        {"nomdefamille", COL_NOM},
        {"nomfamille", COL_NOM},
        {"prenom", COL_PRENOM},
        {"email", COL_EMAIL},
        {"courriel", COL_EMAIL},
        {"mail", COL_EMAIL},
        {"mel", COL_EMAIL},
        {"adresseemail", COL_EMAIL},
        {"adressemail", COL_EMAIL},
        {"adressecourriel", COL_EMAIL},
        {"adresseelectronique", COL_EMAIL},
    };
    char folded[HEADER_NAME_BYTES_MAX];
    fold_name(name, len, folded);
    if (folded[0] == '\0') return COL_IGNORED;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(folded, known[i].folded) == 0) return known[i].kind;
    }
    return -1;
}

/* A column name as a problem's field: at most SP_GW_ENROL_CSV_COLUMN_MAX
 * bytes, cut on a character boundary. */
static void column_label(const char *name, char out[SP_GW_ENROL_CSV_COLUMN_MAX + 1]) {
    size_t len = strlen(name);
    if (len > SP_GW_ENROL_CSV_COLUMN_MAX) {
        len = SP_GW_ENROL_CSV_COLUMN_MAX;
        while (len > 0 && ((uint8_t)name[len] & 0xc0) == 0x80) len--;
    }
    memcpy(out, name, len);
    out[len] = '\0';
}

static int check_header(csv_parser *p, sp_error *err) {
    csv_record *r = &p->record;
    if (record_blank(r))
        return sp_error_set(err, 422, "csv_empty", "",
                            "Le fichier est vide : la première ligne doit nommer les colonnes "
                            "nom, prenom et email.");
    if (r->count > SP_GW_ENROL_CSV_COLUMNS_MAX)
        return sp_error_set(err, 422, "csv_unknown_column", "",
                            "L'en-tête a plus de %d colonnes ; seules nom, prenom et email sont "
                            "attendues.",
                            SP_GW_ENROL_CSV_COLUMNS_MAX);
    bool seen[COL_KINDS] = {false};
    char label[SP_GW_ENROL_CSV_COLUMN_MAX + 1];
    for (size_t f = 0; f < r->count; f++) {
        r->len[f] = trim(r->text[f], r->len[f]);
        int kind = column_kind(r->text[f], r->len[f]);
        column_label(r->text[f], label);
        if (kind < 0)
            return sp_error_set(err, 422, "csv_unknown_column", label,
                                "La colonne « %s » n'est pas reconnue : seules nom, prenom et "
                                "email sont attendues.",
                                label);
        if (kind != COL_IGNORED && seen[kind])
            return sp_error_set(err, 422, "csv_duplicate_column", column_names[kind],
                                "La colonne %s apparaît deux fois dans l'en-tête.",
                                column_names[kind]);
        seen[kind] = true;
        p->columns[f] = kind;
    }
    p->column_count = r->count;
    for (int kind = COL_NOM; kind < COL_KINDS; kind++) {
        if (!seen[kind])
            return sp_error_set(err, 422, "csv_missing_column", column_names[kind],
                                "La colonne %s manque dans l'en-tête (colonnes attendues : nom, "
                                "prenom, email).",
                                column_names[kind]);
    }
    return 0;
}

/* ------------------------------------------------------------------ the lines */

void sp_gw_enrol_csv_problem_add(sp_gw_enrol_csv *csv, int32_t line, const char *field,
                                 const char *code, const char *message) {
    assert(csv != NULL);
    assert(field != NULL);
    assert(code != NULL);
    assert(message != NULL);
    csv->problems_total++;
    if (csv->problem_count >= SP_GW_ENROL_CSV_PROBLEMS_MAX || csv->problems == NULL) return;
    sp_gw_enrol_problem *p = &csv->problems[csv->problem_count++];
    p->line = line;
    column_label(field, p->field);
    snprintf(p->code, sizeof p->code, "%s", code);
    snprintf(p->message, sizeof p->message, "%s", message);
}

/* A C1 control character (U+0080..U+009F): what the bytes Windows-1252
 * leaves unassigned decode to. */
static bool has_c1_control(const char *text, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if ((uint8_t)text[i] == 0xc2 && (uint8_t)text[i + 1] >= 0x80 &&
            (uint8_t)text[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

/* A name's problem code (its text is valid UTF-8 after decoding), NULL if none. */
static const char *name_problem(const char *text, size_t len) {
    if (len == 0) return "missing_value";
    if (sp_text_has_control_char(text, len) || has_c1_control(text, len)) return "invalid_value";
    return sp_text_utf8_char_count(text, len) > SP_GW_ENROL_CSV_NAME_CHARS_MAX ? "too_long" : NULL;
}

static void name_check(sp_gw_enrol_csv *csv, int32_t line, int kind, const char *text, size_t len,
                       bool too_long, bool *valid) {
    const char *code = too_long ? "too_long" : name_problem(text, len);
    if (code == NULL) return;
    const char *what = kind == COL_NOM ? "Le nom" : "Le prénom";
    char message[SP_GW_ENROL_CSV_MESSAGE_MAX + 1];
    if (strcmp(code, "missing_value") == 0) snprintf(message, sizeof message, "%s est vide.", what);
    else if (strcmp(code, "too_long") == 0)
        snprintf(message, sizeof message, "%s dépasse %d caractères.", what,
                 SP_GW_ENROL_CSV_NAME_CHARS_MAX);
    else
        snprintf(message, sizeof message,
                 "%s contient un caractère de contrôle (saut de ligne, tabulation...).", what);
    sp_gw_enrol_csv_problem_add(csv, line, column_names[kind], code, message);
    *valid = false;
}

/* The line of an e-mail seen earlier in the file, 0 if none; remembers
 * the one of line counted index. */
static int32_t email_seen(csv_parser *p, size_t index) {
    const char *email = p->emails[index];
    uint32_t h = 2166136261u;
    for (const char *c = email; *c != '\0'; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    for (uint32_t probe = 0; probe < EMAIL_SLOTS; probe++) {
        int32_t *slot = &p->slots[(h + probe) & (EMAIL_SLOTS - 1)];
        if (*slot == 0) {
            *slot = (int32_t)index + 1;
            return 0;
        }
        if (strcmp(p->emails[*slot - 1], email) == 0) return p->lines[*slot - 1];
    }
    return 0; /* unreachable: EMAIL_SLOTS is more than twice the lines */
}

static void email_check(sp_gw_enrol_csv *csv, csv_parser *p, int32_t line, char *text, size_t len,
                        bool too_long, bool *valid) {
    char message[SP_GW_ENROL_CSV_MESSAGE_MAX + 1];
    size_t index = csv->lines_total - 1;
    p->lines[index] = line;
    sp_error err;
    if (text[0] == '\0' && !too_long) {
        sp_gw_enrol_csv_problem_add(csv, line, "email", "missing_value",
                                    "L'adresse e-mail est vide.");
    } else if (too_long || strlen(text) != len ||
               sp_gw_email_normalize(text, "email", p->emails[index], &err) != 0) {
        p->emails[index][0] = '\0';
        sp_gw_enrol_csv_problem_add(csv, line, "email", "invalid_email",
                                    "L'adresse e-mail n'est pas valide (attendu : "
                                    "nom@exemple.fr, sans espace ni accent).");
    } else {
        int32_t first = email_seen(p, index);
        if (first == 0) return;
        snprintf(message, sizeof message,
                 "Cette adresse e-mail figure déjà à la ligne %d du fichier.", (int)first);
        sp_gw_enrol_csv_problem_add(csv, line, "email", "duplicate_email", message);
    }
    *valid = false;
}

static int arena_put(sp_gw_enrol_csv *csv, const char *first, const char *last, size_t *offset) {
    assert(first != NULL);
    assert(last != NULL);
    assert(offset != NULL);
    size_t need = strlen(first) + 1 + strlen(last) + 1;
    if (csv->arena_used + need > csv->arena_size) {
        size_t size = csv->arena_size * 2 + need;
        char *grown = realloc(csv->arena, size);
        if (grown == NULL) return -1;
        csv->arena = grown;
        csv->arena_size = size;
    }
    *offset = csv->arena_used;
    csv->arena_used += (size_t)sprintf(csv->arena + csv->arena_used, "%s %s", first, last) + 1;
    assert(csv->arena_used <= csv->arena_size);
    return 0;
}

/* Checks one beneficiary line; a valid one becomes a row. */
static int check_line(sp_gw_enrol_csv *csv, csv_parser *p, int32_t line, sp_error *err) {
    csv_record *r = &p->record;
    char message[SP_GW_ENROL_CSV_MESSAGE_MAX + 1];
    if (r->bad_quotes) {
        sp_gw_enrol_csv_problem_add(csv, line, "", "invalid_quotes",
                                    "Guillemets mal placés : un champ entre guillemets doit se "
                                    "terminer par un guillemet suivi du séparateur ou de la fin de "
                                    "ligne (un guillemet dans le texte s'écrit \"\").");
        return 0;
    }
    if (r->count != p->column_count) {
        snprintf(message, sizeof message,
                 "La ligne a %zu champs alors que l'en-tête a %zu colonnes.", r->count,
                 p->column_count);
        sp_gw_enrol_csv_problem_add(csv, line, "", "wrong_field_count", message);
        return 0;
    }
    bool valid = true;
    size_t nom = 0, prenom = 0, email = 0;
    for (size_t f = 0; f < r->count; f++) {
        r->len[f] = trim(r->text[f], r->len[f]);
        int kind = p->columns[f];
        if (kind == COL_NOM || kind == COL_PRENOM)
            name_check(csv, line, kind, r->text[f], r->len[f], r->too_long[f], &valid);
        if (kind == COL_NOM) nom = f;
        if (kind == COL_PRENOM) prenom = f;
        if (kind == COL_EMAIL) email = f;
        if (kind == COL_IGNORED && (r->len[f] > 0 || r->too_long[f])) {
            sp_gw_enrol_csv_problem_add(csv, line, "", "unexpected_value",
                                        "Une valeur figure dans une colonne sans nom d'en-tête.");
            valid = false;
        }
    }
    email_check(csv, p, line, r->text[email], r->len[email], r->too_long[email], &valid);
    if (!valid) return 0;
    sp_gw_enrol_row *row = &csv->rows[csv->row_count];
    row->line = line;
    snprintf(row->email, sizeof row->email, "%s", p->emails[csv->lines_total - 1]);
    size_t offset = 0;
    if (arena_put(csv, r->text[prenom], r->text[nom], &offset) != 0)
        return sp_error_set(err, 503, "unavailable", "", "mémoire insuffisante");
    row->full_name = (char *)(uintptr_t)offset; /* made a pointer once the arena is final */
    csv->row_count++;
    return 0;
}

static int read_lines(sp_gw_enrol_csv *csv, csv_parser *p, const char *text, size_t len, size_t pos,
                      sp_error *err) {
    int32_t line = 1;
    while (pos < len) {
        read_record(text, len, &pos, csv->delimiter, &p->record);
        line++;
        if (record_blank(&p->record)) continue;
        if (csv->lines_total == SP_GW_ENROL_CSV_LINES_MAX)
            return sp_error_set(err, 422, "csv_too_many_lines", "",
                                "Le fichier a plus de %d lignes de bénéficiaires : "
                                "découpez-le en plusieurs fichiers.",
                                SP_GW_ENROL_CSV_LINES_MAX);
        csv->lines_total++;
        if (check_line(csv, p, line, err) != 0) return -1;
    }
    for (size_t i = 0; i < csv->row_count; i++)
        csv->rows[i].full_name = csv->arena + (size_t)(uintptr_t)csv->rows[i].full_name;
    return 0;
}

/* ------------------------------------------------------------------ the file */

const char *sp_gw_enrol_csv_encoding_name(sp_gw_enrol_csv_encoding encoding) {
    switch (encoding) {
    case SP_GW_ENROL_CSV_UTF8: return "utf-8";
    case SP_GW_ENROL_CSV_UTF8_BOM: return "utf-8-bom";
    case SP_GW_ENROL_CSV_WINDOWS_1252: return "windows-1252";
    }
    return "utf-8";
}

void sp_gw_enrol_csv_free(sp_gw_enrol_csv *csv) {
    if (csv == NULL) return;
    free(csv->rows);
    free(csv->problems);
    free(csv->arena);
    memset(csv, 0, sizeof *csv);
}

static int allocate(sp_gw_enrol_csv *out, csv_parser **p) {
    *p = calloc(1, sizeof **p);
    if (*p != NULL) {
        (*p)->emails = calloc(SP_GW_ENROL_CSV_LINES_MAX, sizeof *(*p)->emails);
        (*p)->lines = calloc(SP_GW_ENROL_CSV_LINES_MAX, sizeof *(*p)->lines);
    }
    out->rows = calloc(SP_GW_ENROL_CSV_LINES_MAX, sizeof *out->rows);
    out->problems = calloc(SP_GW_ENROL_CSV_PROBLEMS_MAX, sizeof *out->problems);
    out->arena_size = 4096;
    out->arena = malloc(out->arena_size);
    bool ok = *p != NULL && (*p)->emails != NULL && (*p)->lines != NULL && out->rows != NULL &&
              out->problems != NULL && out->arena != NULL;
    return ok ? 0 : -1;
}

int sp_gw_enrol_csv_parse(const uint8_t *bytes, size_t len, sp_gw_enrol_csv *out, sp_error *err) {
    assert(out != NULL);
    assert(bytes != NULL || len == 0);
    memset(out, 0, sizeof *out);
    if (len > SP_GW_ENROL_CSV_BYTES_MAX)
        return sp_error_set(err, 413, "body_too_large", "", "Le fichier dépasse %d octets.",
                            SP_GW_ENROL_CSV_BYTES_MAX);
    size_t text_len = 0;
    char *text = decode(bytes, len, &out->encoding, &text_len);
    csv_parser *p = NULL;
    int rc = -1;
    if (text == NULL || allocate(out, &p) != 0) {
        sp_error_set(err, 503, "unavailable", "", "mémoire insuffisante");
        goto done;
    }
    out->delimiter = detect_delimiter(text, text_len);
    size_t pos = 0;
    read_record(text, text_len, &pos, out->delimiter, &p->record);
    if (check_header(p, err) != 0) goto done;
    rc = read_lines(out, p, text, text_len, pos, err);
    if (rc == 0 && out->row_count > 0) {
        sp_gw_enrol_row *shrunk = realloc(out->rows, out->row_count * sizeof *out->rows);
        if (shrunk != NULL) out->rows = shrunk;
    }
done:
    if (p != NULL) {
        free(p->emails);
        free(p->lines);
    }
    free(p);
    free(text);
    if (rc != 0) {
        sp_gw_enrol_csv_encoding encoding = out->encoding;
        sp_gw_enrol_csv_free(out);
        out->encoding = encoding;
    }
    return rc;
}

/* Stable: an insertion sort, over at most SP_GW_ENROL_CSV_PROBLEMS_MAX. */
void sp_gw_enrol_csv_problems_sort(sp_gw_enrol_csv *csv) {
    assert(csv != NULL);
    assert(csv->problem_count <= SP_GW_ENROL_CSV_PROBLEMS_MAX);
    for (size_t i = 1; i < csv->problem_count; i++) {
        sp_gw_enrol_problem moved = csv->problems[i];
        size_t k = i;
        for (; k > 0 && csv->problems[k - 1].line > moved.line; k--)
            csv->problems[k] = csv->problems[k - 1];
        csv->problems[k] = moved;
    }
}

/* ------------------------------------------------------------------ the upload's query */

typedef struct query_parse {
    sp_gw_enrol_query *out;
    bool seen[4]; /* dry_run, category, amount_cents, end_date */
} query_parse;

static bool value_is(const char *value, size_t len, const char *text) {
    assert(value != NULL || len == 0);
    assert(text != NULL);
    return len == strlen(text) && memcmp(value, text, len) == 0;
}

static int amount_param(const char *value, size_t len, sp_gw_enrol_query *out, sp_error *err) {
    assert(value != NULL || len == 0);
    assert(out != NULL);
    int64_t amount = 0;
    bool digits = len > 0 && len <= 15;
    for (size_t i = 0; digits && i < len; i++) {
        digits = value[i] >= '0' && value[i] <= '9';
        amount = amount * 10 + (value[i] - '0');
    }
    if (!digits)
        return sp_error_set(err, 422, "invalid_amount", "amount_cents",
                            "amount_cents must be a whole number of cents");
    out->amount_cents = amount;
    assert(amount >= 0); /* at most 15 digits: no overflow */
    return 0;
}

static int query_param(void *ctx, const char *name, size_t name_len, const char *value,
                       size_t value_len, sp_error *err) {
    assert(ctx != NULL);
    assert(name != NULL);
    static const char *const names[4] = {"dry_run", "category", "amount_cents", "end_date"};
    query_parse *parse = ctx;
    size_t which = 0;
    while (which < 4 && !value_is(name, name_len, names[which])) which++;
    if (which == 4) return sp_error_set(err, 400, "unknown_field", "", "unknown query parameter");
    if (parse->seen[which])
        return sp_error_set(err, 400, "invalid_value", names[which], "%s is given twice",
                            names[which]);
    parse->seen[which] = true;
    sp_gw_enrol_query *out = parse->out;
    char *text = which == 1 ? out->category : which == 3 ? out->end_date : NULL;
    size_t size = which == 1 ? sizeof out->category : sizeof out->end_date;
    if (which == 0) {
        if (!value_is(value, value_len, "true") && !value_is(value, value_len, "false"))
            return sp_error_set(err, 400, "invalid_value", "dry_run",
                                "dry_run must be true or false");
        out->dry_run = value_is(value, value_len, "true");
    } else if (which == 2) {
        return amount_param(value, value_len, out, err);
    } else {
        snprintf(text, size, "%.*s", (int)(value_len < size ? value_len : size - 1), value);
        if (value_len >= size) text[0] = '?'; /* too long: refused by its check */
    }
    return 0;
}

int sp_gw_enrol_query_parse(const char *query, int64_t amount_cents_max, sp_date today,
                            sp_gw_enrol_query *out, sp_error *err) {
    assert(out != NULL);
    assert(amount_cents_max > 0);
    memset(out, 0, sizeof *out);
    query_parse parse = {.out = out};
    if (sp_gw_query_foreach(query, 8, query_param, &parse, err) != 0) return -1;
    if (!parse.seen[1])
        return sp_error_set(err, 400, "missing_field", "category", "category is required");
    if (sp_gw_category_check(out->category, "category", true, err) != 0) return -1;
    if (!parse.seen[2])
        return sp_error_set(err, 400, "missing_field", "amount_cents", "amount_cents is required");
    if (sp_money_validate_amount(out->amount_cents, amount_cents_max, "amount_cents", err) != 0)
        return -1;
    if (!parse.seen[3] || out->end_date[0] == '\0') return 0;
    sp_date end_date;
    sp_error date_err;
    if (sp_date_parse(out->end_date, &end_date, &date_err) != 0)
        return sp_error_set(err, 422, "invalid_date", "end_date",
                            "end_date must be a real date YYYY-MM-DD (years 2000 to 2199)");
    if (end_date < today)
        return sp_error_set(err, 422, "invalid_date", "end_date", "end_date is in the past");
    return 0;
}

/* ------------------------------------------------------------------ command ids */

void sp_gw_enrol_command_id(const char *file_sha256_hex, const sp_gw_enrol_query *allocation,
                            const char *email, const char *step,
                            char out[SP_GW_ENROL_COMMAND_ID_LEN + 1]) {
    assert(file_sha256_hex != NULL);
    assert(allocation != NULL);
    assert(email != NULL);
    assert(step != NULL);
    /* Newline-separated: no field holds a newline, so no two inputs meet. */
    char amount[24];
    snprintf(amount, sizeof amount, "%" PRId64, allocation->amount_cents);
    const char *parts[6] = {file_sha256_hex, allocation->category,
                            amount,          allocation->end_date,
                            email,           step};
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < 6; i++) {
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]));
        crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    snprintf(out, SP_GW_ENROL_COMMAND_ID_LEN + 1, "imp-%.56s", hex);
}
