/* openapi.c - the OpenAPI 3.1 description (see openapi.h): one operation per
 * entry of the endpoint table, its error answers grouped by status from the
 * entry's codes and the rules every endpoint shares (sessions, bodies,
 * Idempotency-Key), and the components embedded at build time. */
#include "openapi.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "endpoints.h"

extern const char sp_gw_api_components_json[];
extern const size_t sp_gw_api_components_json_len;

#define SCHEMA_REF_PREFIX "#/components/schemas/"
#define PARAMETER_REF_PREFIX "#/components/parameters/"
#define REF_TEXT_MAX 96
#define PARAM_NAME_MAX 32
#define DESCRIPTION_TEXT_MAX 1024

typedef struct status_codes {
    int status;
    json_t *codes; /* array of strings, each once */
} status_codes;

typedef struct error_set {
    status_codes items[SP_GW_OPENAPI_STATUSES_MAX];
    size_t count;
} error_set;

static const char problem_media[] = "application/problem+json";

static json_t *ref_to(const char *prefix, const char *name) {
    char ref[REF_TEXT_MAX];
    int n = snprintf(ref, sizeof ref, "%s%s", prefix, name);
    assert(n > 0 && (size_t)n < sizeof ref);
    return json_pack("{s:s}", "$ref", ref);
}

/* ------------------------------------------------------------------ errors */

static int error_add(error_set *set, int status, const char *code, sp_error *err) {
    size_t i = 0;
    while (i < set->count && set->items[i].status != status) i++;
    if (i == set->count) {
        if (set->count == SP_GW_OPENAPI_STATUSES_MAX)
            return sp_error_set(err, 500, "internal", "", "too many statuses");
        set->items[i].status = status;
        set->items[i].codes = json_array();
        set->count++;
    }
    json_t *codes = set->items[i].codes;
    for (size_t k = 0; k < json_array_size(codes); k++) {
        if (strcmp(json_string_value(json_array_get(codes, k)), code) == 0) return 0;
    }
    if (json_array_append_new(codes, json_string(code)) != 0)
        return sp_error_set(err, 500, "internal", "", "out of memory");
    return 0;
}

/* "<status>:<code>[,<code>...]" groups separated by spaces. */
static int error_parse(error_set *set, const char *text, const char *route, sp_error *err) {
    const char *p = text;
    for (size_t groups = 0; *p != '\0' && groups < SP_GW_OPENAPI_STATUSES_MAX * 4; groups++) {
        char *end = NULL;
        long status = strtol(p, &end, 10);
        if (end == p || *end != ':' || status < 400 || status > 599)
            return sp_error_set(err, 500, "internal", "", "errors of %s: bad group at \"%.20s\"",
                                route, p);
        p = end + 1;
        while (*p != '\0' && *p != ' ') {
            size_t len = strcspn(p, ", ");
            char code[SP_GW_OPENAPI_CODE_LEN_MAX];
            if (len == 0 || len >= sizeof code)
                return sp_error_set(err, 500, "internal", "", "errors of %s: bad code", route);
            memcpy(code, p, len);
            code[len] = '\0';
            if (error_add(set, (int)status, code, err) != 0) return -1;
            p += len;
            if (*p == ',') p++;
        }
        while (*p == ' ') p++;
    }
    return *p == '\0' ? 0 : sp_error_set(err, 500, "internal", "", "errors of %s: too long", route);
}

/* The errors every endpoint of its kind may answer, after its own. */
static int error_common(error_set *set, const sp_gw_endpoint *e, sp_error *err) {
    bool reads_body = strcmp(e->method, "POST") == 0 || strcmp(e->method, "PUT") == 0 ||
                      strcmp(e->method, "PATCH") == 0;
    const char *name = e->name;
    int rc = 0;
    if (e->id_not_found_code != NULL) rc |= error_add(set, 404, e->id_not_found_code, err);
    /* A query parameter the table does not list (http.c, every endpoint). */
    rc |= error_add(set, 400, "unknown_field", err);
    /* A body checked against its fields (validate.c); one that must be
     * empty or {} is refused only as malformed or with a member. */
    if (e->body_media == SP_GW_MEDIA_JSON && e->body_required)
        rc |= error_parse(set,
                          "400:malformed_json,too_deep,unknown_field,missing_field,"
                          "invalid_type,invalid_value",
                          name, err);
    else if (e->body_media == SP_GW_MEDIA_JSON)
        rc |= error_parse(set, "400:malformed_json,too_deep,unknown_field", name, err);
    if (reads_body && e->body_media != SP_GW_MEDIA_IMAGE)
        rc |= error_add(set, 413, "body_too_large", err);
    if (e->key != SP_GW_KEY_NONE)
        rc |= error_parse(set, "400:invalid_value 409:idempotency_conflict", name, err);
    if (e->key == SP_GW_KEY_REQUIRED) rc |= error_add(set, 428, "idempotency_key_required", err);
    if (e->session) rc |= error_add(set, 401, "unauthenticated", err);
    if (e->session && e->roles != SP_GW_ROLES_ANY) rc |= error_add(set, 403, "forbidden", err);
    /* A cookie session's state-changing request needs the right Origin. */
    if (e->session && strcmp(e->method, "GET") != 0) rc |= error_add(set, 403, "bad_origin", err);
    rc |= error_parse(set, "500:internal 503:unavailable", name, err);
    return rc != 0 ? -1 : 0;
}

static json_t *error_response(const status_codes *item) {
    char text[DESCRIPTION_TEXT_MAX];
    size_t len = (size_t)snprintf(text, sizeof text, "%s", "code ");
    for (size_t k = 0; k < json_array_size(item->codes) && len < sizeof text; k++) {
        len += (size_t)snprintf(text + len, sizeof text - len, "%s`%s`", k > 0 ? ", " : "",
                                json_string_value(json_array_get(item->codes, k)));
    }
    json_t *response = json_pack("{s:s, s:{s:{s:o}}}", "description", text, "content",
                                 problem_media, "schema", ref_to(SCHEMA_REF_PREFIX, "Problem"));
    if (response != NULL && item->status == 429) {
        json_object_set_new(response, "headers",
                            json_pack("{s:{s:s, s:{s:s}}}", "Retry-After", "description",
                                      "seconds to wait", "schema", "type", "integer"));
    }
    return response;
}

static int by_status(const void *a, const void *b) {
    return ((const status_codes *)a)->status - ((const status_codes *)b)->status;
}

/* The error answers into responses, by status. */
static int put_errors(json_t *responses, const sp_gw_endpoint *e, sp_error *err) {
    error_set set;
    memset(&set, 0, sizeof set);
    int rc = e->errors != NULL ? error_parse(&set, e->errors, e->name, err) : 0;
    if (rc == 0) rc = error_common(&set, e, err);
    if (rc == 0) qsort(set.items, set.count, sizeof set.items[0], by_status);
    for (size_t i = 0; i < set.count; i++) {
        char status[8];
        snprintf(status, sizeof status, "%d", set.items[i].status);
        if (rc == 0 && json_object_set_new(responses, status, error_response(&set.items[i])) != 0)
            rc = sp_error_set(err, 500, "internal", "", "out of memory");
        json_decref(set.items[i].codes);
    }
    return rc;
}

/* ------------------------------------------------------------------ operations */

/* The schema of a body or an answer of this media: a component for JSON. */
static json_t *media_content(sp_gw_media media, const char *schema) {
    json_t *content = json_object();
    if (media == SP_GW_MEDIA_IMAGE) {
        json_object_set_new(content, "image/png",
                            json_pack("{s:{s:s}}", "schema", "type", "string"));
        json_object_set_new(content, "image/jpeg",
                            json_pack("{s:{s:s}}", "schema", "type", "string"));
    } else if (media == SP_GW_MEDIA_JSON) {
        json_t *s = schema != NULL ? ref_to(SCHEMA_REF_PREFIX, schema)
                                   : json_pack("{s:s}", "type", "object");
        json_object_set_new(content, sp_gw_media_type(media), json_pack("{s:o}", "schema", s));
    } else if (media != SP_GW_MEDIA_NONE) {
        json_object_set_new(content, sp_gw_media_type(media),
                            json_pack("{s:{s:s}}", "schema", "type", "string"));
    }
    return content;
}

static json_t *success_responses(const sp_gw_endpoint *e) {
    json_t *responses = json_object();
    for (size_t i = 0; i < SP_GW_ANSWERS_MAX && e->answers[i].status != 0; i++) {
        const sp_gw_answer_spec *a = &e->answers[i];
        char status[8];
        snprintf(status, sizeof status, "%d", a->status);
        json_t *response = json_pack("{s:s}", "description", a->description);
        if (a->media != SP_GW_MEDIA_NONE)
            json_object_set_new(response, "content", media_content(a->media, a->schema));
        if (e->key != SP_GW_KEY_NONE) {
            json_object_set_new(response, "headers",
                                json_pack("{s:{s:s, s:{s:s, s:[s]}}}", "Idempotent-Replayed",
                                          "description", "the first answer of this key, again",
                                          "schema", "type", "string", "enum", "true"));
        }
        json_object_set_new(responses, status, response);
    }
    return responses;
}

/* Path parameters ("{name}" of the pattern), then the query and header
 * parameters the entry names, then Idempotency-Key. */
static json_t *parameters(const sp_gw_endpoint *e) {
    json_t *list = json_array();
    const char *open = strchr(e->path, '{');
    if (open != NULL) {
        char name[PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(open + 1, "}"), open + 1);
        bool media = e->route == SP_GW_ROUTE_MEDIA_GET;
        bool code = e->route == SP_GW_ROUTE_DIRECTORY_PARTNER;
        json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}", "name", name, "in",
                                              "path", "required", true, "schema", "type", "string",
                                              media || code ? "pattern" : "format",
                                              media  ? "^[0-9a-f]{64}$"
                                              : code ? "^[0-9]{8}$"
                                                     : "uuid"));
    }
    for (const char *p = e->query != NULL ? e->query : ""; *p != '\0';) {
        size_t len = strcspn(p, " ");
        char name[PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        json_array_append_new(list, ref_to(PARAMETER_REF_PREFIX, name));
        p += len;
        while (*p == ' ') p++;
    }
    if (e->key != SP_GW_KEY_NONE) {
        const char *key = e->key == SP_GW_KEY_REQUIRED ? "Idempotency-Key"
                                                       : "Idempotency-Key-optional";
        json_array_append_new(list, ref_to(PARAMETER_REF_PREFIX, key));
    }
    return list;
}

static json_t *roles_of(unsigned roles) {
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{SP_GW_ROLE_BACKOFFICE, "backoffice"},
                 {SP_GW_ROLE_PARTNER_ADMIN, "partner_admin"},
                 {SP_GW_ROLE_PARTNER_USER, "partner_user"},
                 {SP_GW_ROLE_BENEFICIARY, "beneficiary"},
                 {SP_GW_ROLE_FINANCE, "finance"}};
    json_t *list = json_array();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((roles & names[i].bit) != 0) json_array_append_new(list, json_string(names[i].name));
    }
    return list;
}

static json_t *operation(const sp_gw_endpoint *e, sp_error *err) {
    json_t *op = json_pack("{s:s, s:s}", "operationId", e->name, "summary", e->summary);
    if (op == NULL) return NULL;
    json_object_set_new(op, "security",
                        e->session ? json_pack("[{s:[]}, {s:[]}]", "bearer", "cookie")
                                   : json_array());
    if (e->session) json_object_set_new(op, "x-roles", roles_of(e->roles));
    json_t *params = parameters(e);
    if (json_array_size(params) > 0) json_object_set_new(op, "parameters", params);
    else json_decref(params);
    if (e->body_media != SP_GW_MEDIA_NONE) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:o}", "required", e->body_required, "content",
                                      media_content(e->body_media, e->body_schema)));
    }
    json_t *responses = success_responses(e);
    if (put_errors(responses, e, err) != 0) {
        json_decref(responses);
        json_decref(op);
        return NULL;
    }
    json_object_set_new(op, "responses", responses);
    return op;
}

static void lower(char *text) {
    for (; *text != '\0'; text++) {
        if (*text >= 'A' && *text <= 'Z') *text = (char)(*text - 'A' + 'a');
    }
}

static json_t *paths(sp_error *err) {
    json_t *all = json_object();
    for (int r = SP_GW_ROUTE_NONE + 1; all != NULL && r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of((sp_gw_route)r);
        json_t *item = json_object_get(all, e->path);
        if (item == NULL) {
            item = json_object();
            json_object_set_new(all, e->path, item);
        }
        char method[8];
        snprintf(method, sizeof method, "%s", e->method);
        lower(method);
        json_t *op = operation(e, err);
        if (op == NULL || json_object_set_new(item, method, op) != 0) {
            json_decref(all);
            return NULL;
        }
    }
    return all;
}

/* ------------------------------------------------------------------ the document */

static const char api_description[] =
    "The solipass gateway's HTTP API (see docs/api.md for the rules in prose). Amounts are "
    "integer euro cents, dates YYYY-MM-DD (Europe/Paris), instants ISO 8601 UTC with "
    "milliseconds, ids lower-case UUIDs. A session is a bearer token (Authorization: Bearer) "
    "or, for the web apps, the sp_session cookie; with the cookie, a request other than GET "
    "or HEAD needs Origin equal to the public URL (403 bad_origin). Errors are "
    "application/problem+json (RFC 9457): type is always about:blank and title the status "
    "phrase; the member code tells the problem to programs, field the member, parameter or "
    "header at fault. x-roles lists the roles an operation serves.";

json_t *sp_gw_openapi_build(sp_error *err) {
    json_error_t jerr;
    json_t *components = json_loadb(sp_gw_api_components_json, sp_gw_api_components_json_len,
                                    JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(components)) {
        json_decref(components);
        sp_error_set(err, 500, "internal", "", "components.json: %s (line %d)", jerr.text,
                     jerr.line);
        return NULL;
    }
    json_t *all = paths(err);
    if (all == NULL) {
        json_decref(components);
        return NULL;
    }
    json_t *doc = json_pack("{s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:o, s:o}", "openapi", "3.1.0",
                            "info", "title", "solipass HTTP API", "version", "1", "description",
                            api_description, "license", "name", "AGPL-3.0-or-later", "identifier",
                            "AGPL-3.0-or-later", "paths", all, "components", components);
    if (doc == NULL) sp_error_set(err, 500, "internal", "", "out of memory");
    return doc;
}

/* The query parameter names of one entry, from components' parameters. */
static int query_names_of(const sp_gw_endpoint *e, const json_t *parameters, char *out,
                          size_t out_size, sp_error *err) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = e->query != NULL ? e->query : ""; *p != '\0';) {
        size_t len = strcspn(p, " ");
        char key[PARAM_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)len, p);
        const json_t *parameter = json_object_get(parameters, key);
        const char *in = json_string_value(json_object_get(parameter, "in"));
        const char *name = json_string_value(json_object_get(parameter, "name"));
        if (in == NULL || name == NULL)
            return sp_error_set(err, 500, "internal", "",
                                "%s lists parameter %s, which "
                                "components.json does not describe",
                                e->name, key);
        if (strcmp(in, "query") == 0) {
            int n = snprintf(out + used, out_size - used, "%s%s", used > 0 ? " " : "", name);
            if (n < 0 || (size_t)n >= out_size - used)
                return sp_error_set(err, 500, "internal", "", "query names of %s: too long",
                                    e->name);
            used += (size_t)n;
        }
        p += len;
        while (*p == ' ') p++;
    }
    return 0;
}

int sp_gw_openapi_query_names(char names[][SP_GW_QUERY_NAMES_LEN_MAX + 1], size_t count,
                              sp_error *err) {
    assert(names != NULL && count == SP_GW_ROUTE_COUNT);
    json_error_t jerr;
    json_t *components = json_loadb(sp_gw_api_components_json, sp_gw_api_components_json_len,
                                    JSON_REJECT_DUPLICATES, &jerr);
    const json_t *parameters = json_object_get(components, "parameters");
    int rc = json_is_object(parameters)
                 ? 0
                 : sp_error_set(err, 500, "internal", "", "components.json has no parameters");
    names[SP_GW_ROUTE_NONE][0] = '\0';
    for (int r = SP_GW_ROUTE_NONE + 1; rc == 0 && r < SP_GW_ROUTE_COUNT; r++)
        rc = query_names_of(sp_gw_endpoint_of((sp_gw_route)r), parameters, names[r],
                            SP_GW_QUERY_NAMES_LEN_MAX + 1, err);
    json_decref(components);
    return rc;
}

char *sp_gw_openapi_text(sp_error *err) {
    json_t *doc = sp_gw_openapi_build(err);
    if (doc == NULL) return NULL;
    char *body = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    size_t len = body != NULL ? strlen(body) : 0;
    char *text = body != NULL ? realloc(body, len + 2) : NULL;
    if (text == NULL) {
        free(body);
        sp_error_set(err, 500, "internal", "", "out of memory");
        return NULL;
    }
    text[len] = '\n';
    text[len + 1] = '\0';
    return text;
}
