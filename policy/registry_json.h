/* registry_json.h: registry records as JSON (jansson), the one mapping
 * shared by mqgatectl --json and mqgate-admin's API, so that both show the
 * same fields under the same names. When the registry's record types
 * change, this file is what follows them.
 *
 * Every function returns a new reference, or NULL when out of memory.
 * Strings that are not valid UTF-8 (a device-chosen CN may be anything)
 * are kept with each bad byte replaced by U+FFFD. */
#ifndef MQG_REGISTRY_JSON_H
#define MQG_REGISTRY_JSON_H

#include <jansson.h>

#include "registry.h"
#include "registry_admin.h"

/* mqg_json_text returns |s| (NULL: "") as a JSON string. */
json_t *mqg_json_text(const char *s);

/* mqg_json_cert: fp serial cn ou ca not_before not_after client_id source
 * status registered_at status_changed_at, and renews when it renews
 * another certificate (the registry keeps no client certificate PEM). */
json_t *mqg_json_cert(const mqg_cert_record *c);

/* mqg_json_clients: [{client_id, last_seen}], newest first. */
json_t *mqg_json_clients(const mqg_cert_details *d);

/* mqg_json_ca: id subject cn serial not_before not_after status
 * registered_at certs active_certs, and pem if |with_pem|. */
json_t *mqg_json_ca(const mqg_ca_record *c, int with_pem);

/* mqg_json_reg_result: the result of one client certificate's
 * registration, {ok, fp, cn, status} when |cls| is NULL, else {ok, fp, cn,
 * error: cls, message: msg}; fp and cn only when |ci| is not NULL (a PEM
 * that did not parse has none). */
json_t *mqg_json_reg_result(const mqg_certinfo *ci, const char *status, const char *cls,
                            const char *msg);

/* mqg_json_ca_registered: a CA just registered, {id, cn, subject, status}
 * (active or inactive). */
json_t *mqg_json_ca_registered(const mqg_certinfo *ci, const char *subject, int active);

/* mqg_json_settings: registration tls_min tls_max client_id_mode. */
json_t *mqg_json_settings(const mqg_settings *s);

/* mqg_json_audit: id time_ms actor action object before after detail. */
json_t *mqg_json_audit(const mqg_audit_entry *e);

/* mqg_json_token: name role created_at created_by (never the token). */
json_t *mqg_json_token(const mqg_token_record *t);

/* mqg_json_set_text sets |key| of |obj| to the string |s|; 0 or -1. */
int mqg_json_set_text(json_t *obj, const char *key, const char *s);

#endif
