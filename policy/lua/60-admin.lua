--[[
The control plane's functions (mqgate-admin, issue 15): API tokens and the
per-token API rate. Keys (policy/schema_admin.h):
  P:token:<sha256 hex of the token>  hash: name role created_at created_by
  P:tokens                           hash: name -> sha256 hex
  P:apirate:<name>:<unix second>     API calls of one token in one second
Only a hash of a token is stored: the token itself is shown once. Token
changes are audited like every registry change (P:audit).
]]

local TOKEN_ROLES = { read = true, operator = true, admin = true }

local function token_name(s)
  if type(s) ~= 'string' or #s < 1 or #s > 64 or s:find('[^%w%._%-]') then
    fail('INPUT', 'a token name is 1..64 letters, digits, ".", "_" or "-"')
  end
  return s
end

-- mqgate_token_create P name role sha256hex actor -> role
local function token_create(args)
  nargs(args, 5, 'P name role hash actor')
  local P = prefix(args)
  local name = token_name(args[2])
  local role = args[3]
  if not TOKEN_ROLES[role] then
    fail('INPUT', 'role must be read, operator or admin')
  end
  local hash = hex64(args[4], 'token hash')
  local who = actor(args[5])
  if redis.call('HEXISTS', P .. ':tokens', name) == 1 then
    fail('RULE', "a token named '" .. name .. "' exists; revoke it first or " ..
      'choose another name')
  end
  redis.call('HSET', P .. ':token:' .. hash, 'name', name, 'role', role,
    'created_at', now(), 'created_by', who)
  redis.call('HSET', P .. ':tokens', name, hash)
  audit(P, who, 'token.create', 'token:' .. name, '', role)
  return role
end

-- mqgate_token_revoke P name actor -> "revoked"
local function token_revoke(args)
  nargs(args, 3, 'P name actor')
  local P = prefix(args)
  local name = token_name(args[2])
  local who = actor(args[3])
  local hash = redis.call('HGET', P .. ':tokens', name)
  if not hash then
    fail('NOTFOUND', "no token named '" .. name .. "'")
  end
  local role = redis.call('HGET', P .. ':token:' .. hash, 'role') or ''
  redis.call('DEL', P .. ':token:' .. hash)
  redis.call('HDEL', P .. ':tokens', name)
  audit(P, who, 'token.revoke', 'token:' .. name, role, '')
  return 'revoked'
end

-- mqgate_api_auth P sha256hex limit_per_second -> {name, role}
-- One API call's check: the token's name and role ({'', ''} for an unknown
-- token), counted against the token's limit per second across every
-- mqgate-admin of the cluster (RATE when over it; 0: no limit).
local function api_auth(args)
  nargs(args, 3, 'P hash limit')
  local P = prefix(args)
  local hash = args[2]
  if type(hash) ~= 'string' or #hash ~= 64 or hash:find('[^0-9a-f]') then
    return { '', '' }
  end
  local v = redis.call('HMGET', P .. ':token:' .. hash, 'name', 'role')
  if not v[1] then
    return { '', '' }
  end
  local limit = tonumber(args[3]) or 0
  if limit > 0 then
    local key = P .. ':apirate:' .. v[1] .. ':' .. now()
    local n = redis.call('INCR', key)
    if n == 1 then
      redis.call('EXPIRE', key, 5)
    end
    if n > limit then
      fail('RATE', 'API rate limit of token ' .. v[1] .. ' reached (' .. limit ..
        ' calls per second); try again')
    end
  end
  return { v[1], v[2] }
end

register('mqgate_token_create', token_create)
register('mqgate_token_revoke', token_revoke)
register('mqgate_api_auth', api_auth)
