package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts below are every check-then-act of the store, each one atomic
// in Redis. Every key a script touches is passed in KEYS and carries the
// pipeline's (or the KV namespace's) hash tag, so each script runs within
// one Cluster slot.
//
// Data of a pipeline (tag {<prefix>:<pipeline>}):
//
//	:e  hash    everything but the indexes, one field per item:
//	              "#<counter>" the counters and sequences: seq (last entry
//	                     ID), tok (last lease token), ready, pending,
//	                     delayed, inflight, dead, accepted, delivered,
//	                     coalesced, stale
//	              "k<record key>" key state: versions cur, pend and
//	                     delivered (19 digits each), when a delivery was
//	                     last acknowledged (µs, 16 digits), then the
//	                     current and pending entry IDs ("0" if none) as
//	                     "cur|pend"
//	              "r<handle>" an encoded record (opaque to the scripts),
//	                     written by the client (see enqueueScript); a
//	                     handle is unique and never names another record
//	              "s<n>" entry n's state, fixed-width fields (zero-padded
//	                     decimals) then variable ones; by byte position:
//	                     1 st, R (ready), P (pending), Y (delayed), L
//	                     (leased) or M (leased, and a pending version
//	                     waits; so acking or retrying an L entry of a
//	                     version need not read the key state); 2-17 at, the due time (Y) or lease
//	                     expiry (L, M); 18-31 token; 32-37 the owner's
//	                     length; 38-47 attempt; 48-61 seq, the queue
//	                     position; 62-80 version; 81-96 enqueued; 97-100
//	                     the length of handle and key; 101-102 the
//	                     handle's length; then the handle, key, last retry
//	                     reason and owner
//	              "d<n>" dead letter n's details "attempts|at|version|
//	                     enqueued|handle|len|" + key + "len|" + reason +
//	                     field (a dead letter keeps its record)
//	:r  zset    ready entries, scored by queue position
//	:y  zset    delayed entries, scored by due time (unix µs)
//	:i  zset    leased entries, scored by lease expiry (unix µs)
//	:d  zset    dead letters, scored by ID
//	:c  hash    source → checkpoint
//	:l  hash    source → leadership "token|expiry µs|owner"
//
// Times come from the server's clock (TIME), in microseconds, which Lua's
// doubles hold exactly; in entry states they are 16 digits, and expiries
// are capped below 9·10^15. Versions are 19-digit zero-padded strings
// compared as strings, since doubles cannot hold every int64. Counters and
// IDs stay far below 10^14, where Lua's number-to-string conversion is
// exact. Tokens and due times come from the client zero-padded as stored.
//
// Cost model (measured on the 2-core test machine): each redis.call costs
// a few µs of Redis CPU, each hash field read into or written from Lua
// about 0.3 µs, each KB moved into Lua 1-2 µs (Redis's Lua hashes every
// byte of a string), a string.match over an entry state about 2 µs,
// string.sub about 0.1 µs, a number formatted 0.3-0.8 µs. So records never
// pass through Lua: the client writes them in the enqueue transaction and
// reads them after a lease; entry states are read by position and
// rewritten from their own substrings. The queue scripts read everything
// they need with one or two HMGETs of the entries hash, work on a Lua
// cache, and write back with one HSET (and HDEL) plus one command per
// changed index: a handful of calls whatever the batch size. Writes are
// collected in lists and applied sets first, then deletions: since entry
// IDs and handles are never reused, no field or member is deleted and then
// set again within a call, so that order gives the final state.

// prelude holds the helpers shared by the queue scripts. E is the entries
// hash, the first key of every queue script.
const prelude = `
local sub, find, len, format = string.sub, string.find, string.len, string.format
local ZERO = '0000000000000000000'
local Z16 = '0000000000000000'
local Z14 = '00000000000000'
local Z10 = '0000000000'
local E = KEYS[1]
local function now_us()
  local t = redis.call('TIME')
  return format('%016d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
-- after returns the time ttl µs after now, capped where doubles are still
-- exact and 16 digits hold it.
local function after(now, ttl)
  return format('%016d', math.min(tonumber(now) + tonumber(ttl), 9000000000000000))
end
local function hmget(fields)
  local out = {}
  local n = #fields
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    local v = redis.call('HMGET', E, unpack(fields, i, j))
    for x = 1, j - i + 1 do out[i + x - 1] = v[x] end
    i = j + 1
  end
  return out
end
-- bulk runs cmd on key with list as arguments, in chunks (Lua's stack
-- bounds unpack); list must hold whole pairs for pair commands.
local function bulk(cmd, key, list)
  local n = #list
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end

-- The cache of the entries hash: values are strings, or false for absent.
-- SET and DEL collect the writes for flush.
local HC, SET, DEL = {}, {}, {}
local function want(list, f)
  if HC[f] == nil then
    HC[f] = false
    list[#list + 1] = f
  end
end
local function fetch(list)
  if #list > 0 then
    local v = hmget(list)
    for i, f in ipairs(list) do HC[f] = v[i] end
  end
end
local function hget(f)
  local v = HC[f]
  if v == nil then
    v = redis.call('HGET', E, f)
    HC[f] = v
  end
  return v
end
local function hset(f, v)
  HC[f] = v
  SET[#SET + 1] = f
  SET[#SET + 1] = v
end
local function hdel(f)
  HC[f] = false
  DEL[#DEL + 1] = f
end
-- Sorted set changes, per key: members to add (score, member pairs) and
-- members to remove.
local ZA, ZR = {}, {}
local function zadd(k, member, score)
  local z = ZA[k]
  if not z then
    z = {}
    ZA[k] = z
  end
  z[#z + 1] = score
  z[#z + 1] = member
end
local function zrem(k, member)
  local z = ZR[k]
  if not z then
    z = {}
    ZR[k] = z
  end
  z[#z + 1] = member
end

-- Counters. The sequences (entry IDs, lease tokens) are read from the
-- cache (want_meta before the fetch) and written back; the others only
-- change by what a call adds, applied with HINCRBY, so no call reads them.
local SEQS = {'#seq', '#tok'}
local COUNTS = {'#ready', '#pending', '#delayed', '#inflight', '#dead', '#accepted', '#delivered', '#coalesced', '#stale'}
local function want_meta(list)
  for _, f in ipairs(SEQS) do want(list, f) end
end
local function meta()
  local m = {}
  for _, f in ipairs(SEQS) do m[f] = tonumber(hget(f)) or 0 end
  for _, f in ipairs(COUNTS) do m[f] = 0 end
  return m
end
local function save_meta(m)
  for _, f in ipairs(SEQS) do
    local v = format('%d', m[f])
    if v ~= (HC[f] or '0') then hset(f, v) end
  end
  for _, f in ipairs(COUNTS) do
    if m[f] ~= 0 then redis.call('HINCRBY', E, f, m[f]) end
  end
end

-- Key states: cur (current entry ID, '0' if none) and its version cv,
-- pend (pending entry ID, '0' if none) and its version pv, del (newest
-- delivered version) and at (when a delivery was last acknowledged, µs).
-- Decoded once per call, encoded by flush.
local KS, KD = {}, {}
-- parse_ks decodes a stored key state. States written before at was kept
-- have the IDs right after del (an ID has at most 14 digits, so their '|'
-- comes before 75) and count as delivered at 0.
local function parse_ks(s)
  local p = find(s, '|', 59, true)
  if not p then error('weir: corrupt key state') end
  local at, c = Z16, 58
  if p >= 75 then at, c = sub(s, 58, 73), 74 end
  return {cv = sub(s, 1, 19), pv = sub(s, 20, 38), del = sub(s, 39, 57),
    at = at, cur = sub(s, c, p - 1), pend = sub(s, p + 1)}
end
local function ks_of(key)
  local ks = KS[key]
  if not ks then
    local s = hget('k' .. key)
    if s then
      ks = parse_ks(s)
    else
      ks = {cur = '0', cv = ZERO, pend = '0', pv = ZERO, del = ZERO, at = Z16}
    end
    KS[key] = ks
  end
  return ks
end
local function newest(ks)
  local n = ks.del
  if ks.cv > n then n = ks.cv end
  if ks.pv > n then n = ks.pv end
  return n
end
-- want_entries asks for the states of the current and pending entries of
-- the given record keys, whose key states must be fetched already.
local function want_entries(list, keys)
  for _, key in ipairs(keys) do
    local ks = ks_of(key)
    if ks.cur ~= '0' then want(list, 's' .. ks.cur) end
    if ks.pend ~= '0' then want(list, 's' .. ks.pend) end
  end
end

-- flush writes every changed key state, field and index member.
local function flush()
  for key in pairs(KD) do
    local ks = KS[key]
    if ks.cur == '0' and ks.pend == '0' and ks.del == ZERO then
      hdel('k' .. key)
    else
      hset('k' .. key, ks.cv .. ks.pv .. ks.del .. ks.at .. ks.cur .. '|' .. ks.pend)
    end
  end
  if #SET > 0 then bulk('HSET', E, SET) end
  if #DEL > 0 then bulk('HDEL', E, DEL) end
  for k, z in pairs(ZA) do bulk('ZADD', k, z) end
  for k, z in pairs(ZR) do bulk('ZREM', k, z) end
end

-- Entry states (see the layout above) are read by position. handle_key
-- returns an entry's record handle and key, and the length of both.
local function handle_key(s, id)
  local hk, hl = tonumber(sub(s, 97, 100)), tonumber(sub(s, 101, 102))
  if not (hk and hl) or len(s) < 102 + hk then error('weir: corrupt state of entry ' .. id) end
  return sub(s, 103, 102 + hl), sub(s, 103 + hl, 102 + hk), hk
end
-- held reports whether s is leased with the token and owner length tol
-- (14 and 6 digits) by owner own (last in the state).
local function held(s, own, tol)
  local st = sub(s, 1, 1)
  return (st == 'L' or st == 'M') and sub(s, 18, 37) == tol and sub(s, -len(own)) == own
end
-- drop_entry deletes an entry and its record; h is the record's handle,
-- read from the entry's state if nil.
local function drop_entry(id, h)
  if not h then
    local s = hget('s' .. id)
    if not s then error('weir: missing entry ' .. id) end
    h = handle_key(s, id)
  end
  hdel('s' .. id)
  hdel('r' .. h)
end

-- promote makes the key's pending entry current and ready, at its own
-- queue position. A pending entry has no time, token, attempt, owner or
-- reason, so only st changes.
local function promote(R, m, ks)
  local pid = ks.pend
  if pid == '0' then return end
  local s = hget('s' .. pid)
  if not s then error('weir: missing pending entry ' .. pid) end
  if sub(s, 1, 1) ~= 'P' then error('weir: corrupt pending entry ' .. pid) end
  zadd(R, pid, sub(s, 48, 61))
  hset('s' .. pid, 'R' .. sub(s, 2))
  m['#pending'] = m['#pending'] - 1
  m['#ready'] = m['#ready'] + 1
  ks.cur, ks.cv, ks.pend, ks.pv = pid, ks.pv, '0', ZERO
end

-- A record's tail is the end of a new entry's state from position 97:
-- lengths, handle and key.
local function tail_handle(tail)
  return sub(tail, 7, 6 + tonumber(sub(tail, 5, 6)))
end

-- enqueue accepts one record version, whose state tail names its record
-- r<handle>, or drops it as stale (and the record with it, if drop); it
-- returns accepted (0/1) and coalesced (0/1).
local function enqueue(R, D, m, key, ver, tail, now, drop)
  local ks = ks_of(key)
  if ver ~= ZERO and ver <= newest(ks) then
    m['#stale'] = m['#stale'] + 1
    if drop then hdel('r' .. tail_handle(tail)) end
    return 0, 0
  end
  m['#seq'] = m['#seq'] + 1
  local sid = format('%d', m['#seq'])
  local st, seq, at = 'R', format('%014d', m['#seq']), Z16
  local co = 0
  if ks.cur == '0' then
    zadd(R, sid, seq)
    m['#ready'] = m['#ready'] + 1
    ks.cur, ks.cv = sid, ver
  elseif ks.pend ~= '0' then
    -- The current entry is leased: the newest pending version wins.
    drop_entry(ks.pend)
    co = 1
    st = 'P'
    ks.pend, ks.pv = sid, ver
  else
    local old = ks.cur
    local s = hget('s' .. old)
    if not s then error('weir: missing entry ' .. old) end
    local cst = sub(s, 1, 1)
    if cst == 'L' or cst == 'M' then
      -- The leased entry is marked: a version waits behind it.
      hset('s' .. old, 'M' .. sub(s, 2))
      st = 'P'
      m['#pending'] = m['#pending'] + 1
      ks.pend, ks.pv = sid, ver
    elseif cst == 'R' then
      -- Replace in place, keeping the queue position.
      seq = sub(s, 48, 61)
      zrem(R, old)
      zadd(R, sid, seq)
      co = 1
      ks.cur, ks.cv = sid, ver
    elseif cst == 'Y' then
      -- Replace in place, keeping the retry time.
      st, seq, at = 'Y', sub(s, 48, 61), sub(s, 2, 17)
      zrem(D, old)
      zadd(D, sid, at)
      co = 1
      ks.cur, ks.cv = sid, ver
    else
      error('weir: corrupt current entry ' .. old)
    end
    if st ~= 'P' then drop_entry(old) end
  end
  hset('s' .. sid, st .. at .. Z14 .. '000000' .. Z10 .. seq .. ver .. now .. tail)
  KD[key] = true
  m['#accepted'] = m['#accepted'] + 1
  m['#coalesced'] = m['#coalesced'] + co
  return 1, co
end
`

// enqueueScript stores groups of records, each group the records of one
// Enqueue call, with its checkpoint. The encoded records are written as
// r<handle> fields before it, in the same transaction, so that they never
// pass through Lua; it deletes those of stale records and of groups that
// fail the leadership check.
//
// KEYS: entries, ready, delayed, checkpoints, leaders.
// ARGV: number of groups, then per group: record count, has checkpoint
// ("0"/"1"), source, checkpoint value, leadership token ("0": no check),
// then per record: key, version string, state tail (see enqueue).
// Returns per group: status ("0" ok, "1" not leader), accepted, coalesced,
// stale.
var enqueueScript = goredis.NewScript(prelude + `
local R, D = KEYS[2], KEYS[3]
local groups = tonumber(ARGV[1])
-- Check every group's leadership token first, then read the sequences and
-- the key states of the records of the groups that pass, then their
-- entries.
local ok, keys, list = {}, {}, {}
want_meta(list)
local a = 2
for g = 1, groups do
  local n, tok = tonumber(ARGV[a]), ARGV[a + 4]
  ok[g] = true
  if tok ~= '0' then
    local l = redis.call('HGET', KEYS[5], ARGV[a + 2])
    ok[g] = l and string.match(l, '^(%d+)|') == tok
  end
  a = a + 5
  if ok[g] then
    for i = 0, n - 1 do
      local key = ARGV[a + 3 * i]
      keys[#keys + 1] = key
      want(list, 'k' .. key)
    end
  end
  a = a + 3 * n
end
fetch(list)
list = {}
want_entries(list, keys)
fetch(list)
local m = meta()
local now = now_us()
local out = {}
local dirty = false
a = 2
for g = 1, groups do
  local n, hascp, src, val = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 5
  dirty = true
  if ok[g] then
    local acc, co = 0, 0
    for i = 1, n do
      local x, c = enqueue(R, D, m, ARGV[a], ARGV[a + 1], ARGV[a + 2], now, true)
      acc = acc + x
      co = co + c
      a = a + 3
    end
    if hascp == '1' then redis.call('HSET', KEYS[4], src, val) end
    out[#out + 1] = '0'
    out[#out + 1] = format('%d', acc)
    out[#out + 1] = format('%d', co)
    out[#out + 1] = format('%d', n - acc)
  else
    for i = 1, n do
      hdel('r' .. tail_handle(ARGV[a + 2]))
      a = a + 3
    end
    out[#out + 1] = '1'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
if dirty then
  save_meta(m)
  flush()
end
return out
`)

// leaseScript promotes due retries, then leases expired leases and ready
// entries.
//
// KEYS: entries, ready, delayed, inflight.
// ARGV: owner, max, ttl (µs), promotion limit.
// Returns the expiry (µs), then per lease: ID and the entry's new state,
// from which the caller reads attempt, token, enqueue time, record handle
// and last error, and then the record (r<handle>), so that records never
// pass through Lua.
var leaseScript = goredis.NewScript(prelude + `
local R, D, F = KEYS[2], KEYS[3], KEYS[4]
local owner, max = ARGV[1], tonumber(ARGV[2])
local now = now_us()
local exp = after(now, ARGV[3])
local ol = format('%06d', len(owner))
-- Due retries join the ready index at their queue position; the index is
-- written at once so that the ready range below sees them. A delayed
-- entry has no token or owner.
local due = redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', '0', ARGV[4])
local list = {}
want_meta(list)
if #due > 0 then
  for _, id in ipairs(due) do want(list, 's' .. id) end
  fetch(list)
  list = {}
  local za = {}
  for _, id in ipairs(due) do
    local s = HC['s' .. id]
    if not s or sub(s, 1, 1) ~= 'Y' then error('weir: corrupt delayed entry ' .. id) end
    hset('s' .. id, 'R' .. Z16 .. sub(s, 18))
    za[#za + 1] = sub(s, 48, 61)
    za[#za + 1] = id
  end
  bulk('ZADD', R, za)
  bulk('ZREM', D, due)
end
local ids = redis.call('ZRANGEBYSCORE', F, '-inf', now, 'LIMIT', '0', ARGV[2])
local nexp = #ids
if nexp < max then
  -- The first ready entries are leased, so they leave the index by rank.
  local r = redis.call('ZRANGE', R, '0', format('%d', max - nexp - 1))
  if #r > 0 then redis.call('ZREMRANGEBYRANK', R, '0', format('%d', #r - 1)) end
  for _, id in ipairs(r) do ids[#ids + 1] = id end
end
if #ids == 0 and #due == 0 then return {exp} end
for _, id in ipairs(ids) do want(list, 's' .. id) end
fetch(list)
local m = meta()
m['#delayed'] = m['#delayed'] - #due
m['#ready'] = m['#ready'] + #due
local out = {exp}
local o = 2
for i, id in ipairs(ids) do
  local sf = 's' .. id
  local s = HC[sf] or ''
  local st = sub(s, 1, 1)
  if i <= nexp then
    if st ~= 'L' and st ~= 'M' then error('weir: corrupt leased entry ' .. id) end
  else
    if st ~= 'R' then error('weir: corrupt ready entry ' .. id) end
    st = 'L'
  end
  -- Only an expired lease has an owner, which goes.
  local rest = i <= nexp and sub(s, 48, len(s) - tonumber(sub(s, 32, 37))) or sub(s, 48)
  m['#tok'] = m['#tok'] + 1
  local ns = st .. exp .. format('%014d', m['#tok']) .. ol .. format('%010d', tonumber(sub(s, 38, 47)) + 1) .. rest .. owner
  hset(sf, ns)
  zadd(F, id, exp)
  out[o], out[o + 1] = id, ns
  o = o + 2
end
m['#ready'] = m['#ready'] - (#ids - nexp)
m['#inflight'] = m['#inflight'] + (#ids - nexp)
save_meta(m)
flush()
return out
`)

// renewScript extends leases still held.
//
// KEYS: entries, inflight.
// ARGV: ttl (µs), then per lease: ID, owner, token and owner length (14
// and 6 digits).
// Returns the new expiry (µs), then the 1-based positions of lost leases.
var renewScript = goredis.NewScript(prelude + `
local exp = after(now_us(), ARGV[1])
local out = {exp}
local list = {}
for i = 2, #ARGV, 3 do want(list, 's' .. ARGV[i]) end
fetch(list)
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local s = HC['s' .. id]
  if s and held(s, ARGV[i + 1], ARGV[i + 2]) then
    hset('s' .. id, sub(s, 1, 1) .. exp .. sub(s, 18))
    zadd(KEYS[2], id, exp)
  else
    out[#out + 1] = format('%d', (i + 1) / 3)
  end
end
flush()
return out
`)

// settleScript applies outcomes, each fenced on its own.
//
// KEYS: entries, ready, delayed, inflight, dead.
// ARGV per outcome: kind ("A" acked, "R" retried, "D" dead-lettered), ID,
// owner, token and owner length (14 and 6 digits), then unless acked: due
// time (µs, 16 digits), reason, field.
// Returns the 1-based positions of lost leases.
var settleScript = goredis.NewScript(prelude + `
local R, D, F, X = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Outcome i starts at ARGV[B[i]]: kind, ID, owner, token, then for kinds
-- other than A: due time, reason, field.
local B = {}
local b, nargs = 1, #ARGV
while b <= nargs do
  B[#B + 1] = b
  if ARGV[b] == 'A' then b = b + 4 else b = b + 7 end
end
local list = {}
want_meta(list)
for _, b in ipairs(B) do want(list, 's' .. ARGV[b + 1]) end
fetch(list)
-- Fence every outcome: the entry must be leased by this owner with this
-- token. Only some outcomes need the key's state (see below): read it, and
-- the keys' pending entries, ahead for those.
local HK, H, K, keys = {}, {}, {}, {}
list = {}
for i, b in ipairs(B) do
  local id = ARGV[b + 1]
  local s = HC['s' .. id]
  if s and held(s, ARGV[b + 2], ARGV[b + 3]) then
    local h, key, hk = handle_key(s, id)
    HK[i], H[i], K[i] = hk, h, key
    local kind = ARGV[b]
    if sub(s, 1, 1) == 'M' or kind == 'D' or (kind == 'A' and sub(s, 62, 80) == ZERO) then
      want(list, 'k' .. key)
      keys[#keys + 1] = key
    end
  end
end
fetch(list)
list = {}
want_entries(list, keys)
fetch(list)
local m = meta()
local now
local lost = {}
for i, b in ipairs(B) do
  local kind, id = ARGV[b], ARGV[b + 1]
  local sf = 's' .. id
  local s = HC[sf]
  local st = s and sub(s, 1, 1)
  -- An earlier outcome of this call may have settled the same lease.
  if HK[i] and (st == 'L' or st == 'M') then
    local key = K[i]
    local ver = sub(s, 62, 80)
    zrem(F, id)
    m['#inflight'] = m['#inflight'] - 1
    if st == 'L' and kind == 'A' and ver ~= ZERO and not KS[key] then
      -- No version waits (L) and the entry's version is newer than any
      -- delivered (else it had been stale): the key state is just that.
      now = now or now_us()
      KS[key] = {cur = '0', cv = ZERO, pend = '0', pv = ZERO, del = ver, at = now}
      KD[key] = true
      m['#delivered'] = m['#delivered'] + 1
      drop_entry(id, H[i])
    elseif st == 'L' and kind == 'R' then
      -- The entry stays the key's current one: the key state is unchanged.
      local due = ARGV[b + 4]
      hset(sf, 'Y' .. due .. Z14 .. '000000' .. sub(s, 38, 102 + HK[i]) .. ARGV[b + 5])
      zadd(D, id, due)
      m['#delayed'] = m['#delayed'] + 1
    else
      local ks = ks_of(key)
      if ks.cur ~= id then error('weir: corrupt key state for entry ' .. id) end
      KD[key] = true
      if kind == 'A' then
        if ver > ks.del then ks.del = ver end
        now = now or now_us()
        ks.at = now
        m['#delivered'] = m['#delivered'] + 1
        drop_entry(id, H[i])
        ks.cur, ks.cv = '0', ZERO
        promote(R, m, ks)
      elseif kind == 'R' then
        -- A newer version arrived meanwhile (M): it takes the retry slot.
        local due = ARGV[b + 4]
        local tid = ks.pend
        if tid == '0' then error('weir: corrupt key state for entry ' .. id) end
        drop_entry(id, H[i])
        m['#coalesced'] = m['#coalesced'] + 1
        m['#pending'] = m['#pending'] - 1
        local ps = hget('s' .. tid)
        if not ps then error('weir: missing pending entry ' .. tid) end
        if sub(ps, 1, 1) ~= 'P' then error('weir: corrupt pending entry ' .. tid) end
        hset('s' .. tid, 'Y' .. due .. sub(ps, 18))
        ks.cur, ks.cv, ks.pend, ks.pv = ks.pend, ks.pv, '0', ZERO
        zadd(D, tid, due)
        m['#delayed'] = m['#delayed'] + 1
      else
        now = now or now_us()
        local reason = ARGV[b + 5]
        hset('d' .. id, sub(s, 38, 47) .. '|' .. now .. '|' .. ver .. '|' .. sub(s, 81, 96) .. '|' .. H[i] .. '|' ..
          len(key) .. '|' .. key .. len(reason) .. '|' .. reason .. ARGV[b + 6])
        hdel(sf)
        zadd(X, id, id)
        m['#dead'] = m['#dead'] + 1
        ks.cur, ks.cv = '0', ZERO
        promote(R, m, ks)
      end
    end
  else
    lost[#lost + 1] = format('%d', i)
  end
end
save_meta(m)
flush()
return lost
`)

// deadLettersScript reads a page of dead letters.
//
// KEYS: entries, dead. ARGV: after (ID, "0" to start), limit.
// Returns per dead letter: ID, details, encoded record.
var deadLettersScript = goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'LIMIT', '0', ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local d = redis.call('HGET', KEYS[1], 'd' .. id)
  local h = d and string.match(d, '^%d+|%d+|%d+|%d+|([^|]+)|')
  local r = h and redis.call('HGET', KEYS[1], 'r' .. h)
  if r then
    out[#out + 1] = id
    out[#out + 1] = d
    out[#out + 1] = r
  end
end
return out
`)

// replayScript enqueues dead letters again.
//
// KEYS: entries, ready, delayed, dead.
// ARGV: mode ("ids" or "all"), after (for "all"), chunk size (for "all"),
// then the IDs (for "ids").
// Returns: more ("1" if "all" may have more), the last ID looked at,
// replayed count, stale count, the stale IDs, then the missing IDs.
var replayScript = goredis.NewScript(prelude + `
local R, D, X = KEYS[2], KEYS[3], KEYS[4]
local ids, more, last = {}, '0', ''
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGEBYSCORE', X, '(' .. ARGV[2], '+inf', 'LIMIT', '0', ARGV[3])
  if #ids == tonumber(ARGV[3]) then more = '1' end
  last = ids[#ids] or ''
else
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local list = {}
want_meta(list)
for _, id in ipairs(ids) do want(list, 'd' .. id) end
fetch(list)
local m = meta()
local now = now_us()
local rep, stale, missing = 0, {}, {}
for _, id in ipairs(ids) do
  local dl = HC['d' .. id]
  if not dl then
    missing[#missing + 1] = id
  else
    local ver, h, n, p = string.match(dl, '^%d+|%d+|(%d+)|%d+|([^|]+)|(%d+)|()')
    if not ver then error('weir: corrupt dead letter ' .. id) end
    local key = string.sub(dl, p, p + tonumber(n) - 1)
    if ver ~= ZERO and ver <= newest(ks_of(key)) then
      stale[#stale + 1] = id
    else
      -- The new entry takes over the dead letter's record.
      hdel('d' .. id)
      zrem(X, id)
      m['#dead'] = m['#dead'] - 1
      enqueue(R, D, m, key, ver, string.format('%04d%02d', string.len(h) + string.len(key), string.len(h)) .. h .. key, now, false)
      rep = rep + 1
    end
  end
end
if rep > 0 then
  save_meta(m)
  flush()
end
local out = {more, last, string.format('%d', rep), string.format('%d', #stale)}
for _, id in ipairs(stale) do out[#out + 1] = id end
for _, id in ipairs(missing) do out[#out + 1] = id end
return out
`)

// dropScript deletes dead letters.
//
// KEYS: entries, dead.
// ARGV: mode ("ids" or "all"), after, chunk size, then the IDs.
// Returns: more, last ID looked at, dropped count.
var dropScript = goredis.NewScript(`
local ids, more, last = {}, '0', ''
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf', 'LIMIT', '0', ARGV[3])
  if #ids == tonumber(ARGV[3]) then more = '1' end
  last = ids[#ids] or ''
else
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[2], id) == 1 then
    local d = redis.call('HGET', KEYS[1], 'd' .. id)
    local h = d and string.match(d, '^%d+|%d+|%d+|%d+|([^|]+)|')
    if h then
      redis.call('HDEL', KEYS[1], 'd' .. id, 'r' .. h)
    else
      redis.call('HDEL', KEYS[1], 'd' .. id)
    end
    n = n + 1
  end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], '#dead', -n) end
return {more, last, string.format('%d', n)}
`)

// leadScript acquires or renews a source's leadership.
//
// KEYS: leaders. ARGV: source, owner, ttl (µs).
// Returns {token} on success, or {"0", holder, expiry µs}.
var leadScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local tok = 1
if cur then
  local ct, exp, p = string.match(cur, '^(%d+)|(%d+)|()')
  if not ct then error('weir: corrupt leadership') end
  local own = string.sub(cur, p)
  ct, exp = tonumber(ct), tonumber(exp)
  if exp > now then
    if own ~= ARGV[2] then return {'0', own, string.format('%d', exp)} end
    tok = ct
  else
    tok = ct + 1
  end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d|%d|', tok, now + tonumber(ARGV[3])) .. ARGV[2])
return {string.format('%d', tok)}
`)

// casScript is CompareAndSwap on one key; a swapped-in value keeps the
// remaining expiry.
//
// KEYS: the key. ARGV: has old ("0"/"1"), old, has new ("0"/"1"), new.
var casScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif not cur or cur ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif cur then
  redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[4])
end
return 1
`)

// forgetScript removes the key states of keys with no current or pending
// entry whose last acknowledged delivery is at least olderThan old, among
// the fields one HSCAN step returns.
//
// KEYS: entries.
// ARGV: HSCAN cursor, COUNT, olderThan (µs).
// Returns the next cursor ("0" when the scan is done) and how many key
// states it removed.
var forgetScript = goredis.NewScript(prelude + `
local before = format('%016d', math.max(tonumber(now_us()) - tonumber(ARGV[3]), 0))
local r = redis.call('HSCAN', E, ARGV[1], 'MATCH', 'k*', 'COUNT', ARGV[2])
local kv, del = r[2], {}
for i = 1, #kv, 2 do
  local ks = parse_ks(kv[i + 1])
  if ks.cur == '0' and ks.pend == '0' and ks.at <= before then
    del[#del + 1] = kv[i]
  end
end
bulk('HDEL', E, del)
return {r[1], #del}
`)
