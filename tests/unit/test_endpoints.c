/* test_endpoints.c - the endpoint table and the API description made from
 * it: every route has a complete entry (its handler, its answers and their
 * schemas), routing finds each route from its own path, every route is an
 * operation of the description, every reference of the description
 * resolves, and docs/openapi.json is what the gateway serves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/http/auth.h"
#include "gateway/endpoints/endpoints.h"
#include "gateway/endpoints/openapi.h"
#include "gateway/endpoints/validate.h"

#define SAMPLE_ID "0b6f3c1e-8d2a-4f4b-9a51-3c7d2e1f0a99"
#define SAMPLE_SHA256 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SAMPLE_PARTNER_CODE "83861484"
#define PATH_TEXT_MAX 160
#define COMMITTED_BYTES_MAX (4 * 1024 * 1024)

static json_t *description(void) {
    sp_error err;
    sp_error_clear(&err);
    json_t *doc = sp_gw_openapi_build(&err);
    if (doc == NULL) fail_msg("the description is not built: %s", err.message);
    return doc;
}

/* The path of a route with its {segment} filled with a valid value. */
static void sample_path(const sp_gw_endpoint *e, char out[PATH_TEXT_MAX]) {
    const char *open = strchr(e->path, '{');
    if (open == NULL) {
        snprintf(out, PATH_TEXT_MAX, "%s", e->path);
        return;
    }
    const char *close = strchr(open, '}');
    assert_non_null(close);
    snprintf(out, PATH_TEXT_MAX, "%.*s%s%s", (int)(open - e->path), e->path,
             e->route == SP_GW_ROUTE_MEDIA_GET           ? SAMPLE_SHA256
             : e->route == SP_GW_ROUTE_DIRECTORY_PARTNER ? SAMPLE_PARTNER_CODE
                                                         : SAMPLE_ID,
             close + 1);
}

static void test_every_route_has_a_complete_entry(void **state) {
    (void)state;
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of((sp_gw_route)r);
        assert_int_equal(e->route, r);
        assert_non_null(e->handler);
        assert_non_null(e->method);
        assert_non_null(e->path);
        assert_non_null(e->name);
        assert_non_null(e->summary);
        assert_true(e->answers[0].status >= 200 && e->answers[0].status < 300);
        for (size_t i = 0; i < SP_GW_ANSWERS_MAX && e->answers[i].status != 0; i++) {
            bool json = e->answers[i].media == SP_GW_MEDIA_JSON;
            /* Only the description itself is JSON without a schema. */
            if (json && r != SP_GW_ROUTE_OPENAPI) assert_non_null(e->answers[i].schema);
            assert_non_null(e->answers[i].description);
        }
        if (e->body_media == SP_GW_MEDIA_JSON) assert_non_null(e->body_schema);
        if (strchr(e->path, '{') != NULL) assert_non_null(e->id_not_found_code);
        if (e->session) assert_true(e->roles != 0);
        for (int other = SP_GW_ROUTE_NONE + 1; other < r; other++) {
            const sp_gw_endpoint *o = sp_gw_endpoint_of((sp_gw_route)other);
            assert_string_not_equal(o->name, e->name);
            assert_false(strcmp(o->path, e->path) == 0 && strcmp(o->method, e->method) == 0);
        }
    }
    assert_string_equal(sp_gw_route_name(SP_GW_ROUTE_PARTNER_OPERATIONS), "partner_operations");
    assert_string_equal(sp_gw_route_name(SP_GW_ROUTE_NONE), "unknown");
}

static void test_routing_finds_each_route(void **state) {
    (void)state;
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of((sp_gw_route)r);
        char path[PATH_TEXT_MAX];
        sample_path(e, path);
        sp_gw_route_match m;
        sp_error err;
        sp_error_clear(&err);
        assert_int_equal(sp_gw_route_find(e->method, path, &m, &err), 0);
        assert_int_equal(m.route, r);
        bool keyed = r == SP_GW_ROUTE_MEDIA_GET || r == SP_GW_ROUTE_DIRECTORY_PARTNER;
        if (strchr(e->path, '{') != NULL && !keyed) assert_string_equal(m.path_id, SAMPLE_ID);
        if (r == SP_GW_ROUTE_MEDIA_GET) assert_string_equal(m.path_key, SAMPLE_SHA256);
        if (r == SP_GW_ROUTE_DIRECTORY_PARTNER)
            assert_string_equal(m.path_key, SAMPLE_PARTNER_CODE);
    }
}

static void test_malformed_ids_answer_their_own_404(void **state) {
    (void)state;
    sp_gw_route_match m;
    sp_error err;
    static const struct {
        const char *method, *path, *code, *field;
    } cases[] = {
        {"GET", "/api/v1/partner/refund-requests/42", "refund_request_not_found", "request_id"},
        {"PATCH", "/api/v1/partner/users/x", "user_not_found", "user_id"},
        {"PUT", "/api/v1/partner/operations/x/reference", "operation_not_found", "operation_id"},
        {"DELETE", "/api/v1/partner/exports/x", "export_not_found", "export_id"},
        {"POST", "/api/v1/partner/conventions/x/accept", "convention_not_found", "convention_id"},
        {"GET", "/api/v1/vouchers/x/qr.png", "voucher_not_found", "voucher_id"},
        {"GET", "/api/v1/media/ABC", "not_found", "sha256"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_error_clear(&err);
        assert_int_equal(sp_gw_route_find(cases[i].method, cases[i].path, &m, &err), -1);
        assert_int_equal(err.http_status, 404);
        assert_string_equal(err.code, cases[i].code);
        assert_string_equal(err.field, cases[i].field);
    }
}

static void test_every_route_is_an_operation(void **state) {
    (void)state;
    json_t *doc = description();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_t *paths = json_object_get(doc, "paths");
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of((sp_gw_route)r);
        char method[8];
        snprintf(method, sizeof method, "%s", e->method);
        for (char *c = method; *c != '\0'; c++) *c = (char)(*c - 'A' + 'a');
        json_t *op = json_object_get(json_object_get(paths, e->path), method);
        if (op == NULL) fail_msg("%s %s is not in the description", e->method, e->path);
        assert_string_equal(json_string_value(json_object_get(op, "operationId")), e->name);
        json_t *responses = json_object_get(op, "responses");
        char status[8];
        snprintf(status, sizeof status, "%d", e->answers[0].status);
        assert_non_null(json_object_get(responses, status));
        assert_non_null(json_object_get(responses, "500"));
        if (e->session) assert_non_null(json_object_get(responses, "401"));
    }
    json_decref(doc);
}

/* Every "$ref" of value names something that doc has. */
static void check_refs(json_t *doc, json_t *value) {
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++)
            check_refs(doc, json_array_get(value, i));
        return;
    }
    if (!json_is_object(value)) return;
    const char *key;
    json_t *member;
    json_object_foreach(value, key, member) {
        if (strcmp(key, "$ref") != 0) {
            check_refs(doc, member);
            continue;
        }
        const char *ref = json_string_value(member);
        assert_non_null(ref);
        assert_true(strncmp(ref, "#/", 2) == 0);
        char copy[128];
        snprintf(copy, sizeof copy, "%s", ref + 2);
        json_t *at = doc;
        for (char *save = NULL, *part = strtok_r(copy, "/", &save); part != NULL && at != NULL;
             part = strtok_r(NULL, "/", &save))
            at = json_object_get(at, part);
        if (at == NULL) fail_msg("%s does not resolve", ref);
    }
}

static void test_every_reference_resolves(void **state) {
    (void)state;
    json_t *doc = description();
    check_refs(doc, doc);
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    assert_non_null(json_object_get(schemes, "bearer"));
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(schemes, "cookie"), "name")),
                        "sp_session");
    json_decref(doc);
}

/* Does the OpenAPI type (a name, or a list of names with "null") say kind? */
static bool openapi_type_is(json_t *property, const char *kind) {
    json_t *type = json_object_get(property, "type");
    if (json_is_string(type)) return strcmp(json_string_value(type), kind) == 0;
    size_t i;
    json_t *one;
    json_array_foreach(type, i, one) {
        if (strcmp(json_string_value(one), kind) == 0) return true;
    }
    return false;
}

static bool openapi_required(json_t *component, const char *name) {
    size_t i;
    json_t *one;
    json_array_foreach(json_object_get(component, "required"), i, one) {
        if (strcmp(json_string_value(one), name) == 0) return true;
    }
    return false;
}

/* One request body's two descriptions: the fields the gateway checks
 * (validate.c) and the component the API description publishes. */
static void expect_same_fields(json_t *component, const sp_gw_schema *schema, const char *what) {
    static const char *const kinds[] = {"string", "integer", "array"};
    json_t *properties = json_object_get(component, "properties");
    if (!json_is_object(properties)) fail_msg("%s: no properties in the description", what);
    if (json_object_size(properties) != schema->field_count)
        fail_msg("%s: %zu properties described, %zu checked", what, json_object_size(properties),
                 schema->field_count);
    for (size_t i = 0; i < schema->field_count; i++) {
        const sp_gw_field *field = &schema->fields[i];
        json_t *property = json_object_get(properties, field->name);
        if (property == NULL) fail_msg("%s.%s is checked but not described", what, field->name);
        if (!openapi_type_is(property, kinds[field->type]))
            fail_msg("%s.%s is checked as %s, described otherwise", what, field->name,
                     kinds[field->type]);
        if (openapi_required(component, field->name) != field->required)
            fail_msg("%s.%s: required %s when checked, not when described", what, field->name,
                     field->required ? "only" : "not");
        json_t *items_max = json_object_get(property, "maxItems");
        if (field->type == SP_GW_FIELD_ARRAY && json_is_integer(items_max))
            assert_int_equal(json_integer_value(items_max), field->length_max);
    }
}

/* Every request body the gateway checks field by field is described with the
 * same fields, types and required ones, so a field added on one side only
 * fails here rather than at a client. */
static void test_checked_bodies_match_their_description(void **state) {
    (void)state;
    static const struct {
        const char *component;
        const sp_gw_schema *schema;
    } bodies[] = {
        {"LoginRequest", &sp_gw_schema_login},
        {"PaymentRequest", &sp_gw_schema_payment},
        {"PartnerCreateRequest", &sp_gw_schema_partner},
        {"BeneficiaryCreateRequest", &sp_gw_schema_beneficiary},
        {"EnvelopeRequest", &sp_gw_schema_envelope},
        {"CreditRequest", &sp_gw_schema_credit},
        {"VoucherIssueRequest", &sp_gw_schema_voucher_issue},
        {"RedeemRequest", &sp_gw_schema_voucher_redeem},
        {"PasswordSet", &sp_gw_schema_set_password},
        {"PasswordResetRequest", &sp_gw_schema_reset_request},
        {"ReferenceRequest", &sp_gw_schema_operation_reference},
    };
    json_t *doc = description();
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *component = json_object_get(schemas, bodies[i].component);
        if (component == NULL) fail_msg("%s is not described", bodies[i].component);
        expect_same_fields(component, bodies[i].schema, bodies[i].component);
    }
    json_decref(doc);
}

/* docs/openapi.json (SP_OPENAPI_JSON) is byte for byte what is served: run
 * `ninja -C build openapi` after changing the table or the components. */
static void test_committed_description_is_current(void **state) {
    (void)state;
    const char *path = getenv("SP_OPENAPI_JSON");
    if (path == NULL) fail_msg("SP_OPENAPI_JSON is not set (tests/unit/meson.build sets it)");
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot read %s", path);
    char *committed = malloc(COMMITTED_BYTES_MAX + 1);
    assert_non_null(committed);
    size_t len = fread(committed, 1, COMMITTED_BYTES_MAX, f);
    fclose(f);
    committed[len] = '\0';
    sp_error err;
    sp_error_clear(&err);
    char *served = sp_gw_openapi_text(&err);
    assert_non_null(served);
    if (strcmp(served, committed) != 0)
        fail_msg("%s is not what the gateway serves: run `ninja -C build openapi`", path);
    free(served);
    free(committed);
}

/* The query parameters each entry lists, resolved to their names: a
 * component key ("refund_status") gives its parameter's name ("status"), a
 * header parameter (Last-Event-ID) is no query parameter. */
static void test_query_names_come_from_the_table(void **state) {
    (void)state;
    static char names[SP_GW_ROUTE_COUNT][SP_GW_QUERY_NAMES_LEN_MAX + 1];
    sp_error err;
    assert_int_equal(sp_gw_openapi_query_names(names, SP_GW_ROUTE_COUNT, &err), 0);
    assert_string_equal(names[SP_GW_ROUTE_STRUCTURE_GET], "");
    assert_string_equal(names[SP_GW_ROUTE_PASS_OPERATIONS], "limit cursor");
    assert_string_equal(names[SP_GW_ROUTE_PARTNER_REFUNDS_LIST], "status limit cursor");
    assert_string_equal(names[SP_GW_ROUTE_FINANCE_REFUNDS_LIST], "status partner_id limit cursor");
    assert_string_equal(names[SP_GW_ROUTE_PARTNER_OPERATIONS_STREAM], "");
    assert_string_equal(names[SP_GW_ROUTE_VOUCHER_PRINT], "format");
}

static void test_unlisted_query_parameters_are_unknown_fields(void **state) {
    (void)state;
    sp_error err;
    assert_int_equal(sp_gw_endpoint_query_check("", NULL, &err), 0);
    assert_int_equal(sp_gw_endpoint_query_check("", "", &err), 0);
    assert_int_equal(sp_gw_endpoint_query_check("", "partner_id=x", &err), -1);
    assert_int_equal(err.http_status, 400);
    assert_string_equal(err.code, "unknown_field");
    assert_string_equal(err.field, "partner_id");
    assert_int_equal(sp_gw_endpoint_query_check("status limit cursor", "limit=5&status=paid", &err),
                     0);
    assert_int_equal(sp_gw_endpoint_query_check("status limit cursor", "limit=5&stat=paid", &err),
                     -1);
    assert_string_equal(err.field, "stat");
    /* A name is matched whole: neither a prefix nor a longer name passes. */
    assert_int_equal(sp_gw_endpoint_query_check("limit cursor", "limits=5", &err), -1);
    assert_int_equal(sp_gw_endpoint_query_check("limit cursor", "lim=5", &err), -1);
    assert_int_equal(sp_gw_endpoint_query_check("format", "flag", &err), -1);
    assert_string_equal(err.field, "flag");
    char many[256] = "";
    for (int i = 0; i < SP_GW_ENDPOINT_QUERY_PARAMS_MAX + 1; i++)
        strcat(many, i == 0 ? "limit=1" : "&limit=1");
    assert_int_equal(sp_gw_endpoint_query_check("limit", many, &err), -1);
    assert_string_equal(err.code, "invalid_value");
}

/* Finance staff pays refunds: every /api/v1/finance/ endpoint is theirs,
 * and outside it they may only read (the dashboard) or use what every
 * session may (logout): nothing that enrols, credits, closes or onboards. */
static void test_finance_pays_and_changes_nothing_else(void **state) {
    (void)state;
    static const char finance_prefix[] = "/api/v1/finance/";
    size_t finance_routes = 0;
    for (int r = SP_GW_ROUTE_NONE + 1; r < SP_GW_ROUTE_COUNT; r++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of((sp_gw_route)r);
        bool finance_path = strncmp(e->path, finance_prefix, sizeof finance_prefix - 1) == 0;
        bool admits = e->session && (e->roles & SP_GW_ROLE_FINANCE) != 0;
        if (finance_path) {
            finance_routes++;
            assert_true(admits);
        } else if (admits && strcmp(e->method, "GET") != 0) {
            assert_int_equal(e->roles, SP_GW_ROLES_ANY);
        }
    }
    assert_true(finance_routes >= 4);
}

/* enrolling from a CSV file is the back-office's alone (finance
 * staff, partners and beneficiaries are refused), and a malformed import id
 * is the import's own 404. */
static void test_csv_enrolment_is_back_office_only(void **state) {
    (void)state;
    const sp_gw_route routes[] = {SP_GW_ROUTE_BENEFICIARIES_IMPORTS,
                                  SP_GW_ROUTE_BENEFICIARIES_IMPORT_GET};
    static const struct {
        const char *role;
        unsigned bit;
    } refused[] = {{"finance", SP_GW_ROLE_FINANCE},
                   {"partner_admin", SP_GW_ROLE_PARTNER_ADMIN},
                   {"partner_user", SP_GW_ROLE_PARTNER_USER},
                   {"beneficiary", SP_GW_ROLE_BENEFICIARY}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const sp_gw_endpoint *e = sp_gw_endpoint_of(routes[i]);
        assert_true(e->session);
        assert_int_equal(e->roles, SP_GW_ROLE_BACKOFFICE);
        sp_gw_user user;
        memset(&user, 0, sizeof user);
        sp_error err;
        for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
            snprintf(user.role, sizeof user.role, "%s", refused[k].role);
            user.role_bit = refused[k].bit;
            assert_int_equal(sp_gw_auth_require(&user, e->roles, &err), -1);
            assert_int_equal(err.http_status, 403);
        }
        snprintf(user.role, sizeof user.role, "backoffice");
        user.role_bit = SP_GW_ROLE_BACKOFFICE;
        assert_int_equal(sp_gw_auth_require(&user, e->roles, &err), 0);
    }
    sp_gw_route_match m;
    sp_error err;
    assert_int_equal(sp_gw_route_find("GET", "/api/v1/beneficiaries/imports/42", &m, &err), -1);
    assert_int_equal(err.http_status, 404);
    assert_string_equal(err.code, "import_not_found");
    assert_string_equal(err.field, "import_id");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_has_a_complete_entry),
        cmocka_unit_test(test_routing_finds_each_route),
        cmocka_unit_test(test_malformed_ids_answer_their_own_404),
        cmocka_unit_test(test_every_route_is_an_operation),
        cmocka_unit_test(test_every_reference_resolves),
        cmocka_unit_test(test_committed_description_is_current),
        cmocka_unit_test(test_query_names_come_from_the_table),
        cmocka_unit_test(test_unlisted_query_parameters_are_unknown_fields),
        cmocka_unit_test(test_finance_pays_and_changes_nothing_else),
        cmocka_unit_test(test_csv_enrolment_is_back_office_only),
        cmocka_unit_test(test_checked_bodies_match_their_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
