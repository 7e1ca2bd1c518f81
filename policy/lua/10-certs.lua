
-- === client certificates: registration, state changes, deletion ===========
--
--   register, activate=1 / automatic (after a handshake) -> active
--   register, activate=0                        -> registered_inactive
--   activate    inactive | registered_inactive  -> active
--   deactivate  active                          -> inactive
--   revoke      active | inactive | registered_inactive -> revoked (final)
--   delete      inactive | registered_inactive | revoked  (never active)
--
-- Deleting leaves a tombstone on the fingerprint (00-core.lua): a revoked
-- one stays refused forever, a deleted one does not register itself again.

-- cert_check validates a client certificate's registration arguments and
-- returns them as a record table.
local function cert_check(a)
  return {
    fp = hex64(a.fp, 'fp'), serial = serial(a.serial),
    cn = text(a.cn, 'cn', NAME_MAX, true), ou = text(a.ou, 'ou', NAME_MAX, true),
    ca = hex64(a.ca, 'ca'), nb = unix(a.nb, 'not_before'),
    na = unix(a.na, 'not_after'),
    cid = text(a.cid, 'client_id', NAME_MAX, true), ren = a.ren or '',
  }
end

-- cert_write stores the new record |c| (checked, status and source set)
-- with its indexes, counters and identity, and publishes its event.
local function cert_write(P, c, t)
  local fields = { 'serial', c.serial, 'cn', c.cn, 'ou', c.ou, 'ca', ca_num(P, c.ca),
    'nb', c.nb, 'na', c.na, 'cid', c.cid, 'src', c.src, 'status', c.status,
    'reg', t, 'chg', t }
  if c.ren ~= '' then
    fields[#fields + 1] = 'ren'
    fields[#fields + 1] = c.ren
  end
  redis.call('HSET', kcert(P, c.fp), unpack(fields))
  index_add(P, c)
  redis.call('HINCRBY', kstats(P), 'certs', 1)
  count(P, c.ca, c.status, 1)
  ident_claim(P, identity_of(c), c.fp)
  tomb_clear(P, c.fp)
  mark_schema(P)
  publish(P, 'cert ' .. c.fp .. ' ' .. c.status)
end

-- identity_conflict returns the certificate that holds |c|'s identity
-- when |c| may not share it, or nil: a renewal (|c| renews the holder, or
-- the holder renews |c|) shares its device's identity.
local function identity_conflict(P, c)
  local owner = ident_owner(P, identity_of(c))
  if not owner or owner == c.fp or (c.ren ~= '' and owner == c.ren) then
    return nil
  end
  local o = cert_get(P, owner)
  if o and o.ren == c.fp then
    return nil
  end
  return owner
end

-- cert_register_with is mqgate_cert_register; |limited| false skips the
-- rate limit (mqgate_cert_register_unlimited_test_setup only).
local function cert_register_with(args, limited)
  nargs(args, 13, 'P fp serial cn ou ca not_before not_after client_id ' ..
    'activate source renews actor')
  local P = prefix(args)
  local c = cert_check({
    fp = args[2], serial = args[3], cn = args[4], ou = args[5], ca = args[6],
    nb = args[7], na = args[8], cid = args[9], ren = args[12],
  })
  c.status = flag(args[10], 'activate') and 'active' or 'registered_inactive'
  c.src = args[11]
  local who = actor(args[13])
  if c.src ~= 'manual' and c.src ~= 'auto' then
    fail('INPUT', 'source must be manual or auto')
  end
  if c.ren ~= '' then
    hex64(c.ren, 'renews')
  end
  if not ca_status(P, c.ca) then
    fail('NOTFOUND', 'CA ' .. short(c.ca) .. ' is not registered; a ' ..
      'certificate can only be registered under a registered CA')
  end
  if redis.call('EXISTS', kcert(P, c.fp)) == 1 then
    fail('RULE', 'certificate ' .. short(c.fp) .. ' is already registered; ' ..
      'a certificate is registered once')
  end
  local tomb = tomb_get(P, c.fp)
  if tomb and tomb.kind == 'revoked' then
    fail('RULE', 'certificate ' .. short(c.fp) .. ' was revoked and deleted; ' ..
      'revocation is final for a certificate')
  end
  if c.ren ~= '' then
    local old = cert_get(P, c.ren)
    if not old then
      fail('NOTFOUND', 'certificate ' .. short(c.ren) .. ' (--renews) is not ' ..
        'registered')
    end
    if old.status == 'revoked' then
      fail('RULE', 'certificate ' .. short(c.ren) .. ' is REVOKED: register ' ..
        'the new certificate without --renews')
    end
    if c.cid == '' then
      c.cid = old.cid -- a renewal keeps the device's registered client ID
    end
    if identity_of(old) ~= identity_of(c) then
      fail('RULE', "a renewal keeps the device's identity: the new " ..
        "certificate's would be '" .. identity_of(c) .. "', the old one's is '" ..
        identity_of(old) .. "'")
    end
  end
  local owner = identity_conflict(P, c)
  if owner then
    fail('RULE', "identity '" .. identity_of(c) .. "' (" ..
      (c.cid ~= '' and 'client ID' or 'CN') .. ') already belongs to ' ..
      'certificate ' .. short(owner) .. '; identities are unique within a ' ..
      'cluster (a new certificate of the same device: --renews ' ..
      short(owner) .. ')')
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
  audit(P, who, 'cert.register', 'cert:' .. c.fp, '', c.status,
    c.ren ~= '' and ('renews ' .. c.ren) or c.src)
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

local function not_registered(P, fp)
  local tomb = tomb_get(P, fp)
  if tomb and tomb.kind == 'revoked' then
    fail('NOTFOUND', 'certificate ' .. short(fp) .. ' was revoked and deleted')
  end
  fail('NOTFOUND', 'certificate ' .. short(fp) .. ' is not registered')
end

local function cert_set(args)
  nargs(args, 4, 'P fp activate|deactivate|revoke actor')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local action = args[3]
  local who = actor(args[4])
  local map = TRANSITIONS[action]
  if not map then
    fail('INPUT', 'action must be activate, deactivate or revoke')
  end
  local c = cert_get(P, fp)
  if not c then
    not_registered(P, fp)
  end
  local to = map[c.status]
  if not to then
    refuse_transition(action, c.status)
  end
  if to == 'active' then
    if not ca_status(P, c.ca) then
      fail('RULE', 'the certificate\'s CA ' .. short(c.ca) .. ' is no longer ' ..
        'registered; a certificate is only active under a registered CA')
    end
    local owner = identity_conflict(P, c)
    if owner then
      fail('RULE', "identity '" .. identity_of(c) .. "' now belongs to " ..
        'certificate ' .. short(owner) .. '; identities are unique within a cluster')
    end
  end
  redis.call('HSET', kcert(P, fp), 'status', to, 'chg', now())
  status_move(P, c, to)
  if to == 'revoked' then
    ident_release(P, c) -- a replacement certificate may take the identity
  elseif to == 'active' and not ident_owner(P, identity_of(c)) then
    ident_claim(P, identity_of(c), fp)
  end
  publish(P, 'cert ' .. fp .. ' ' .. to)
  audit(P, who, 'cert.' .. action, 'cert:' .. fp, c.status, to)
  return to
end

local function cert_delete(args)
  nargs(args, 3, 'P fp actor')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local who = actor(args[3])
  local c = cert_get(P, fp)
  if not c then
    not_registered(P, fp)
  end
  if c.status == 'active' then
    fail('RULE', 'an ACTIVE certificate cannot be deleted; deactivate or ' ..
      'revoke it first')
  end
  local t = now()
  redis.call('DEL', kcert(P, fp))
  index_del(P, c)
  redis.call('HINCRBY', kstats(P), 'certs', -1)
  count(P, c.ca, c.status, -1)
  ident_release(P, c)
  if c.status == 'revoked' then
    tomb_set(P, fp, 'revoked ' .. c.chg .. ' ' .. t)
  else
    tomb_set(P, fp, 'deleted ' .. t .. ' ' .. c.status)
  end
  publish(P, 'cert ' .. fp .. ' deleted')
  audit(P, who, 'cert.delete', 'cert:' .. fp, c.status, 'deleted')
  return 'deleted'
end

register('mqgate_cert_register', cert_register)
register('mqgate_cert_register_unlimited_test_setup',
  cert_register_unlimited_test_setup)
register('mqgate_cert_set', cert_set)
register('mqgate_cert_delete', cert_delete)
