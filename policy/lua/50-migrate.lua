
-- === layout 1 -> layout 2 (mqgatectl migrate) ================================
--
-- Layout 1 (library mqgate_v1) kept each certificate as a hash with its PEM
-- and full field names, indexed by sets (P:certs, P:idx:*, P:clientid:*,
-- P:assoc:*). mqgatectl migrate walks P:certs page by page and calls this
-- once per certificate; then it removes layout 1's indexes and marks the
-- layout (P:meta schema 2).

-- migrate_cert P fp ACTOR [client last_seen ...]: rewrites certificate fp's
-- layout-1 record in layout 2, with its status, source, dates and
-- associated clients; "migrated", "conflict <fp>" (migrated, but its
-- identity is another certificate's: it keeps none until an operator
-- decides) or "done" (already layout 2).
local function migrate_cert(args)
  if #args < 3 or #args % 2 ~= 1 then
    fail('INPUT', 'expected P fp actor [client last_seen]...')
  end
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local who = actor(args[3])
  local key = kcert(P, fp)
  local v = redis.call('HMGET', key, 'serial', 'cn', 'ou', 'ca', 'not_before', 'not_after',
    'client_id', 'source', 'status', 'registered_at', 'status_changed_at')
  if not v[9] then
    return 'done'
  end
  local c = cert_check({
    fp = fp, serial = v[1] or '', cn = v[2] or '', ou = v[3] or '', ca = v[4] or '',
    nb = v[5] or '0', na = v[6] or '0', cid = v[7] or '',
  })
  c.src = v[8] == 'auto' and 'auto' or 'manual'
  c.status = STATUSES[v[9]] and v[9] or 'inactive'
  local reg, chg = unix(v[10] or '0', 'registered_at'), unix(v[11] or '0', 'status_changed_at')
  local owner = ident_owner(P, identity_of(c))
  redis.call('DEL', key)
  local fields = { 'serial', c.serial, 'cn', c.cn, 'ou', c.ou, 'ca', ca_num(P, c.ca),
    'nb', c.nb, 'na', c.na, 'cid', c.cid, 'src', c.src, 'status', c.status,
    'reg', reg, 'chg', chg }
  for i = 4, #args, 2 do
    fields[#fields + 1] = '@' .. trim_id(args[i])
    fields[#fields + 1] = unix(args[i + 1], 'last_seen')
  end
  redis.call('HSET', key, unpack(fields))
  index_add(P, c)
  redis.call('HINCRBY', kstats(P), 'certs', 1)
  count(P, c.ca, c.status, 1)
  local out = 'migrated'
  if owner and owner ~= fp then
    out = 'conflict ' .. owner
  elseif c.status ~= 'revoked' then
    ident_claim(P, identity_of(c), fp)
  end
  mark_schema(P)
  audit(P, who, 'cert.migrate', 'cert:' .. fp, '', c.status, out)
  return out
end

-- layout P: 1 when P holds a layout-1 registry not yet migrated (its
-- P:certs index, no layout mark), else 2.
local function layout(args)
  nargs(args, 1, 'P')
  local P = prefix(args)
  if redis.call('EXISTS', P .. ':meta') == 0 and redis.call('EXISTS', P .. ':certs') == 1 then
    return 1
  end
  return 2
end

register('mqgate_migrate_cert', migrate_cert)
register('mqgate_layout', layout, true)
