#!lua name=mqgate_v1
--[[
mqgate.lua: the registry's Redis Functions library (MQG_LUA_LIBRARY in
policy/schema.h, which fixes the keys, fields, statuses, events and calls).

Every function is called as FCALL <name> 0 <prefix P> args... and runs
atomically. Each one first validates everything it needs, then writes:
a refusal never leaves a partial record. Each change publishes one event on
P:events. Errors are error replies whose first word is the class:
RULE (refused by the rules), RATE (registration limit), INPUT (bad
argument), NOTFOUND.

Client certificate states (DESIGN.md 2):

  register, activate=1 / automatic (lookup)   -> active
  register, activate=0                        -> registered_inactive
  activate    inactive | registered_inactive  -> active
  deactivate  active                          -> inactive
  revoke      active | inactive | registered_inactive -> revoked (final)
  delete      inactive | registered_inactive | revoked  (never active)

Registration, manual or automatic, counts against one limit per cluster:
RATE_PER_SECOND in P:rate:<second of the server's clock> (all but the
test set-up variant, mqgate_cert_register_unlimited_test_setup).
]]

local RATE_PER_SECOND = 15 -- MQG_RATE_PER_SECOND
local ASSOC_MAX = 100 -- MQG_ASSOC_MAX
local NAME_MAX = 256 -- MQG_CERTINFO_NAME_MAX: CN, OU, client ID bytes
local SERIAL_MAX = 64 -- MQG_CERTINFO_SERIAL_MAX

local TLS_VERSIONS = { ['1.0'] = 0, ['1.1'] = 1, ['1.2'] = 2, ['1.3'] = 3 }
local SETTING_DEFAULTS = {
  registration = 'manual', tls_min = '1.0', tls_max = '1.3',
  client_id_mode = 'default',
}

-- A refusal: raised with error() and turned into an error reply by wrap().
-- (Redis 7 hands pcall a raised table's err string anyway: plain strings.)
local function fail(class, reason)
  error(class .. ' ' .. reason, 0)
end

local function wrap(fn)
  return function(keys, args)
    local ok, res = pcall(fn, args)
    if ok then
      return res
    end
    -- A refusal, a Redis error (WRONGTYPE, OOM...) or a bug: pass it on.
    if type(res) == 'table' then
      res = res.err
    end
    return redis.error_reply(tostring(res))
  end
end

-- --- argument checks ---------------------------------------------------

local function nargs(args, n, usage)
  if #args ~= n then
    fail('INPUT', 'expected ' .. n .. ' arguments: ' .. usage)
  end
end

local function prefix(args)
  local P = args[1]
  if P == nil or P == '' or #P > 128 or P:find('[%c%s]') then
    fail('INPUT', 'key prefix must be 1..128 printable characters without spaces')
  end
  return P
end

local function hex64(s, what)
  if type(s) ~= 'string' or #s ~= 64 or s:find('[^0-9a-f]') then
    fail('INPUT', what .. ' must be 64 lowercase hex digits (SHA-256 of the DER)')
  end
  return s
end

local function text(s, what, max, allow_empty)
  if (s == '' and not allow_empty) or #s > max or s:find('%c') then
    fail('INPUT', what .. ' must be ' .. (allow_empty and '0' or '1') .. '..' ..
      max .. ' bytes without control characters')
  end
  return s
end

local function unix(s, what)
  if not s:match('^%-?%d+$') or #s > 15 then
    fail('INPUT', what .. ' must be Unix seconds')
  end
  return s
end

local function serial(s)
  if not s:match('^%-?[0-9A-F]+$') or #s > SERIAL_MAX + 1 then
    fail('INPUT', 'serial must be uppercase hex')
  end
  return s
end

local function pem(s)
  if s:sub(1, 27) ~= '-----BEGIN CERTIFICATE-----' or #s > 65536 then
    fail('INPUT', 'pem must be one PEM certificate')
  end
  return s
end

local function flag(s, what)
  if s ~= '0' and s ~= '1' then
    fail('INPUT', what .. ' must be 1 or 0')
  end
  return s == '1'
end

-- --- helpers -------------------------------------------------------------

local function now()
  return tonumber(redis.call('TIME')[1])
end

local function publish(P, msg)
  redis.call('PUBLISH', P .. ':events', msg)
end

local function short(id)
  return id:sub(1, 16)
end

-- The rate limit, shared by manual and automatic registration, one counter
-- per second of the server's clock. rate_key returns the counter's key when
-- one more registration fits in this second, nil when the limit is reached;
-- nothing is written until rate_take, after every other check passed.
local function rate_key(P, t)
  local key = P .. ':rate:' .. t
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= RATE_PER_SECOND then
    return nil
  end
  return key
end

local function rate_take(key)
  redis.call('INCR', key)
  redis.call('EXPIRE', key, 10)
end

local function cert_indexes(P, c)
  return {
    P .. ':idx:serial:' .. c.serial, P .. ':idx:cn:' .. c.cn,
    P .. ':idx:ou:' .. c.ou, P .. ':idx:status:' .. c.status,
    P .. ':idx:ca:' .. c.ca,
  }
end

-- cert_get returns the stored fields the rules need, or nil.
local function cert_get(P, fp)
  local v = redis.call('HMGET', P .. ':cert:' .. fp, 'fp', 'serial', 'cn',
    'ou', 'ca', 'status', 'client_id')
  if not v[1] then
    return nil
  end
  return {
    fp = v[1], serial = v[2] or '', cn = v[3] or '', ou = v[4] or '',
    ca = v[5] or '', status = v[6] or '', client_id = v[7] or '',
  }
end

local function ca_status(P, id)
  return redis.call('HGET', P .. ':ca:' .. id, 'status')
end

-- cert_check validates a client certificate's registration arguments
-- (args[2..12] in mqgate_cert_register's order) and returns them as a table.
local function cert_check(a)
  return {
    fp = hex64(a.fp, 'fp'), pem = pem(a.pem), serial = serial(a.serial),
    cn = text(a.cn, 'cn', NAME_MAX, true), ou = text(a.ou, 'ou', NAME_MAX, true),
    ca = hex64(a.ca, 'ca'), not_before = unix(a.not_before, 'not_before'),
    not_after = unix(a.not_after, 'not_after'),
    client_id = text(a.client_id, 'client_id', NAME_MAX, true),
  }
end

-- cert_write stores a new certificate |c| (checked, status set) with its
-- indexes and client ID, and publishes its event.
local function cert_write(P, c, t)
  redis.call('HSET', P .. ':cert:' .. c.fp, 'fp', c.fp, 'pem', c.pem,
    'serial', c.serial, 'cn', c.cn, 'ou', c.ou, 'ca', c.ca,
    'not_before', c.not_before, 'not_after', c.not_after,
    'client_id', c.client_id, 'source', c.source, 'status', c.status,
    'registered_at', t, 'status_changed_at', t)
  redis.call('ZADD', P .. ':certs', c.not_after, c.fp)
  for _, k in ipairs(cert_indexes(P, c)) do
    redis.call('SADD', k, c.fp)
  end
  if c.client_id ~= '' then
    redis.call('SET', P .. ':clientid:' .. c.client_id, c.fp)
  end
  publish(P, 'cert ' .. c.fp .. ' ' .. c.status)
end

-- --- client certificates -------------------------------------------------

-- cert_register_with is mqgate_cert_register; |limited| false skips the
-- rate limit (mqgate_cert_register_unlimited_test_setup only).
local function cert_register_with(args, limited)
  nargs(args, 12, 'P fp pem serial cn ou ca not_before not_after client_id ' ..
    'activate source')
  local P = prefix(args)
  local c = cert_check({
    fp = args[2], pem = args[3], serial = args[4], cn = args[5], ou = args[6],
    ca = args[7], not_before = args[8], not_after = args[9],
    client_id = args[10],
  })
  c.status = flag(args[11], 'activate') and 'active' or 'registered_inactive'
  c.source = args[12]
  if c.source ~= 'manual' and c.source ~= 'auto' then
    fail('INPUT', 'source must be manual or auto')
  end
  if not ca_status(P, c.ca) then
    fail('NOTFOUND', 'CA ' .. short(c.ca) .. ' is not registered; a ' ..
      'certificate can only be registered under a registered CA')
  end
  if redis.call('EXISTS', P .. ':cert:' .. c.fp) == 1 then
    fail('RULE', 'certificate ' .. short(c.fp) .. ' is already registered; ' ..
      'a certificate is registered once')
  end
  if c.client_id ~= '' then
    local owner = redis.call('GET', P .. ':clientid:' .. c.client_id)
    if owner then
      fail('RULE', "client ID '" .. c.client_id .. "' is already registered to " ..
        'certificate ' .. short(owner) .. '; registered client IDs are unique ' ..
        'within a cluster')
    end
  end
  local t = now()
  if limited then
    local rk = rate_key(P, t)
    if not rk then
      fail('RATE', 'registration rate limit reached (' .. RATE_PER_SECOND ..
        ' certificates per second per cluster); try again')
    end
    rate_take(rk)
  end
  cert_write(P, c, t)
  return c.status
end

local function cert_register(args)
  return cert_register_with(args, true)
end

-- TEST SET-UP ONLY (mqgatectl cert register
-- --unsafe-bypass-rate-limit-for-test-setup): the same registration, every
-- rule but the cluster's rate limit, which it neither checks nor counts.
-- For creating the thousands of devices of a benchmark; a fleet is never
-- registered this way.
local function cert_register_unlimited_test_setup(args)
  return cert_register_with(args, false)
end

-- Allowed transitions: action -> { from-status -> to-status }.
local TRANSITIONS = {
  activate = { inactive = 'active', registered_inactive = 'active' },
  deactivate = { active = 'inactive' },
  revoke = { active = 'revoked', inactive = 'revoked',
    registered_inactive = 'revoked' },
}

-- refuse_transition explains why |action| does not apply to |from|.
local function refuse_transition(action, from)
  if action == 'revoke' and from == 'revoked' then
    fail('RULE', 'the certificate is already REVOKED')
  elseif from == 'revoked' then
    fail('RULE', 'a REVOKED certificate is final: it cannot be ' .. action ..
      'd again')
  elseif action == 'activate' then
    fail('RULE', 'the certificate is already ACTIVE')
  end
  fail('RULE', 'only an ACTIVE certificate can be deactivated (it is ' ..
    from:upper() .. ')')
end

local function cert_set(args)
  nargs(args, 3, 'P fp activate|deactivate|revoke')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local action = args[3]
  local map = TRANSITIONS[action]
  if not map then
    fail('INPUT', 'action must be activate, deactivate or revoke')
  end
  local c = cert_get(P, fp)
  if not c then
    fail('NOTFOUND', 'certificate ' .. short(fp) .. ' is not registered')
  end
  local to = map[c.status]
  if not to then
    refuse_transition(action, c.status)
  end
  if to == 'active' and not ca_status(P, c.ca) then
    fail('RULE', 'the certificate\'s CA ' .. short(c.ca) .. ' is no longer ' ..
      'registered; a certificate is only active under a registered CA')
  end
  redis.call('HSET', P .. ':cert:' .. fp, 'status', to, 'status_changed_at',
    now())
  redis.call('SREM', P .. ':idx:status:' .. c.status, fp)
  redis.call('SADD', P .. ':idx:status:' .. to, fp)
  publish(P, 'cert ' .. fp .. ' ' .. to)
  return to
end

local function cert_delete(args)
  nargs(args, 2, 'P fp')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local c = cert_get(P, fp)
  if not c then
    fail('NOTFOUND', 'certificate ' .. short(fp) .. ' is not registered')
  end
  if c.status == 'active' then
    fail('RULE', 'an ACTIVE certificate cannot be deleted; deactivate or ' ..
      'revoke it first')
  end
  redis.call('DEL', P .. ':cert:' .. fp, P .. ':assoc:' .. fp)
  redis.call('ZREM', P .. ':certs', fp)
  for _, k in ipairs(cert_indexes(P, c)) do
    redis.call('SREM', k, fp)
  end
  if c.client_id ~= '' then
    local key = P .. ':clientid:' .. c.client_id
    if redis.call('GET', key) == fp then
      redis.call('DEL', key)
    end
  end
  publish(P, 'cert ' .. fp .. ' deleted')
  return 'deleted'
end

-- --- the proxy's calls ---------------------------------------------------

local function lookup(args)
  nargs(args, 9, 'P fp ca_id serial cn ou not_before not_after pem')
  local P = prefix(args)
  local fp, ca = hex64(args[2], 'fp'), args[3]
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
    -- registered under must not be inactive either.
    if c.ca ~= ca and ca_status(P, c.ca) == 'inactive' then
      return { 'ca_inactive', c.status, c.client_id }
    end
    if c.status == 'active' then
      return { 'ok', 'active', c.client_id }
    end
    return { 'cert', c.status, c.client_id }
  end
  if redis.call('HGET', P .. ':settings', 'registration') ~= 'auto' then
    return { 'unregistered', '', '' }
  end
  local n = cert_check({
    fp = fp, pem = args[9], serial = args[4], cn = args[5], ou = args[6],
    ca = hex64(ca, 'ca_id'), not_before = args[7], not_after = args[8],
    client_id = '',
  })
  n.status, n.source = 'active', 'auto'
  local t = now()
  local rk = rate_key(P, t)
  if not rk then
    return { 'rate_limited', '', '' }
  end
  rate_take(rk)
  cert_write(P, n, t)
  return { 'ok', 'active', '' }
end

local function touch(args)
  nargs(args, 4, 'P fp client_id now')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local id = text(args[3], 'client_id', 65535, false)
  local t = unix(args[4], 'now')
  if redis.call('EXISTS', P .. ':cert:' .. fp) == 0 then
    return 0 -- deleted meanwhile: keep no orphan list
  end
  local key = P .. ':assoc:' .. fp
  redis.call('ZADD', key, t, id)
  redis.call('ZREMRANGEBYRANK', key, 0, -(ASSOC_MAX + 1))
  return 1
end

-- --- CA certificates -----------------------------------------------------

local function ca_register(args)
  nargs(args, 9, 'P id pem subject cn serial not_before not_after active')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  local p = pem(args[3])
  local subject = text(args[4], 'subject', 4096, true)
  local cn = text(args[5], 'cn', NAME_MAX, true)
  local sn = serial(args[6])
  local nb, na = unix(args[7], 'not_before'), unix(args[8], 'not_after')
  local status = flag(args[9], 'active') and 'active' or 'inactive'
  if ca_status(P, id) then
    fail('RULE', 'CA ' .. short(id) .. ' is already registered; a CA is ' ..
      'registered once')
  end
  redis.call('HSET', P .. ':ca:' .. id, 'id', id, 'pem', p, 'subject', subject,
    'cn', cn, 'serial', sn, 'not_before', nb, 'not_after', na,
    'status', status, 'registered_at', now())
  redis.call('SADD', P .. ':cas', id)
  publish(P, 'ca ' .. id .. ' registered')
  return status
end

local function ca_set(args)
  nargs(args, 3, 'P id activate|deactivate')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  local action = args[3]
  local to = ({ activate = 'active', deactivate = 'inactive' })[action]
  if not to then
    fail('INPUT', 'action must be activate or deactivate')
  end
  local from = ca_status(P, id)
  if not from then
    fail('NOTFOUND', 'CA ' .. short(id) .. ' is not registered')
  end
  if from == to then
    fail('RULE', 'the CA is already ' .. to:upper())
  end
  redis.call('HSET', P .. ':ca:' .. id, 'status', to)
  publish(P, 'ca ' .. id .. ' ' .. to)
  return to
end

local function ca_delete(args)
  nargs(args, 2, 'P id')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  if not ca_status(P, id) then
    fail('NOTFOUND', 'CA ' .. short(id) .. ' is not registered')
  end
  local n = redis.call('SINTERCARD', 2, P .. ':idx:ca:' .. id,
    P .. ':idx:status:active')
  if n > 0 then
    fail('RULE', 'a CA with ACTIVE client certificates cannot be deleted (' ..
      n .. ' active); deactivate, revoke or delete them first')
  end
  -- P:idx:ca:<id> stays: it lists the (inactive) certificates that still
  -- name this CA, should it be registered again.
  redis.call('DEL', P .. ':ca:' .. id)
  redis.call('SREM', P .. ':cas', id)
  publish(P, 'ca ' .. id .. ' deleted')
  return 'deleted'
end

-- --- settings ------------------------------------------------------------

local function settings_set(args)
  nargs(args, 3, 'P key value')
  local P = prefix(args)
  local key, value = args[2], args[3]
  local skey = P .. ':settings'
  if key == 'registration' then
    if value ~= 'manual' and value ~= 'auto' then
      fail('INPUT', 'registration must be manual or auto')
    end
  elseif key == 'client_id_mode' then
    if value ~= 'default' and value ~= 'strict' then
      fail('INPUT', 'client_id_mode must be default or strict')
    end
  elseif key == 'tls_min' or key == 'tls_max' then
    if not TLS_VERSIONS[value] then
      fail('INPUT', key .. ' must be one of 1.0, 1.1, 1.2, 1.3')
    end
    local other = key == 'tls_min' and 'tls_max' or 'tls_min'
    local ov = redis.call('HGET', skey, other)
    if not TLS_VERSIONS[ov or ''] then
      ov = SETTING_DEFAULTS[other]
    end
    local lo = key == 'tls_min' and value or ov
    local hi = key == 'tls_min' and ov or value
    if TLS_VERSIONS[lo] > TLS_VERSIONS[hi] then
      fail('RULE', 'the TLS window needs tls_min <= tls_max (would be ' .. lo ..
        '..' .. hi .. '); move the other bound first')
    end
  else
    fail('INPUT', 'setting must be registration, tls_min, tls_max or ' ..
      'client_id_mode')
  end
  redis.call('HSET', skey, key, value)
  publish(P, 'settings')
  return value
end

redis.register_function('mqgate_lookup', wrap(lookup))
redis.register_function('mqgate_touch', wrap(touch))
redis.register_function('mqgate_cert_register', wrap(cert_register))
redis.register_function('mqgate_cert_register_unlimited_test_setup',
  wrap(cert_register_unlimited_test_setup))
redis.register_function('mqgate_cert_set', wrap(cert_set))
redis.register_function('mqgate_cert_delete', wrap(cert_delete))
redis.register_function('mqgate_ca_register', wrap(ca_register))
redis.register_function('mqgate_ca_set', wrap(ca_set))
redis.register_function('mqgate_ca_delete', wrap(ca_delete))
redis.register_function('mqgate_settings_set', wrap(settings_set))
