
-- === the proxy's calls =======================================================
--
-- A handshake's check is read-only (mqgate_lookup, FCALL_RO): nothing is
-- written for a peer that has not proved it holds the certificate's key.
-- When automatic registration would admit an unknown certificate, the
-- lookup answers "auto", and the proxy calls mqgate_auto_register once the
-- handshake has completed, which checks everything again and writes.

-- verdict_of answers for a certificate of fingerprint |fp| whose chain
-- reached the registered CA |ca|, as {verdict, status, client_id}. With
-- |cn| (the effective identity an automatic registration would claim),
-- an unknown certificate's eligibility for automatic registration is
-- checked too ("auto"); nothing is written.
local function verdict_of(P, fp, ca, cn)
  local cs = ca ~= '' and ca_status(P, ca)
  if not cs then
    return { 'unknown_ca', '', '' }
  end
  if cs ~= 'active' then
    return { 'ca_inactive', '', '' }
  end
  local c = cert_get(P, fp)
  if c then
    -- The chain may have reached another registered CA (a root above the
    -- intermediate the certificate was registered under): the CA it was
    -- registered under must be active too, as status() holds live
    -- sessions to.
    if c.ca ~= ca and ca_status(P, c.ca) ~= 'active' then
      return { 'ca_inactive', c.status, c.cid }
    end
    if c.status == 'active' then
      return { 'ok', 'active', c.cid }
    end
    return { 'cert', c.status, c.cid }
  end
  local tomb = tomb_get(P, fp)
  if tomb then
    return { tomb.kind, tomb.kind, '' } -- "revoked" or "deleted"
  end
  if setting(P, 'registration') ~= 'auto' then
    return { 'unregistered', '', '' }
  end
  if ident_owner(P, cn) then
    return { 'identity_conflict', '', '' }
  end
  if not rate_key(P, now()) then
    return { 'rate_limited', '', '' }
  end
  return { 'auto', '', '' }
end

local function lookup(args)
  nargs(args, 4, 'P fp ca_id cn')
  local P = prefix(args)
  return verdict_of(P, hex64(args[2], 'fp'), args[3], text(args[4], 'cn', NAME_MAX, true))
end

-- auto_register registers the certificate a completed handshake proved,
-- if every rule still allows it (the same verdicts as lookup; "ok" with
-- status "registered" when this call registered it). Counts against the
-- cluster's rate limit.
local function auto_register(args)
  nargs(args, 9, 'P fp ca_id serial cn ou not_before not_after actor')
  local P = prefix(args)
  local c = cert_check({
    fp = args[2], ca = args[3], serial = args[4], cn = args[5], ou = args[6],
    nb = args[7], na = args[8], cid = '',
  })
  local who = actor(args[9])
  local v = verdict_of(P, c.fp, c.ca, c.cn)
  if v[1] ~= 'auto' then
    return v
  end
  local t = now()
  rate_take(rate_key(P, t)) -- verdict_of saw room in this second
  c.status, c.src = 'active', 'auto'
  cert_write(P, c, t)
  redis.call('HINCRBY', kstats(P), 'auto_registered', 1)
  audit(P, who, 'cert.register', 'cert:' .. c.fp, '', 'active', 'auto')
  return { 'ok', 'registered', '' }
end

-- status answers what a live session of certificate |fp| now is: "active",
-- a certificate status, "ca_inactive", "deleted" or "revoked" (deleted
-- after revocation).
local function status(args)
  nargs(args, 2, 'P fp')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local c = cert_get(P, fp)
  if not c then
    local tomb = tomb_get(P, fp)
    return tomb and tomb.kind or 'deleted'
  end
  if c.status ~= 'active' then
    return c.status
  end
  if ca_status(P, c.ca) ~= 'active' then
    return 'ca_inactive'
  end
  return 'active'
end

-- trim_id keeps at most ASSOC_ID_MAX bytes of a device-chosen client ID,
-- cut at a UTF-8 character boundary and marked with "...".
local function trim_id(id)
  if #id <= ASSOC_ID_MAX then
    return id
  end
  local n = ASSOC_ID_MAX - 3
  while n > 0 and id:byte(n + 1) >= 0x80 and id:byte(n + 1) < 0xC0 do
    n = n - 1
  end
  return id:sub(1, n) .. '...'
end

-- touch records that |client_id| connected with certificate |fp| at |now|:
-- a field "@<client id>" of the record, the newest ASSOC_MAX kept.
local function touch(args)
  nargs(args, 4, 'P fp client_id now')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local id = '@' .. trim_id(text(args[3], 'client_id', 65535, false))
  local t = unix(args[4], 'now')
  local key = kcert(P, fp)
  if redis.call('EXISTS', key) == 0 then
    return 0 -- deleted meanwhile
  end
  redis.call('HSET', key, id, t)
  local all = redis.call('HGETALL', key)
  local seen = {}
  for i = 1, #all, 2 do
    if all[i]:sub(1, 1) == '@' then
      seen[#seen + 1] = { all[i], tonumber(all[i + 1]) or 0 }
    end
  end
  if #seen > ASSOC_MAX then
    table.sort(seen, function(a, b) return a[2] > b[2] end)
    for i = ASSOC_MAX + 1, #seen do
      redis.call('HDEL', key, seen[i][1])
    end
  end
  return 1
end

-- cas returns every registered CA as id, status, pem, ... (a few).
local function cas(args)
  nargs(args, 1, 'P')
  local P = prefix(args)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. ':cas')) do
    local v = redis.call('HMGET', kca(P, id), 'status', 'pem')
    if v[2] then
      out[#out + 1] = id
      out[#out + 1] = v[1] or ''
      out[#out + 1] = v[2]
    end
  end
  return out
end

register('mqgate_lookup', lookup, true)
register('mqgate_auto_register', auto_register)
register('mqgate_status', status, true)
register('mqgate_touch', touch)
register('mqgate_cas', cas, true)
