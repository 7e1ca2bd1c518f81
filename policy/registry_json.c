/* registry_json.c: see registry_json.h. */
#include "registry_json.h"

#include <stdlib.h>
#include <string.h>

/* utf8_len returns the length of the valid UTF-8 sequence at |p| (|n|
 * bytes left), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  size_t len;
  unsigned min;
  unsigned cp;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xe0) == 0xc0)
    len = 2, min = 0x80, cp = p[0] & 0x1f;
  else if ((p[0] & 0xf0) == 0xe0)
    len = 3, min = 0x800, cp = p[0] & 0x0f;
  else if ((p[0] & 0xf8) == 0xf0)
    len = 4, min = 0x10000, cp = p[0] & 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

json_t *mqg_json_text(const char *s) {
  if (s == NULL)
    s = "";
  json_t *j = json_string(s);
  if (j != NULL)
    return j;
  /* Not UTF-8: replace each bad byte with U+FFFD. */
  size_t n = strlen(s);
  char *fixed = malloc(3 * n + 1);
  if (fixed == NULL)
    return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t l = utf8_len((const unsigned char *)s + i, n - i);
    if (l == 0) {
      memcpy(fixed + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    } else {
      memcpy(fixed + o, s + i, l);
      o += l;
      i += l;
    }
  }
  fixed[o] = '\0';
  j = json_string(fixed);
  free(fixed);
  return j;
}

int mqg_json_set_text(json_t *obj, const char *key, const char *s) {
  return json_object_set_new(obj, key, mqg_json_text(s));
}

#define TEXT(o, k, v) mqg_json_set_text(o, k, v)
#define INT(o, k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))

json_t *mqg_json_cert(const mqg_cert_record *c) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "fp", c->fp);
  TEXT(o, "serial", c->serial);
  TEXT(o, "cn", c->cn);
  TEXT(o, "ou", c->ou);
  TEXT(o, "ca", c->ca);
  INT(o, "not_before", c->not_before);
  INT(o, "not_after", c->not_after);
  TEXT(o, "client_id", c->client_id);
  TEXT(o, "source", c->source);
  TEXT(o, "status", c->status);
  INT(o, "registered_at", c->registered_at);
  INT(o, "status_changed_at", c->status_changed_at);
  if (c->renews && c->renews[0])
    TEXT(o, "renews", c->renews);
  return o;
}

json_t *mqg_json_clients(const mqg_cert_details *d) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < d->nclients; i++) {
    json_t *o = json_object();
    TEXT(o, "client_id", d->clients[i].client_id);
    INT(o, "last_seen", d->clients[i].last_seen);
    json_array_append_new(a, o);
  }
  return a;
}

json_t *mqg_json_ca(const mqg_ca_record *c, int with_pem) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "id", c->id);
  TEXT(o, "subject", c->subject);
  TEXT(o, "cn", c->cn);
  TEXT(o, "serial", c->serial);
  INT(o, "not_before", c->not_before);
  INT(o, "not_after", c->not_after);
  TEXT(o, "status", c->status);
  INT(o, "registered_at", c->registered_at);
  INT(o, "certs", c->certs);
  INT(o, "active_certs", c->active_certs);
  if (with_pem)
    TEXT(o, "pem", c->pem);
  return o;
}

json_t *mqg_json_reg_result(const mqg_certinfo *ci, const char *status, const char *cls,
                            const char *msg) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  json_object_set_new(o, "ok", json_boolean(cls == NULL));
  if (ci != NULL) {
    TEXT(o, "fp", ci->fingerprint);
    TEXT(o, "cn", ci->cn);
  }
  if (cls == NULL) {
    TEXT(o, "status", status);
  } else {
    TEXT(o, "error", cls);
    TEXT(o, "message", msg);
  }
  return o;
}

json_t *mqg_json_ca_registered(const mqg_certinfo *ci, const char *subject, int active) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "id", ci->fingerprint);
  TEXT(o, "cn", ci->cn);
  TEXT(o, "subject", subject);
  TEXT(o, "status", active ? "active" : "inactive");
  return o;
}

json_t *mqg_json_settings(const mqg_settings *s) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "registration", s->registration);
  TEXT(o, "tls_min", s->tls_min);
  TEXT(o, "tls_max", s->tls_max);
  TEXT(o, "client_id_mode", s->client_id_mode);
  return o;
}

json_t *mqg_json_audit(const mqg_audit_entry *e) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "id", e->id);
  INT(o, "time_ms", e->time_ms);
  TEXT(o, "actor", e->actor);
  TEXT(o, "action", e->action);
  TEXT(o, "object", e->object);
  TEXT(o, "before", e->before);
  TEXT(o, "after", e->after);
  TEXT(o, "detail", e->detail);
  return o;
}

json_t *mqg_json_token(const mqg_token_record *t) {
  json_t *o = json_object();
  if (o == NULL)
    return NULL;
  TEXT(o, "name", t->name);
  TEXT(o, "role", t->role);
  INT(o, "created_at", t->created_at);
  TEXT(o, "created_by", t->created_by);
  return o;
}
