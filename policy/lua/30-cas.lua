
-- === CA certificates and cluster settings ===================================

local function ca_register(args)
  nargs(args, 10, 'P id pem subject cn serial not_before not_after active actor')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  local p = pem(args[3])
  local subject = text(args[4], 'subject', 4096, true)
  local cn = text(args[5], 'cn', NAME_MAX, true)
  local sn = serial(args[6])
  local nb, na = unix(args[7], 'not_before'), unix(args[8], 'not_after')
  local status = flag(args[9], 'active') and 'active' or 'inactive'
  local who = actor(args[10])
  if ca_status(P, id) then
    fail('RULE', 'CA ' .. short(id) .. ' is already registered; a CA is ' ..
      'registered once')
  end
  -- A CA registered again finds its inactive certificates (a CA is only
  -- deleted without active ones): its active count starts at 0.
  redis.call('HSET', kca(P, id), 'id', id, 'pem', p, 'subject', subject,
    'cn', cn, 'serial', sn, 'not_before', nb, 'not_after', na,
    'status', status, 'registered_at', now(), 'active_certs', 0)
  redis.call('SADD', P .. ':cas', id)
  mark_schema(P)
  publish(P, 'ca ' .. id .. ' registered')
  audit(P, who, 'ca.register', 'ca:' .. id, '', status)
  return status
end

local function ca_set(args)
  nargs(args, 4, 'P id activate|deactivate actor')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  local action = args[3]
  local who = actor(args[4])
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
  redis.call('HSET', kca(P, id), 'status', to)
  publish(P, 'ca ' .. id .. ' ' .. to)
  audit(P, who, 'ca.' .. action, 'ca:' .. id, from, to)
  return to
end

local function ca_delete(args)
  nargs(args, 3, 'P id actor')
  local P = prefix(args)
  local id = hex64(args[2], 'id')
  local who = actor(args[3])
  local from = ca_status(P, id)
  if not from then
    fail('NOTFOUND', 'CA ' .. short(id) .. ' is not registered')
  end
  local n = tonumber(redis.call('HGET', kca(P, id), 'active_certs') or '0')
  if n > 0 then
    fail('RULE', 'a CA with ACTIVE client certificates cannot be deleted (' ..
      n .. ' active); deactivate, revoke or delete them first')
  end
  -- P:ix:ca:<id> stays: it lists the (inactive) certificates that still
  -- name this CA, should it be registered again.
  redis.call('DEL', kca(P, id))
  redis.call('SREM', P .. ':cas', id)
  publish(P, 'ca ' .. id .. ' deleted')
  audit(P, who, 'ca.delete', 'ca:' .. id, from, 'deleted')
  return 'deleted'
end

local function settings_set(args)
  nargs(args, 4, 'P key value actor')
  local P = prefix(args)
  local key, value = args[2], args[3]
  local who = actor(args[4])
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
  local before = setting(P, key)
  redis.call('HSET', skey, key, value)
  publish(P, 'settings')
  audit(P, who, 'settings.set', 'settings:' .. key, before, value)
  return value
end

register('mqgate_ca_register', ca_register)
register('mqgate_ca_set', ca_set)
register('mqgate_ca_delete', ca_delete)
register('mqgate_settings_set', settings_set)
