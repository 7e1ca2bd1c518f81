
-- === reads: records, listings, id prefixes, CAs ===============================
--
-- All read-only (FCALL_RO). A listing call examines at most SCAN_BUDGET
-- index members and returns at most CALL_ROWS records, whatever the size
-- of the registry: a page plus a cursor, never a whole index.

-- A record as a listing row: fp, then CERT_FIELDS in their order.
local function row_of(P, fp)
  local v = cert_fields(P, fp)
  if not v then
    return nil -- deleted meanwhile
  end
  local row = { fp }
  for i = 1, #CERT_FIELDS do
    row[#row + 1] = v[i] or ''
  end
  return row
end
local ROW = { serial = 2, cn = 3, ou = 4, ca = 5, na = 7, status = 10 }

-- passes tells, reading only those fields, whether certificate |fp| meets
-- the status, CA and OU conditions of |f| its index does not cover (|skip|).
local function passes(P, f, fp, skip)
  local v = redis.call('HMGET', kcert(P, fp), 'status', 'ca', 'ou')
  if not v[1] then
    return false
  end
  return (f.status == '' or skip == 'status' or v[1] == f.status) and
      (f.ou == '' or skip == 'ou' or v[3] == f.ou) and
      (f.ca == '' or skip == 'ca' or ca_id_of(P, v[2] or '') == f.ca)
end

local function cert_read(args)
  nargs(args, 2, 'P fp')
  local P = prefix(args)
  local fp = hex64(args[2], 'fp')
  local row = row_of(P, fp)
  if not row then
    local tomb = tomb_get(P, fp)
    if tomb then
      return { 'tombstone', tomb.kind, tostring(tomb.t1), tomb.t2 }
    end
    return { 'none' }
  end
  local out = { 'cert' }
  for i = 2, #row do
    out[#out + 1] = row[i]
  end
  -- Associated clients, newest first.
  local all = redis.call('HGETALL', kcert(P, fp))
  local seen = {}
  for i = 1, #all, 2 do
    if all[i]:sub(1, 1) == '@' then
      seen[#seen + 1] = { all[i]:sub(2), tonumber(all[i + 1]) or 0 }
    end
  end
  table.sort(seen, function(a, b) return a[2] > b[2] end)
  for _, s in ipairs(seen) do
    out[#out + 1] = s[1]
    out[#out + 1] = tostring(s[2])
  end
  return out
end

-- --- listings ----------------------------------------------------------------

local function fromhex(h)
  if #h % 2 == 1 or h:find('[^0-9a-f]') then
    fail('INPUT', 'bad cursor')
  end
  return fpbin(h)
end

-- The filter of a listing call, checked.
local function filter_of(args)
  local f = {
    cursor = args[2], status = args[4], ca = args[5], ou = args[6],
    cn = args[7], serial = args[8],
  }
  f.limit = tonumber(args[3])
  if not f.limit or f.limit < 1 or f.limit > CALL_ROWS or f.limit % 1 ~= 0 then
    fail('INPUT', 'limit must be 1..' .. CALL_ROWS)
  end
  if f.cursor ~= '' then
    f.cursor = fromhex(f.cursor)
    if #f.cursor ~= 40 then
      fail('INPUT', 'bad cursor')
    end
  end
  if f.status ~= '' and not STATUSES[f.status] then
    fail('INPUT', 'status must be active, inactive, registered_inactive or revoked')
  end
  if f.ca ~= '' then
    hex64(f.ca, 'ca')
  end
  f.from = args[9] ~= '' and unix(args[9], 'not_after_from') or nil
  f.till = args[10] ~= '' and unix(args[10], 'not_after_until') or nil
  return f
end

-- keep tells whether listing row |row| passes every condition of |f| but
-- those its index already guarantees (|skip|).
local function keep(f, row, skip)
  for _, name in ipairs({ 'status', 'ca', 'ou', 'cn', 'serial' }) do
    if f[name] ~= '' and name ~= skip and row[ROW[name]] ~= f[name] then
      return false
    end
  end
  return true
end

-- The lex window of a listing: from the cursor (exclusive) or not_after
-- >= from (inclusive), to not_after < till.
local function window(f)
  local lo, hi = '-', '+'
  if f.from then
    lo = '[' .. tkey(f.from)
  end
  if f.cursor ~= '' and (not f.from or f.cursor >= tkey(f.from)) then
    lo = '(' .. f.cursor
  end
  if f.till then
    hi = '(' .. tkey(f.till)
  end
  return lo, hi
end

-- merge walks the ordered indexes |keys| together in member order from
-- |lo| to |hi|, reading the record of each member, until |f.limit| rows
-- pass |keep| or SCAN_BUDGET members were examined. Returns the rows and
-- the cursor to go on from ('' when nothing is left).
local function merge(P, f, keys, lo, hi, skip)
  local chunk = math.min(f.limit + 1, 64)
  local srcs = {}
  for _, k in ipairs(keys) do
    srcs[#srcs + 1] = { key = k, from = lo, buf = {}, i = 1 }
  end
  local function head(s)
    if s.i > #s.buf then
      if s.done then
        return nil
      end
      s.buf = redis.call('ZRANGE', s.key, s.from, hi, 'BYLEX', 'LIMIT', 0, chunk)
      s.i = 1
      if #s.buf < chunk then
        s.done = true
      end
      if #s.buf == 0 then
        return nil
      end
      s.from = '(' .. s.buf[#s.buf]
    end
    return s.buf[s.i]
  end
  -- Conditions the index does not cover are checked on 3 fields first.
  local checks = (f.status ~= '' and skip ~= 'status') or (f.ca ~= '' and skip ~= 'ca') or
      (f.ou ~= '' and skip ~= 'ou')
  local rows, examined, last = {}, 0, nil
  while #rows < f.limit and examined < SCAN_BUDGET do
    local best, bm = nil, nil
    for _, s in ipairs(srcs) do
      local m = head(s)
      if m and (not bm or m < bm) then
        best, bm = s, m
      end
    end
    if not best then
      return rows, ''
    end
    best.i = best.i + 1
    examined = examined + 1
    last = bm
    local fp = member_fp(bm)
    if not checks or passes(P, f, fp, skip) then
      local row = row_of(P, fp)
      if row and keep(f, row, skip) then
        rows[#rows + 1] = row
      end
    end
  end
  for _, s in ipairs(srcs) do
    if head(s) then
      return rows, tohex(last)
    end
  end
  return rows, ''
end

-- by_name lists the certificates of one CN or serial: a bucket gives the
-- few candidates, sorted and paged here like an ordered index.
local function by_name(P, f, kind, name)
  local b, tag = name_key(name)
  local ms = redis.call('ZRANGE', P .. ':' .. kind .. ':' .. b, '[' .. tag,
    '[' .. tag .. string.rep('\255', 32), 'BYLEX')
  local lo, hi = window(f)
  local cands = {}
  for _, m in ipairs(ms) do
    local fp = tohex(m:sub(7))
    local row = row_of(P, fp)
    if row then
      local key = member(tonumber(row[ROW.na]) or 0, fp)
      local after = lo == '-' or (lo:sub(1, 1) == '[' and key >= lo:sub(2)) or
          (lo:sub(1, 1) == '(' and key > lo:sub(2))
      local before = hi == '+' or key < hi:sub(2)
      if after and before and keep(f, row, nil) then
        cands[#cands + 1] = { key, row }
      end
    end
  end
  table.sort(cands, function(a, c) return a[1] < c[1] end)
  local rows = {}
  for i = 1, math.min(#cands, f.limit) do
    rows[i] = cands[i][2]
  end
  local cursor = #cands > f.limit and tohex(cands[f.limit][1]) or ''
  local total = f.cursor == '' and #cands or -1
  return rows, cursor, total
end

-- cert_list P cursor limit status ca ou cn serial not_after_from
-- not_after_until: one page of certificates matching every non-empty
-- condition, by not_after then fingerprint. Returns {cursor, total, rows...}
-- (total -1 when counting would mean reading more than a page).
local function cert_list(args)
  nargs(args, 10, 'P cursor limit status ca ou cn serial not_after_from not_after_until')
  local P = prefix(args)
  local f = filter_of(args)
  local rows, cursor, total
  if f.cn ~= '' then
    rows, cursor, total = by_name(P, f, 'cx', f.cn)
  elseif f.serial ~= '' then
    rows, cursor, total = by_name(P, f, 'sx', f.serial)
  else
    -- The most selective ordered index among those the filter names (a
    -- count each, O(1)), else every CA's index merged.
    local keys, skip, best = nil, nil, nil
    local named = {}
    if f.status ~= '' and f.status ~= 'active' then
      named[#named + 1] = { P .. ':ix:st:' .. f.status, 'status' }
    end
    if f.ca ~= '' then
      named[#named + 1] = { P .. ':ix:ca:' .. f.ca, 'ca' }
    end
    if f.ou ~= '' then
      named[#named + 1] = { P .. ':ix:ou:' .. f.ou, 'ou' }
    end
    for _, n in ipairs(named) do
      local size = redis.call('ZCARD', n[1])
      if not best or size < best then
        best, keys, skip = size, { n[1] }, n[2]
      end
    end
    if not keys then
      keys = {}
      for _, id in ipairs(redis.call('SMEMBERS', P .. ':ixcas')) do
        keys[#keys + 1] = P .. ':ix:ca:' .. id
      end
      table.sort(keys)
    end
    local lo, hi = window(f)
    rows, cursor = merge(P, f, keys, lo, hi, skip)
    -- A total is given where counters or range counts tell it exactly.
    total = -1
    local others = 0
    for _, name in ipairs({ 'status', 'ca', 'ou' }) do
      if f[name] ~= '' and name ~= skip then
        others = others + 1
      end
    end
    if others == 0 then
      local wlo = f.from and '[' .. tkey(f.from) or '-'
      total = 0
      for _, k in ipairs(keys) do
        total = total + redis.call('ZLEXCOUNT', k, wlo, hi)
      end
    elseif others == 1 and f.status == 'active' and skip == nil and
        not f.from and not f.till then
      total = tonumber(redis.call('HGET', kstats(P), 'active') or '0')
    end
  end
  local out = { cursor, total }
  for _, r in ipairs(rows) do
    out[#out + 1] = r
  end
  return out
end

-- --- id prefixes ---------------------------------------------------------------

-- resolve P ca|cert HEX: the registered ids (and, for certificates,
-- tombstones) starting with HEX (8..64 lowercase hex digits), at most 2.
local function resolve(args)
  nargs(args, 3, 'P ca|cert hex')
  local P = prefix(args)
  local kind, h = args[2], args[3]
  if #h < 8 or #h > 64 or h:find('[^0-9a-f]') then
    fail('INPUT', 'an id prefix is 8..64 lowercase hex digits')
  end
  local out = {}
  if kind == 'ca' then
    for _, id in ipairs(redis.call('SMEMBERS', P .. ':cas')) do
      if id:sub(1, #h) == h and #out < 2 then
        out[#out + 1] = id
      end
    end
    return out
  elseif kind ~= 'cert' then
    fail('INPUT', 'kind must be ca or cert')
  end
  local lo = fpbin(h .. string.rep('0', 64 - #h))
  local hi = fpbin(h .. string.rep('f', 64 - #h))
  for _, m in ipairs(redis.call('ZRANGE', P .. ':fx:' .. h:sub(1, 4), '[' .. lo,
    '[' .. hi, 'BYLEX', 'LIMIT', 0, 2)) do
    out[#out + 1] = tohex(m)
  end
  local tombs = redis.call('HKEYS', tomb_key(P, h))
  for _, k in ipairs(tombs) do
    local fp = tohex(k)
    if #out < 2 and fp:sub(1, #h) == h then
      out[#out + 1] = fp
    end
  end
  return out
end

-- --- CAs ---------------------------------------------------------------------------

local CA_FIELDS = { 'id', 'subject', 'cn', 'serial', 'not_before', 'not_after',
  'status', 'registered_at', 'active_certs' }

local function ca_row(P, id, with_pem)
  local fields = { unpack(CA_FIELDS) }
  if with_pem then
    fields[#fields + 1] = 'pem'
  end
  local v = redis.call('HMGET', kca(P, id), unpack(fields))
  if not v[1] then
    return nil
  end
  local row = {}
  for i = 1, #fields do
    row[i] = v[i] or ''
  end
  -- how many certificates name the CA
  row[#row + 1] = tostring(redis.call('ZCARD', P .. ':ix:ca:' .. id))
  return row
end

local function ca_read(args)
  nargs(args, 2, 'P id')
  local P = prefix(args)
  return ca_row(P, hex64(args[2], 'id'), true) or {}
end

local function ca_list(args)
  nargs(args, 1, 'P')
  local P = prefix(args)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', P .. ':cas')) do
    local row = ca_row(P, id, false)
    if row then
      out[#out + 1] = row
    end
  end
  return out
end

register('mqgate_cert_read', cert_read, true)
register('mqgate_cert_list', cert_list, true)
register('mqgate_resolve', resolve, true)
register('mqgate_ca_read', ca_read, true)
register('mqgate_ca_list', ca_list, true)
