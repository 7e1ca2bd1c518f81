/* admin_certs.c: mqgate-admin's jobs on client certificates (adm.h):
 * listing with filters and a cursor, registration of one or many PEMs,
 * details with associated clients, state changes, delete. The rules are
 * the registry's (registry.h), checked the way mqgatectl checks them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adm.h"
#include "ctl.h"
#include "registry_json.h"

#define LIST_LIMIT_MAX 100
#define REGISTER_MAX 100 /* certificates in one POST */

/* --- listing ------------------------------------------------------------------- */

void adm_op_cert_list(adm_job *j, mqg_registry *r) {
  /* the first six are mqg_cert_filter_set's names */
  static const char *const params[] = {"serial", "cn", "ou", "status", "expiring_within_days",
                                       "expired", "ca", "cursor", "limit"};
  char v[9][300];
  for (int i = 0; i < 9; i++) {
    v[i][0] = '\0';
    if (mqg_http_query_get(j->query, params[i], v[i], sizeof(v[i])) < 0) {
      adm_fail(j, "input", "%s: malformed or too long", params[i]);
      return;
    }
  }
  mqg_cert_filter f;
  mqg_cert_filter_init(&f);
  int64_t now = (int64_t)time(NULL);
  char ca[65], err[128];
  for (int i = 0; i < 6; i++) {
    if (v[i][0] && mqg_cert_filter_set(&f, params[i], v[i], now, err, sizeof(err)) < 0) {
      adm_fail(j, "input", "%s %s", params[i], err);
      return;
    }
  }
  if (v[6][0]) {
    if (adm_resolve(j, r, MQG_REG_KIND_CA, v[6], ca) < 0)
      return;
    f.ca = ca;
  }
  /* The registry's own cursor (opaque, checked there: INPUT when it is not
   * one it gave). */
  f.cursor = v[7][0] ? v[7] : NULL;
  if (adm_query_size(j, "limit", 50, LIST_LIMIT_MAX, &f.limit) < 0)
    return;
  mqg_cert_page page;
  if (mqg_registry_cert_list(r, &f, &page) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < page.n; i++)
    json_array_append_new(a, mqg_json_cert(&page.certs[i]));
  /* total: -1 where the registry would have to count more than a page */
  adm_ok(j, 200, json_pack("{s:o,s:I,s:s}", "certificates", a, "total",
                           (json_int_t)page.total, "next_cursor", page.cursor));
  mqg_cert_page_cleanup(&page);
}

/* --- registration ------------------------------------------------------------------ */

/* next_pem finds the next PEM certificate block in |*p| and returns a new
 * copy of it (NULL at the end); |*p| moves past it. */
static char *next_pem(const char **p) {
  static const char begin[] = "-----BEGIN CERTIFICATE-----";
  static const char end[] = "-----END CERTIFICATE-----";
  const char *b = strstr(*p, begin);
  if (b == NULL)
    return NULL;
  const char *e = strstr(b, end);
  if (e == NULL) {
    *p = b + strlen(b);
    return strdup(b); /* truncated: its parse reports it */
  }
  e += sizeof(end) - 1;
  *p = e;
  return strndup(b, (size_t)(e - b));
}

/* register_one registers one PEM; returns its result object and sets
 * |*cls| to its error class (NULL when registered). */
static json_t *register_one(mqg_registry *r, const char *pem, const ctl_cert *ca,
                            const char *ca_id, const mqg_cert_reg_opts *opts,
                            const char **cls) {
  ctl_cert c;
  char err[512];
  if (ctl_cert_from_pem(pem, &c, err, sizeof(err)) < 0) {
    *cls = "input";
    return mqg_json_reg_result(NULL, NULL, *cls, err);
  }
  *cls = NULL;
  if (ctl_cert_check(r, &c, ca, ca_id, "/api/v1/cas") != MQG_REG_OK ||
      mqg_registry_cert_register(r, &c.info, ca_id, opts) != MQG_REG_OK)
    *cls = mqg_registry_error_class(r);
  json_t *o = mqg_json_reg_result(&c.info, opts->activate ? "active" : "registered_inactive",
                                  *cls, mqg_registry_error(r));
  ctl_cert_cleanup(&c);
  return o;
}

void adm_op_cert_register(adm_job *j, mqg_registry *r) {
  json_t *body = adm_body_json(j);
  if (body == NULL)
    return;
  const char *pem = json_string_value(json_object_get(body, "pem"));
  const char *ca_arg = json_string_value(json_object_get(body, "ca"));
  json_t *cid = json_object_get(body, "client_id");
  json_t *act = json_object_get(body, "active");
  json_t *ren = json_object_get(body, "renews");
  const char *client_id = cid ? json_string_value(cid) : "";
  const char *renews = ren ? json_string_value(ren) : "";
  char renews_fp[65] = "";
  ctl_cert ca = {0};
  json_t *results = NULL;
  if (pem == NULL || ca_arg == NULL) {
    adm_fail(j, "input", "\"pem\" (one or more PEM certificates) and \"ca\" (the issuing "
                         "CA's id) are required");
    goto out;
  }
  if (!ctl_client_id_ok(client_id)) {
    adm_fail(j, "input", "\"client_id\" must be text of at most %d bytes",
             MQG_CERTINFO_NAME_MAX);
    goto out;
  }
  if (act != NULL && !json_is_boolean(act)) {
    adm_fail(j, "input", "\"active\" must be true or false");
    goto out;
  }
  if (renews == NULL) {
    adm_fail(j, "input", "\"renews\" must be the fingerprint of the certificate renewed");
    goto out;
  }
  int active = act == NULL || json_is_true(act);
  /* the PEMs, counted before anything is registered */
  size_t n = 0;
  for (const char *p = pem; n <= REGISTER_MAX;) {
    char *one = next_pem(&p);
    if (one == NULL)
      break;
    free(one);
    n++;
  }
  if (n == 0 || n > REGISTER_MAX) {
    adm_fail(j, "input", n ? "at most %d certificates per request" :
                             "no PEM certificate (-----BEGIN CERTIFICATE-----) in \"pem\"",
             REGISTER_MAX);
    goto out;
  }
  if ((client_id[0] || renews[0]) && n > 1) {
    adm_fail(j, "input", "\"client_id\" and \"renews\" register one certificate: send one "
                         "PEM");
    goto out;
  }
  if (renews[0]) {
    if (adm_resolve(j, r, MQG_REG_KIND_CERT, renews, renews_fp) < 0)
      goto out;
  }
  mqg_cert_reg_opts opts = {.client_id = client_id, .activate = active, .renews = renews_fp};
  char ca_id[65];
  if (adm_resolve(j, r, MQG_REG_KIND_CA, ca_arg, ca_id) < 0)
    goto out;
  if (ctl_ca_load(r, ca_id, &ca) != MQG_REG_OK) {
    adm_reg_fail(j, r);
    goto out;
  }
  results = json_array();
  size_t ok = 0;
  const char *first_cls = NULL;
  for (const char *p = pem;;) {
    char *one = next_pem(&p);
    if (one == NULL)
      break;
    const char *cls;
    json_array_append_new(results, register_one(r, one, &ca, ca_id, &opts, &cls));
    free(one);
    if (cls == NULL)
      ok++;
    else if (first_cls == NULL)
      first_cls = cls;
    if (cls != NULL && strcmp(cls, "redis") == 0)
      break; /* the connection is gone */
  }
  /* All registered: 201. Otherwise the status of the first failure's class
   * (429 for the rate limit, 409 for a rule...), with every result. */
  json_t *o = json_pack("{s:O,s:I,s:I}", "results", results, "registered", (json_int_t)ok,
                        "failed", (json_int_t)(json_array_size(results) - ok));
  if (first_cls != NULL) {
    mqg_json_set_text(o, "error", first_cls);
    mqg_json_set_text(o, "message", ok ? "some certificates were not registered; see results"
                                       : "no certificate was registered; see results");
  }
  adm_ok(j, first_cls ? adm_error_status(first_cls) : 201, o);
out:
  json_decref(results);
  ctl_cert_cleanup(&ca);
  json_decref(body);
}

/* --- one certificate -------------------------------------------------------------- */

void adm_op_cert_get(adm_job *j, mqg_registry *r) {
  char fp[65];
  mqg_cert_details d;
  mqg_cert_tombstone tomb;
  if (adm_resolve(j, r, MQG_REG_KIND_CERT, j->arg, fp) < 0)
    return;
  if (mqg_registry_cert_get(r, fp, &d, &tomb) != MQG_REG_OK) {
    adm_reg_fail(j, r); /* a deleted one: 404, the message says revoked or deleted */
    return;
  }
  adm_ok(j, 200, json_pack("{s:o,s:o}", "certificate", mqg_json_cert(&d.cert), "clients",
                           mqg_json_clients(&d)));
  mqg_cert_details_cleanup(&d);
}

static void cert_change(adm_job *j, mqg_registry *r, const char *action) {
  char fp[65], status[32] = "deleted";
  if (adm_resolve(j, r, MQG_REG_KIND_CERT, j->arg, fp) < 0)
    return;
  mqg_reg_status s = strcmp(action, "delete") == 0 ? mqg_registry_cert_delete(r, fp)
                                                   : mqg_registry_cert_set(r, fp, action, status);
  if (s != MQG_REG_OK) {
    adm_reg_fail(j, r);
    return;
  }
  adm_ok(j, 200, json_pack("{s:s,s:s}", "fp", fp, "status", status));
}

void adm_op_cert_activate(adm_job *j, mqg_registry *r) { cert_change(j, r, "activate"); }
void adm_op_cert_deactivate(adm_job *j, mqg_registry *r) { cert_change(j, r, "deactivate"); }
void adm_op_cert_revoke(adm_job *j, mqg_registry *r) { cert_change(j, r, "revoke"); }
void adm_op_cert_delete(adm_job *j, mqg_registry *r) { cert_change(j, r, "delete"); }
