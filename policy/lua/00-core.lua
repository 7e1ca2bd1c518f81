#!lua name=mqgate_v2
--[[
The registry's Redis Functions library, layout 2 (policy/schema.h fixes the
keys, fields, statuses, events and calls; this text is the files
policy/lua/*.lua in name order, joined at build time by embed.cmake).

Every function is called as FCALL[_RO] <name> 0 <prefix P> args... and runs
atomically. A change first validates everything it needs, then writes: a
refusal never leaves a partial record. Each change publishes one event on
P:events and appends one entry to the audit stream P:audit in the same
call. Errors are error replies whose first word is the class: RULE
(refused by the rules), RATE (registration limit), INPUT (bad argument),
NOTFOUND.

No call on a handshake, registration, state change or event path does
work that grows with the number of certificates: every index is a sorted
set read by range or a small bucket, and every count a counter.

This file: constants, argument checks, encodings, and the helpers the
other files share (indexes, counters, identities, tombstones, audit).
]]

local RATE_PER_SECOND = 15 -- MQG_RATE_PER_SECOND
local ASSOC_MAX = 20 -- MQG_ASSOC_MAX: associated client IDs kept
local ASSOC_ID_MAX = 128 -- MQG_ASSOC_ID_MAX: bytes of one kept
local AUDIT_MAX = 100000 -- MQG_AUDIT_MAX: audit entries kept (about)
-- A listing call returns at most CALL_ROWS records and examines at most
-- SCAN_BUDGET index members: under 1 ms of Redis time (about 9 us a record
-- returned, 3 us a member checked and left out). A page of more is several
-- calls (registry_list.c).
local CALL_ROWS = 25 -- MQG_REG_CALL_ROWS
local SCAN_BUDGET = 100
local NAME_MAX = 256 -- MQG_CERTINFO_NAME_MAX: CN, OU, client ID bytes
local SERIAL_MAX = 64 -- MQG_CERTINFO_SERIAL_MAX
local PREFIX_MAX = 128 -- MQG_REDIS_PREFIX_MAX: bytes of a key prefix
local SCHEMA = '2'

local STATUSES = {
  active = true, inactive = true, registered_inactive = true, revoked = true,
}
local TLS_VERSIONS = { ['1.0'] = 0, ['1.1'] = 1, ['1.2'] = 2, ['1.3'] = 3 }
local SETTING_DEFAULTS = {
  registration = 'manual', tls_min = '1.0', tls_max = '1.3',
  client_id_mode = 'default',
}

-- A refusal: raised with error() and turned into an error reply by wrap().
local function fail(class, reason)
  error(class .. ' ' .. reason, 0)
end

-- What one call remembers (CA ids by number); emptied as every call starts,
-- since a library's locals outlive the call.
local ca_ids_seen = {}

local function wrap(fn)
  return function(keys, args)
    ca_ids_seen = {}
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

-- register registers |fn| as |name|; |ro| marks a read-only function
-- (callable with FCALL_RO, also on a replica).
local function register(name, fn, ro)
  redis.register_function {
    function_name = name, callback = wrap(fn),
    flags = ro and { 'no-writes' } or {},
  }
end

-- --- argument checks ---------------------------------------------------

local function nargs(args, n, usage)
  if #args ~= n then
    fail('INPUT', 'expected ' .. n .. ' arguments: ' .. usage)
  end
end

local function prefix(args)
  local P = args[1]
  if P == nil or P == '' or #P > PREFIX_MAX or P:find('[%c%s]') then
    fail('INPUT', 'key prefix must be 1..' .. PREFIX_MAX ..
      ' printable characters without spaces')
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
  if not s:match('^%-?%d+$') or #s > 13 then
    fail('INPUT', what .. ' must be Unix seconds')
  end
  return tonumber(s)
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

-- actor checks who makes a change, as the audit log shows it.
local function actor(s)
  return text(s, 'actor', 128, false)
end

-- --- encodings -----------------------------------------------------------

-- Ordered indexes are sorted sets whose members all score 0, ordered by
-- bytes: the certificate's not_after as 8 bytes big-endian (offset so that
-- dates before 1970 sort first), then its 32-byte fingerprint. A lex range
-- is then an expiry window, and a member is an exact cursor.
local TIME_OFFSET = 1099511627776 -- 2^40

-- (One call of string.char or string.format per conversion: a listing
-- converts a fingerprint per row, and a closure per byte would cost more
-- than the row's read.)
local HEX_FORMAT = {}
local function fpbin(hex)
  local bytes = {}
  for i = 1, #hex, 2 do
    bytes[#bytes + 1] = tonumber(hex:sub(i, i + 1), 16)
  end
  return string.char(unpack(bytes))
end

local function tohex(bin)
  local n = #bin
  if n == 0 then
    return ''
  end
  local f = HEX_FORMAT[n]
  if not f then
    f = string.rep('%02x', n)
    HEX_FORMAT[n] = f
  end
  return string.format(f, bin:byte(1, n))
end

local function tkey(t)
  return struct.pack('>I8', t + TIME_OFFSET)
end

local function member(na, fp)
  return tkey(na) .. fpbin(fp)
end

local function member_fp(m)
  return tohex(m:sub(9, 40))
end

-- Small lookups (a fingerprint prefix, a CN, a serial, an identity) live in
-- 65,536 buckets per kind, so that each bucket stays a compact listpack:
-- the bucket is the first 4 hex digits of the SHA-1 of the name (of the
-- fingerprint itself for prefixes), and a sorted-set member carries the
-- next 6 bytes of that SHA-1 as a tag, then the fingerprint.
local function name_key(s)
  local h = redis.sha1hex(s)
  return h:sub(1, 4), fpbin(h:sub(5, 16))
end

-- --- keys ------------------------------------------------------------------

local function kcert(P, fp) return P .. ':cert:' .. fp end
local function kca(P, id) return P .. ':ca:' .. id end
local function kstats(P) return P .. ':stats' end

-- --- helpers -----------------------------------------------------------------

local function now()
  return tonumber(redis.call('TIME')[1])
end

local function publish(P, msg)
  redis.call('PUBLISH', P .. ':events', msg)
end

local function short(id)
  return id:sub(1, 16)
end

local function audit(P, who, action, object, before, after, detail)
  redis.call('XADD', P .. ':audit', 'MAXLEN', '~', AUDIT_MAX, '*',
    'actor', who, 'action', action, 'object', object,
    'before', before or '', 'after', after or '', 'detail', detail or '')
end

-- The layout version: written by the first change, checked by readers.
local function mark_schema(P)
  redis.call('HSETNX', P .. ':meta', 'schema', SCHEMA)
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

local function ca_status(P, id)
  return redis.call('HGET', kca(P, id), 'status')
end

local function setting(P, key)
  return redis.call('HGET', P .. ':settings', key) or SETTING_DEFAULTS[key]
end

-- --- CA numbers ------------------------------------------------------------------

-- A record names its CA by a small number, not by the CA's 64-digit id:
-- P:canums maps "id:<id>" -> number and "n:<number>" -> id, for every CA
-- ever registered (a CA registered again gets its number back).
local function ca_num(P, id)
  local key = P .. ':canums'
  local n = redis.call('HGET', key, 'id:' .. id)
  if not n then
    n = tostring(redis.call('HINCRBY', key, 'seq', 1))
    redis.call('HSET', key, 'id:' .. id, n, 'n:' .. n, id)
  end
  return n
end

-- (Remembered for the rest of the call, ca_ids_seen: a listing's rows name
-- few CAs.)
local function ca_id_of(P, num)
  local key = P .. ':' .. num
  local id = ca_ids_seen[key]
  if not id then
    id = redis.call('HGET', P .. ':canums', 'n:' .. num) or ''
    ca_ids_seen[key] = id
  end
  return id
end

-- --- client certificate records ------------------------------------------------

local CERT_FIELDS = { 'serial', 'cn', 'ou', 'ca', 'nb', 'na', 'cid', 'src',
  'status', 'reg', 'chg', 'ren' }
local CA_FIELD = 4 -- where 'ca' (a CA number in the record) is

-- cert_fields reads the record of |fp|: CERT_FIELDS' values with the CA's
-- id in place of its number, or nil.
local function cert_fields(P, fp)
  local v = redis.call('HMGET', kcert(P, fp), unpack(CERT_FIELDS))
  if not v[9] then
    return nil
  end
  v[CA_FIELD] = ca_id_of(P, v[CA_FIELD] or '')
  return v
end

-- cert_get returns the stored record of |fp| as a table, or nil.
local function cert_get(P, fp)
  local v = cert_fields(P, fp)
  if not v then
    return nil
  end
  local c = { fp = fp }
  for i, name in ipairs(CERT_FIELDS) do
    c[name] = v[i] or ''
  end
  c.na = tonumber(c.na) or 0
  return c
end

-- The effective identity of a certificate: its registered client ID, else
-- its CN ('' for neither). Identities are unique in a cluster, but for the
-- certificates of one device during a renewal (see cert_register).
local function identity_of(c)
  if c.cid ~= '' then
    return c.cid
  end
  return c.cn
end

local function ident_key(P, ident)
  local b = name_key(ident)
  return P .. ':id:' .. b
end

-- (The holder's fingerprint is kept as its 32 bytes.)
local function ident_owner(P, ident)
  if ident == '' then
    return nil
  end
  local fb = redis.call('HGET', ident_key(P, ident), ident)
  return fb and tohex(fb) or nil
end

local function ident_claim(P, ident, fp)
  if ident ~= '' then
    redis.call('HSET', ident_key(P, ident), ident, fpbin(fp))
  end
end

-- ident_release gives up |c|'s identity if |c| holds it: to the
-- certificate it renewed, if that one still exists and is not revoked.
local function ident_release(P, c)
  local ident = identity_of(c)
  if ident == '' or ident_owner(P, ident) ~= c.fp then
    return
  end
  local prev = c.ren ~= '' and cert_get(P, c.ren)
  if prev and prev.status ~= 'revoked' and identity_of(prev) == ident then
    ident_claim(P, ident, prev.fp)
  else
    redis.call('HDEL', ident_key(P, ident), ident)
  end
end

-- index_add / index_del keep every index of record |c| in step with it.
local function index_ops(P, c, zop, sop)
  local m = member(c.na, c.fp)
  local fb = fpbin(c.fp)
  redis.call(zop, P .. ':ix:ca:' .. c.ca, unpack(zop == 'ZADD' and { 0, m } or { m }))
  if c.ou ~= '' then
    redis.call(zop, P .. ':ix:ou:' .. c.ou, unpack(zop == 'ZADD' and { 0, m } or { m }))
  end
  if c.status ~= 'active' then
    redis.call(zop, P .. ':ix:st:' .. c.status, unpack(zop == 'ZADD' and { 0, m } or { m }))
  end
  local small = { { P .. ':fx:' .. c.fp:sub(1, 4), fb } }
  if c.cn ~= '' then
    local b, tag = name_key(c.cn)
    small[#small + 1] = { P .. ':cx:' .. b, tag .. fb }
  end
  local b, tag = name_key(c.serial)
  small[#small + 1] = { P .. ':sx:' .. b, tag .. fb }
  for _, s in ipairs(small) do
    redis.call(zop, s[1], unpack(zop == 'ZADD' and { 0, s[2] } or { s[2] }))
  end
  if sop == 'SADD' then
    redis.call('SADD', P .. ':ixcas', c.ca)
  elseif redis.call('EXISTS', P .. ':ix:ca:' .. c.ca) == 0 then
    redis.call('SREM', P .. ':ixcas', c.ca)
  end
end

local function index_add(P, c) index_ops(P, c, 'ZADD', 'SADD') end
local function index_del(P, c) index_ops(P, c, 'ZREM', 'SREM') end

-- count moves the counters of one certificate entering (+1) or leaving
-- (-1) status |status| under CA |ca|.
local function count(P, ca, status, d)
  redis.call('HINCRBY', kstats(P), status, d)
  if status == 'active' then
    redis.call('HINCRBY', kca(P, ca), 'active_certs', d)
  end
end

-- The status index holds the non-active certificates only (the few);
-- moving between statuses moves its member.
local function status_move(P, c, to)
  local m = member(c.na, c.fp)
  if c.status ~= 'active' then
    redis.call('ZREM', P .. ':ix:st:' .. c.status, m)
  end
  if to ~= 'active' then
    redis.call('ZADD', P .. ':ix:st:' .. to, 0, m)
  end
  count(P, c.ca, c.status, -1)
  count(P, c.ca, to, 1)
end

-- --- tombstones ------------------------------------------------------------------

-- A deleted certificate leaves a mark on its fingerprint: "revoked
-- <revoked_at> <deleted_at>" (revocation is final: the fingerprint is
-- refused in every mode, forever) or "deleted <deleted_at> <status>" (not
-- registered again automatically; an operator may register it again).
local function tomb_key(P, fp)
  return P .. ':tb:' .. fp:sub(1, 4)
end

local function tomb_get(P, fp)
  local v = redis.call('HGET', tomb_key(P, fp), fpbin(fp))
  if not v then
    return nil
  end
  local kind, t1, t2 = v:match('^(%S+) (%S+) ?(%S*)')
  return { kind = kind, t1 = tonumber(t1) or 0, t2 = t2 }
end

local function tomb_set(P, fp, value)
  redis.call('HSET', tomb_key(P, fp), fpbin(fp), value)
end

local function tomb_clear(P, fp)
  redis.call('HDEL', tomb_key(P, fp), fpbin(fp))
end
