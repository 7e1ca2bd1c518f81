/* ctl_migrate.c: mqgatectl migrate: a layout-1 registry (mqgate_v1: a hash
 * with the PEM per certificate, set indexes, P:clientid:*, P:assoc:*)
 * rewritten in layout 2 (schema.h), in place, under the same prefix.
 *
 * An offline, one-time operation, so it may walk everything: P:certs by
 * rank, a page at a time; each certificate is one call of
 * mqgate_migrate_cert (policy/lua/50-migrate.lua), atomic, so an
 * interrupted run is simply run again. Layout 1's indexes go last, found
 * with SCAN. Proxies of the new version should be stopped meanwhile (they
 * refuse what they cannot find); old proxies cannot read layout 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "registry_internal.h"
#include "schema.h"

#define PAGE 500

const char ctl_migrate_help[] =
    "usage: mqgatectl migrate\n"
    "\n"
    "  Rewrites a layout-1 registry (mqgate before the library mqgate_v2)\n"
    "  in layout 2 under the same prefix: every certificate with its status,\n"
    "  source, dates, registered client ID and associated clients; the CAs;\n"
    "  then removes layout 1's indexes. Run it once, with the proxies\n"
    "  stopped; an interrupted run can be run again. Certificates whose\n"
    "  identity (client ID, else CN) another one already holds are migrated\n"
    "  without it and listed: decide with 'cert register --renews' or\n"
    "  revoke one.\n";

/* del_matching removes every key of |pattern| (SCAN, a batch at a time). */
static int del_matching(ctl_ctx *ctx, const char *pattern, long long *n) {
  mqg_registry *r = ctx->reg;
  char cursor[32] = "0";
  do {
    redisReply *rep = registry__command(r, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
    if (rep == NULL)
      return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
      freeReplyObject(rep);
      return ctl_fail(ctx, CTL_EXIT_REDIS, "redis", "unexpected SCAN reply");
    }
    snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
    redisReply *keys = rep->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
      redisReply *d = registry__command(r, "UNLINK %b", keys->element[i]->str,
                                        keys->element[i]->len);
      if (d == NULL) {
        freeReplyObject(rep);
        return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
      }
      freeReplyObject(d);
      (*n)++;
    }
    freeReplyObject(rep);
  } while (strcmp(cursor, "0") != 0);
  return CTL_EXIT_OK;
}

/* migrate_one calls mqgate_migrate_cert for |fp| with its associated
 * clients (a reply of ZREVRANGE ... WITHSCORES). */
static int migrate_one(ctl_ctx *ctx, const char *fp, const redisReply *assoc,
                       char out[96]) {
  const char *args[3 + 2 * MQG_ASSOC_MAX];
  char secs[MQG_ASSOC_MAX][24];
  int argc = 0;
  args[argc++] = fp;
  args[argc++] = ctx->reg->actor;
  for (size_t i = 0; assoc && assoc->type == REDIS_REPLY_ARRAY && i + 1 < assoc->elements &&
                     argc + 2 <= (int)(sizeof(args) / sizeof(args[0]));
       i += 2) {
    args[argc++] = assoc->element[i]->str;
    /* scores come as "1800000000" or "1.8e9": whole seconds */
    snprintf(secs[i / 2], sizeof(secs[0]), "%lld",
             (long long)strtod(assoc->element[i + 1]->str, NULL));
    args[argc++] = secs[i / 2];
  }
  redisReply *rep;
  mqg_reg_status s = registry__fcall(ctx->reg, "mqgate_migrate_cert", 0, argc, args, &rep);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  snprintf(out, 96, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "?");
  freeReplyObject(rep);
  return CTL_EXIT_OK;
}

int ctl_migrate_main(ctl_ctx *ctx, int argc, char **argv) {
  char *pos[1];
  int npos;
  int rc = ctl_parse(ctx, argc - 1, argv + 1, NULL, 0, pos, 0, &npos, ctl_migrate_help);
  if (rc != 0 || (rc = ctl_connect(ctx)) != 0)
    return rc;
  mqg_registry *r = ctx->reg;
  const char *P = r->prefix;
  redisReply *rep = registry__command(r, "EXISTS %s:certs", P);
  if (rep == NULL)
    return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
  int v1 = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  freeReplyObject(rep);
  if (!v1)
    return ctl_done(ctx, "prefix", P, "status", "nothing to migrate",
                    "nothing to migrate: no layout-1 registry under this prefix");
  mqg_reg_status s = mqg_registry_load_library(r);
  if (s != MQG_REG_OK)
    return ctl_reg_fail(ctx, s);
  /* A first run counts the CAs' active certificates from zero. */
  if ((rep = registry__command(r, "EXISTS %s:meta", P)) == NULL)
    return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
  int resumed = rep->integer == 1;
  freeReplyObject(rep);
  if (!resumed) {
    if ((rep = registry__command(r, "SMEMBERS %s:cas", P)) == NULL)
      return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
    for (size_t i = 0; i < rep->elements; i++) {
      redisReply *h = registry__command(r, "HSET %s:ca:%s active_certs 0", P,
                                        rep->element[i]->str);
      if (h == NULL) {
        freeReplyObject(rep);
        return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
      }
      freeReplyObject(h);
    }
    freeReplyObject(rep);
  }
  long long migrated = 0, conflicts = 0, seen = 0;
  for (long long start = 0;; start += PAGE) {
    redisReply *page = registry__command(r, "ZRANGE %s:certs %lld %lld", P, start,
                                         start + PAGE - 1);
    if (page == NULL)
      return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
    size_t n = page->type == REDIS_REPLY_ARRAY ? page->elements : 0;
    for (size_t i = 0; i < n; i++)
      if (registry__append(r, "ZREVRANGE %s:assoc:%s 0 %d WITHSCORES", P,
                           page->element[i]->str, MQG_ASSOC_MAX - 1) < 0) {
        freeReplyObject(page);
        return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
      }
    redisReply **assoc = calloc(n + 1, sizeof(*assoc));
    /* A certificate whose clients cannot be read is not migrated without
     * them: the run stops here, before layout 1's indexes are removed. */
    for (size_t i = 0; i < n && assoc && rc == 0; i++)
      if ((assoc[i] = registry__reply(r)) == NULL)
        rc = ctl_fail(ctx, CTL_EXIT_REDIS, "redis",
                      "%s:assoc:%s (its associated clients): %s; migration stopped, "
                      "layout 1 left in place",
                      P, page->element[i]->str, mqg_registry_error(r));
    for (size_t i = 0; i < n && rc == 0 && assoc; i++) {
      char out[96];
      rc = migrate_one(ctx, page->element[i]->str, assoc[i], out);
      seen++;
      if (rc == 0 && strncmp(out, "conflict ", 9) == 0) {
        conflicts++;
        fprintf(stderr, "mqgatectl: %s: its identity belongs to %.16s: migrated without it\n",
                page->element[i]->str, out + 9);
      }
      migrated += rc == 0 && strcmp(out, "done") != 0;
    }
    for (size_t i = 0; i < n && assoc; i++)
      if (assoc[i])
        freeReplyObject(assoc[i]);
    int oom = assoc == NULL;
    free(assoc);
    freeReplyObject(page);
    if (oom)
      return ctl_fail(ctx, CTL_EXIT_REDIS, "redis", "out of memory");
    if (rc != 0)
      return rc;
    if (n < PAGE)
      break;
  }
  /* Layout 1's indexes, now that every record is rewritten. */
  long long removed = 0;
  static const char *const v1_keys[] = {"idx:*", "clientid:*", "assoc:*"};
  for (size_t i = 0; i < sizeof(v1_keys) / sizeof(v1_keys[0]) && rc == 0; i++) {
    char pattern[300];
    snprintf(pattern, sizeof(pattern), "%s:%s", P, v1_keys[i]);
    rc = del_matching(ctx, pattern, &removed);
  }
  if (rc != 0)
    return rc;
  if ((rep = registry__command(r, "UNLINK %s:certs", P)) == NULL ||
      (freeReplyObject(rep), rep = registry__command(r, "HSET %s:meta schema 2", P)) == NULL)
    return ctl_reg_fail(ctx, MQG_REG_UNAVAILABLE);
  freeReplyObject(rep);
  char line[256];
  snprintf(line, sizeof(line), "migrated %lld certificate%s of %lld (%lld kept no identity: "
           "see above); %lld layout-1 keys removed", migrated, migrated == 1 ? "" : "s", seen,
           conflicts, removed + 1);
  char mig[24];
  snprintf(mig, sizeof(mig), "%lld", migrated);
  return ctl_done(ctx, "status", "migrated", "certificates", mig, line);
}
