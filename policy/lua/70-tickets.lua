
-- === session-ticket keys shared by the cluster's proxies ====================
--
-- A device resumes its TLS session on whichever proxy it reaches only if
-- that proxy can decrypt its ticket. P:tickets holds the cluster's keys
-- (each TICKET_KEY bytes: 16 name, 32 AES-256, 32 HMAC-SHA256): field
-- "keys" is the older keys, then the current one (it encrypts), then the
-- next one (already distributed, so that a proxy that rotates first issues
-- tickets every other proxy can read); "at" is when the current key became
-- current. Keys are made by the proxies (BoringSSL's RAND_bytes: Lua's
-- random numbers are not secret) and offered with every call; the registry
-- takes them only when it creates or rotates the set. The keys are never
-- logged; the audit records that the set changed and how many it holds.

local TICKET_KEY = 80 -- MQG_TICKET_KEY_BYTES
local TICKET_KEYS_KEPT = 8 -- MQG_TICKET_KEYS_KEPT: older ones, current, next

-- ticket_keys P now rotate_s candidate ACTOR: the set, created when there is
-- none and rotated when the current key is rotate_s old, as {at, keys}.
-- candidate: 2 fresh keys (160 bytes) from the caller.
local function ticket_keys(args)
  nargs(args, 5, 'P now rotate_s candidate actor')
  local P = prefix(args)
  local t = unix(args[2], 'now')
  local every = unix(args[3], 'rotate_s')
  local fresh = args[4]
  local who = actor(args[5])
  if every < 1 or #fresh ~= 2 * TICKET_KEY then
    fail('INPUT', 'rotate_s must be >= 1 and candidate 2 keys of ' .. TICKET_KEY .. ' bytes')
  end
  local key = P .. ':tickets'
  local v = redis.call('HMGET', key, 'keys', 'at')
  local keys, at = v[1], tonumber(v[2] or '')
  local change = nil
  if not keys or #keys % TICKET_KEY ~= 0 or #keys < 2 * TICKET_KEY or not at then
    keys, at, change = fresh, t, 'created'
  elseif t - at >= every then
    -- current -> older, next -> current, a fresh next; the oldest go.
    keys = keys .. fresh:sub(1, TICKET_KEY)
    local n = #keys / TICKET_KEY
    if n > TICKET_KEYS_KEPT then
      keys = keys:sub((n - TICKET_KEYS_KEPT) * TICKET_KEY + 1)
    end
    at, change = t, 'rotated'
  end
  if change then
    redis.call('HSET', key, 'keys', keys, 'at', at)
    publish(P, 'tickets ' .. change)
    audit(P, who, 'tickets.' .. change:sub(1, -2), 'tickets', '', '', #keys / TICKET_KEY ..
      ' keys')
  end
  return { tostring(at), keys }
end

register('mqgate_ticket_keys', ticket_keys)
