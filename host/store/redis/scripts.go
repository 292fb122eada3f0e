package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts below are every check-then-act of the store, each one atomic
// in Redis. Every key a script touches is passed in KEYS and carries the
// pipeline's (or the KV namespace's) hash tag, so each script runs within
// one Cluster slot.
//
// Data of a pipeline (tag {<prefix>:<pipeline>}):
//
//	:m  hash    counters and sequences: seq (last entry ID), tok (last
//	            lease token), ready, pending, delayed, inflight, dead,
//	            accepted, delivered, coalesced, stale
//	:e  hash    per entry ID n:
//	              "h<n>" header, written once: "version|enqueued µs|key"
//	              "r<n>" the encoded record (opaque to the scripts)
//	              "s<n>" state "st|seq|attempt|at|token|owner": st is R
//	                     (ready), P (pending), Y (delayed) or L (leased);
//	                     seq the queue position; at the due time (Y) or
//	                     lease expiry (L), in µs
//	              "x<n>" the last retry reason, if any
//	              "d<n>" dead-letter details "attempts|at µs|len|reason" +
//	                     field (then s<n> is gone)
//	:k  hash    record key → key state "cur|curVer|pend|pendVer|delivered"
//	:r  zset    ready entries, scored by queue position
//	:y  zset    delayed entries, scored by due time (unix µs)
//	:i  zset    leased entries, scored by lease expiry (unix µs)
//	:d  zset    dead letters, scored by ID
//	:c  hash    source → checkpoint
//	:l  hash    source → leadership "token|expiry µs|owner"
//
// Times come from the server's clock (TIME), in microseconds, which Lua's
// doubles hold exactly; they travel as decimal strings. Versions are
// 19-digit zero-padded strings compared as strings, since doubles cannot
// hold every int64. Counters and IDs stay far below 10^14, where Lua's
// number-to-string conversion is exact.
//
// The queue scripts read through and write back a cache of the hash fields,
// key states and sorted set members they touch (prefetched with one HMGET
// per hash, written with one HSET, HDEL, ZADD or ZREM per key at the end),
// so a call costs a handful of Redis commands whatever the batch size, and
// keep per-record Lua work small: Lua runs at roughly 0.1 µs per operation.

// prelude holds the helpers shared by the queue scripts.
const prelude = `
local ZERO = '0000000000000000000'
local function now_us()
  local t = redis.call('TIME')
  return string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end

-- Counters.
local MF = {'seq', 'tok', 'ready', 'pending', 'delayed', 'inflight', 'dead', 'accepted', 'delivered', 'coalesced', 'stale'}
local function load_meta(k)
  local v = redis.call('HMGET', k, unpack(MF))
  local m = {}
  for i, f in ipairs(MF) do m[f] = tonumber(v[i]) or 0 end
  return m
end
local function save_meta(k, m)
  local a = {}
  for _, f in ipairs(MF) do
    a[#a + 1] = f
    a[#a + 1] = tostring(m[f])
  end
  redis.call('HSET', k, unpack(a))
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
local function hmget(key, fields)
  local out = {}
  local n = #fields
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    local v = redis.call('HMGET', key, unpack(fields, i, j))
    for x = 1, j - i + 1 do out[i + x - 1] = v[x] end
    i = j + 1
  end
  return out
end

-- The cache of the entries hash: values are strings, or false for absent.
local HC, HD, ZD = {}, {}, {}
local function prefetch(k, fields)
  local need = {}
  for _, f in ipairs(fields) do
    if HC[f] == nil then
      HC[f] = false
      need[#need + 1] = f
    end
  end
  if #need > 0 then
    local v = hmget(k, need)
    for i, f in ipairs(need) do HC[f] = v[i] end
  end
end
local function hget(k, f)
  local v = HC[f]
  if v == nil then
    v = redis.call('HGET', k, f)
    HC[f] = v
  end
  return v
end
local function hset(f, v)
  HC[f] = v
  HD[f] = true
end
local function hdel(f)
  HC[f] = false
  HD[f] = true
end
-- Sorted set members map to a score string, or false for removed.
local function zset(k, member, score)
  local z = ZD[k]
  if not z then
    z = {}
    ZD[k] = z
  end
  z[member] = score
end

-- Key states: cur (current entry ID, '0' if none) and its version cv,
-- pend (pending entry ID, '0' if none) and its version pv, del (newest
-- delivered version).
local KS, KD = {}, {}
local function dec_ks(s)
  if not s then return {cur = '0', cv = ZERO, pend = '0', pv = ZERO, del = ZERO} end
  local a, b, c, d, e = string.match(s, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$')
  if not a then error('weir: corrupt key state') end
  return {cur = a, cv = b, pend = c, pv = d, del = e}
end
local function prefetch_ks(K, keys)
  local need = {}
  for _, key in ipairs(keys) do
    if KS[key] == nil then
      KS[key] = false
      need[#need + 1] = key
    end
  end
  if #need > 0 then
    local v = hmget(K, need)
    for i, key in ipairs(need) do KS[key] = dec_ks(v[i]) end
  end
end
local function ks_of(K, key)
  local ks = KS[key]
  if not ks then
    ks = dec_ks(redis.call('HGET', K, key))
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

-- flush writes every changed field, key state and member.
local function flush(E, K)
  local set, del = {}, {}
  for f in pairs(HD) do
    local v = HC[f]
    if v then
      set[#set + 1] = f
      set[#set + 1] = v
    else
      del[#del + 1] = f
    end
  end
  if #set > 0 then bulk('HSET', E, set) end
  if #del > 0 then bulk('HDEL', E, del) end
  if K then
    set, del = {}, {}
    for key in pairs(KD) do
      local ks = KS[key]
      if ks.cur == '0' and ks.pend == '0' and ks.del == ZERO then
        del[#del + 1] = key
      else
        set[#set + 1] = key
        set[#set + 1] = ks.cur .. '|' .. ks.cv .. '|' .. ks.pend .. '|' .. ks.pv .. '|' .. ks.del
      end
    end
    if #set > 0 then bulk('HSET', K, set) end
    if #del > 0 then bulk('HDEL', K, del) end
  end
  for k, z in pairs(ZD) do
    local add, rem = {}, {}
    for member, score in pairs(z) do
      if score then
        add[#add + 1] = score
        add[#add + 1] = member
      else
        rem[#rem + 1] = member
      end
    end
    if #add > 0 then bulk('ZADD', k, add) end
    if #rem > 0 then bulk('ZREM', k, rem) end
  end
end

-- Entry state "st|seq|attempt|at|token|owner".
local function dec_s(s, id)
  local st, seq, att, at, tok, own = string.match(s, '^(%a)|(%d+)|(%d+)|(%d+)|(%d+)|(.*)$')
  if not st then error('weir: corrupt state of entry ' .. id) end
  return st, seq, att, at, tok, own
end
-- Entry header "version|enqueued|key".
local function dec_h(h, id)
  local ver, enq, key = string.match(h, '^(%d+)|(%d+)|(.*)$')
  if not ver then error('weir: corrupt header of entry ' .. id) end
  return ver, enq, key
end
local function drop_entry(id)
  hdel('s' .. id)
  hdel('r' .. id)
  hdel('h' .. id)
  hdel('x' .. id)
end
-- prefetch_keys loads the key states of the given record keys, then the
-- states of their current and pending entries.
local function prefetch_keys(E, K, keys)
  prefetch_ks(K, keys)
  local f = {}
  for _, key in ipairs(keys) do
    local ks = KS[key]
    if ks.cur ~= '0' then f[#f + 1] = 's' .. ks.cur end
    if ks.pend ~= '0' then f[#f + 1] = 's' .. ks.pend end
  end
  prefetch(E, f)
end

-- promote makes the key's pending entry current and ready, at its own
-- queue position.
local function promote(E, R, m, ks)
  local pid = ks.pend
  if pid == '0' then return end
  local s = hget(E, 's' .. pid)
  if not s then error('weir: missing pending entry ' .. pid) end
  local st, seq = dec_s(s, pid)
  if st ~= 'P' then error('weir: corrupt pending entry ' .. pid) end
  zset(R, pid, seq)
  hset('s' .. pid, 'R|' .. seq .. '|0|0|0|')
  m.pending = m.pending - 1
  m.ready = m.ready + 1
  ks.cur, ks.cv, ks.pend, ks.pv = pid, ks.pv, '0', ZERO
end

-- enqueue accepts one record version or drops it as stale; it returns
-- accepted (0/1) and coalesced (0/1). C holds the keys E, K, R, D.
local function enqueue(C, m, key, ver, rec, now)
  local ks = ks_of(C.K, key)
  if ver ~= ZERO and ver <= newest(ks) then
    m.stale = m.stale + 1
    return 0, 0
  end
  m.seq = m.seq + 1
  local sid = tostring(m.seq)
  local st, seq, at = 'R', sid, '0'
  local co = 0
  if ks.cur == '0' then
    zset(C.R, sid, sid)
    m.ready = m.ready + 1
    ks.cur, ks.cv = sid, ver
  elseif ks.pend ~= '0' then
    -- The current entry is leased: the newest pending version wins.
    drop_entry(ks.pend)
    co = 1
    st = 'P'
    ks.pend, ks.pv = sid, ver
  else
    local old = ks.cur
    local s = hget(C.E, 's' .. old)
    if not s then error('weir: missing entry ' .. old) end
    local cst, cseq, _, cat = dec_s(s, old)
    if cst == 'L' then
      st = 'P'
      m.pending = m.pending + 1
      ks.pend, ks.pv = sid, ver
    elseif cst == 'R' then
      -- Replace in place, keeping the queue position.
      seq = cseq
      zset(C.R, old, false)
      zset(C.R, sid, cseq)
      co = 1
      ks.cur, ks.cv = sid, ver
    elseif cst == 'Y' then
      -- Replace in place, keeping the retry time.
      st, seq, at = 'Y', cseq, cat
      zset(C.D, old, false)
      zset(C.D, sid, cat)
      co = 1
      ks.cur, ks.cv = sid, ver
    else
      error('weir: corrupt current entry ' .. old)
    end
    if cst ~= 'L' then drop_entry(old) end
  end
  hset('s' .. sid, st .. '|' .. seq .. '|0|' .. at .. '|0|')
  hset('h' .. sid, ver .. '|' .. now .. '|' .. key)
  hset('r' .. sid, rec)
  KD[key] = true
  m.accepted = m.accepted + 1
  m.coalesced = m.coalesced + co
  return 1, co
end
`

// enqueueScript stores groups of records, each group the records of one
// Enqueue call, with its checkpoint.
//
// KEYS: meta, entries, keys, ready, delayed, checkpoints, leaders.
// ARGV: number of groups, then per group: record count, has checkpoint
// ("0"/"1"), source, checkpoint value, leadership token ("0": no check),
// then per record: key, version string, encoded record.
// Returns per group: status ("0" ok, "1" not leader), accepted, coalesced,
// stale.
var enqueueScript = goredis.NewScript(enqueueSrc)

var enqueueSrc = prelude + `
local C = {E = KEYS[2], K = KEYS[3], R = KEYS[4], D = KEYS[5]}
local groups = tonumber(ARGV[1])
-- Check every group's leadership token first, and load the key states and
-- entries of the records of the groups that pass.
local ok, keys = {}, {}
local a = 2
for g = 1, groups do
  local n, tok = tonumber(ARGV[a]), ARGV[a + 4]
  ok[g] = true
  if tok ~= '0' then
    local l = redis.call('HGET', KEYS[7], ARGV[a + 2])
    ok[g] = l and string.match(l, '^(%d+)|') == tok
  end
  a = a + 5
  if ok[g] then
    for i = 0, n - 1 do keys[#keys + 1] = ARGV[a + 3 * i] end
  end
  a = a + 3 * n
end
prefetch_keys(C.E, C.K, keys)
local m = load_meta(KEYS[1])
local now = now_us()
local out = {}
local dirty = false
a = 2
for g = 1, groups do
  local n, hascp, src, val = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 5
  if ok[g] then
    dirty = true
    local acc, co, st = 0, 0, 0
    for i = 1, n do
      local x, c = enqueue(C, m, ARGV[a], ARGV[a + 1], ARGV[a + 2], now)
      acc = acc + x
      st = st + 1 - x
      co = co + c
      a = a + 3
    end
    if hascp == '1' then redis.call('HSET', KEYS[6], src, val) end
    out[#out + 1] = '0'
    out[#out + 1] = tostring(acc)
    out[#out + 1] = tostring(co)
    out[#out + 1] = tostring(st)
  else
    a = a + 3 * n
    out[#out + 1] = '1'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
if dirty then
  flush(C.E, C.K)
  save_meta(KEYS[1], m)
end
return out
`

// leaseScript promotes due retries, then leases expired leases and ready
// entries.
//
// KEYS: meta, entries, ready, delayed, inflight.
// ARGV: owner, max, ttl (µs), promotion limit.
// Returns the expiry (µs), then per lease: ID, encoded record, header,
// attempt, token, last error.
var leaseScript = goredis.NewScript(prelude + `
local E, R, D, F = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local owner, max = ARGV[1], tonumber(ARGV[2])
local now = now_us()
local exp = string.format('%d', tonumber(now) + tonumber(ARGV[3]))
local m
local due = redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', '0', ARGV[4])
if #due > 0 then
  m = load_meta(KEYS[1])
  local f = {}
  for i, id in ipairs(due) do f[i] = 's' .. id end
  local ss = hmget(E, f)
  local upd, za = {}, {}
  for i, id in ipairs(due) do
    local st, seq, att = string.match(ss[i] or '', '^(%a)|(%d+)|(%d+)|')
    if st ~= 'Y' then error('weir: corrupt delayed entry ' .. id) end
    upd[#upd + 1] = f[i]
    upd[#upd + 1] = 'R|' .. seq .. '|' .. att .. '|0|0|'
    za[#za + 1] = seq
    za[#za + 1] = id
  end
  bulk('HSET', E, upd)
  bulk('ZADD', R, za)
  bulk('ZREM', D, due)
  m.delayed = m.delayed - #due
  m.ready = m.ready + #due
end
local ids = redis.call('ZRANGEBYSCORE', F, '-inf', now, 'LIMIT', '0', ARGV[2])
local nexp = #ids
if nexp < max then
  local r = redis.call('ZRANGE', R, '0', tostring(max - nexp - 1))
  for _, id in ipairs(r) do ids[#ids + 1] = id end
end
local out = {exp}
if #ids > 0 then
  m = m or load_meta(KEYS[1])
  local f = {}
  for _, id in ipairs(ids) do
    f[#f + 1] = 's' .. id
    f[#f + 1] = 'r' .. id
    f[#f + 1] = 'h' .. id
    f[#f + 1] = 'x' .. id
  end
  local v = hmget(E, f)
  local upd, za, rem = {}, {}, {}
  local tail = '|' .. exp .. '|'
  local o = 2
  for i, id in ipairs(ids) do
    local b = 4 * i - 3
    local st, seq, att = string.match(v[b] or '', '^(%a)|(%d+)|(%d+)|')
    if i <= nexp then
      if st ~= 'L' then error('weir: corrupt leased entry ' .. id) end
    elseif st ~= 'R' then
      error('weir: corrupt ready entry ' .. id)
    end
    m.tok = m.tok + 1
    local tok = tostring(m.tok)
    att = tostring(att + 1)
    upd[#upd + 1] = f[b]
    upd[#upd + 1] = 'L|' .. seq .. '|' .. att .. tail .. tok .. '|' .. owner
    za[#za + 1] = exp
    za[#za + 1] = id
    if i > nexp then rem[#rem + 1] = id end
    out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = id, v[b + 1], v[b + 2], att, tok, v[b + 3] or ''
    o = o + 6
  end
  bulk('HSET', E, upd)
  bulk('ZADD', F, za)
  if #rem > 0 then bulk('ZREM', R, rem) end
  m.ready = m.ready - #rem
  m.inflight = m.inflight + #rem
end
if m then save_meta(KEYS[1], m) end
return out
`)

// renewScript extends leases still held.
//
// KEYS: entries, inflight.
// ARGV: ttl (µs), then per lease: ID, owner, token.
// Returns the new expiry (µs), then the 1-based positions of lost leases.
var renewScript = goredis.NewScript(prelude + `
local exp = string.format('%d', tonumber(now_us()) + tonumber(ARGV[1]))
local out = {exp}
local f = {}
for i = 2, #ARGV, 3 do f[#f + 1] = 's' .. ARGV[i] end
prefetch(KEYS[1], f)
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local s = hget(KEYS[1], 's' .. id)
  local st, seq, att, at, tok, own
  if s then st, seq, att, at, tok, own = dec_s(s, id) end
  if st == 'L' and own == ARGV[i + 1] and tok == ARGV[i + 2] then
    hset('s' .. id, 'L|' .. seq .. '|' .. att .. '|' .. exp .. '|' .. tok .. '|' .. own)
    zset(KEYS[2], id, exp)
  else
    out[#out + 1] = tostring((i + 1) / 3)
  end
end
flush(KEYS[1])
return out
`)

// settleScript applies outcomes, each fenced on its own.
//
// KEYS: meta, entries, keys, ready, delayed, inflight, dead.
// ARGV per outcome: kind ("A" acked, "R" retried, "D" dead-lettered), ID,
// owner, token, due time (µs), reason, field.
// Returns the 1-based positions of lost leases.
var settleScript = goredis.NewScript(prelude + `
local E, K, R, D, F, X = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local f = {}
for b = 2, #ARGV, 7 do
  f[#f + 1] = 's' .. ARGV[b]
  f[#f + 1] = 'h' .. ARGV[b]
end
prefetch(E, f)
-- Fence every outcome first and load what the held ones need.
local held, keys = {}, {}
for b = 0, #ARGV - 7, 7 do
  local id = ARGV[b + 2]
  local s, h = HC['s' .. id], HC['h' .. id]
  if s and h then
    local st, seq, att, at, tok, own = dec_s(s, id)
    if st == 'L' and own == ARGV[b + 3] and tok == ARGV[b + 4] then
      local ver, enq, key = dec_h(h, id)
      held[b] = {seq = seq, att = att, ver = ver, key = key}
      keys[#keys + 1] = key
    end
  end
end
prefetch_keys(E, K, keys)
local m, now
local lost = {}
for b = 0, #ARGV - 7, 7 do
  local e = held[b]
  local kind, id = ARGV[b + 1], ARGV[b + 2]
  -- An earlier outcome of this call may have settled the same lease.
  if e and HC['s' .. id] and string.sub(HC['s' .. id], 1, 1) == 'L' then
    m = m or load_meta(KEYS[1])
    zset(F, id, false)
    m.inflight = m.inflight - 1
    local ks = ks_of(K, e.key)
    if ks.cur ~= id then error('weir: corrupt key state for entry ' .. id) end
    KD[e.key] = true
    if kind == 'A' then
      if e.ver > ks.del then ks.del = e.ver end
      m.delivered = m.delivered + 1
      drop_entry(id)
      ks.cur, ks.cv = '0', ZERO
      promote(E, R, m, ks)
    elseif kind == 'R' then
      local due = ARGV[b + 5]
      local tid, att = id, e.att
      if ks.pend ~= '0' then
        -- A newer version arrived meanwhile: it takes the retry slot.
        drop_entry(id)
        m.coalesced = m.coalesced + 1
        m.pending = m.pending - 1
        tid = ks.pend
        local ps = hget(E, 's' .. tid)
        if not ps then error('weir: missing pending entry ' .. tid) end
        local pst, pseq, patt = dec_s(ps, tid)
        if pst ~= 'P' then error('weir: corrupt pending entry ' .. tid) end
        hset('s' .. tid, 'Y|' .. pseq .. '|' .. patt .. '|' .. due .. '|0|')
        ks.cur, ks.cv, ks.pend, ks.pv = ks.pend, ks.pv, '0', ZERO
      else
        hset('s' .. id, 'Y|' .. e.seq .. '|' .. att .. '|' .. due .. '|0|')
        if ARGV[b + 6] ~= '' then hset('x' .. id, ARGV[b + 6]) else hdel('x' .. id) end
      end
      zset(D, tid, due)
      m.delayed = m.delayed + 1
    else
      now = now or now_us()
      local reason = ARGV[b + 6]
      hset('d' .. id, e.att .. '|' .. now .. '|' .. string.len(reason) .. '|' .. reason .. ARGV[b + 7])
      hdel('s' .. id)
      hdel('x' .. id)
      zset(X, id, id)
      m.dead = m.dead + 1
      ks.cur, ks.cv = '0', ZERO
      promote(E, R, m, ks)
    end
  else
    lost[#lost + 1] = tostring(b / 7 + 1)
  end
end
if m then
  flush(E, K)
  save_meta(KEYS[1], m)
end
return lost
`)

// deadLettersScript reads a page of dead letters.
//
// KEYS: dead, entries. ARGV: after (ID, "0" to start), limit.
// Returns per dead letter: ID, details, header, encoded record.
var deadLettersScript = goredis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', '0', ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', KEYS[2], 'd' .. id, 'h' .. id, 'r' .. id)
  if v[1] and v[2] and v[3] then
    out[#out + 1] = id
    out[#out + 1] = v[1]
    out[#out + 1] = v[2]
    out[#out + 1] = v[3]
  end
end
return out
`)

// replayScript enqueues dead letters again.
//
// KEYS: meta, entries, keys, ready, delayed, dead.
// ARGV: mode ("ids" or "all"), after (for "all"), chunk size (for "all"),
// then the IDs (for "ids").
// Returns: more ("1" if "all" may have more), the last ID looked at,
// replayed count, stale count, the stale IDs, then the missing IDs.
var replayScript = goredis.NewScript(prelude + `
local C = {E = KEYS[2], K = KEYS[3], R = KEYS[4], D = KEYS[5]}
local ids, more, last = {}, '0', ''
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[6], '(' .. ARGV[2], '+inf', 'LIMIT', '0', ARGV[3])
  if #ids == tonumber(ARGV[3]) then more = '1' end
  last = ids[#ids] or ''
else
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local m = load_meta(KEYS[1])
local now = now_us()
local rep, stale, missing = 0, {}, {}
for _, id in ipairs(ids) do
  local dl, h, r = hget(C.E, 'd' .. id), hget(C.E, 'h' .. id), hget(C.E, 'r' .. id)
  if not (dl and h and r) then
    missing[#missing + 1] = id
  else
    local ver, enq, key = dec_h(h, id)
    if ver ~= ZERO and ver <= newest(ks_of(C.K, key)) then
      stale[#stale + 1] = id
    else
      hdel('d' .. id)
      hdel('h' .. id)
      hdel('r' .. id)
      zset(KEYS[6], id, false)
      m.dead = m.dead - 1
      enqueue(C, m, key, ver, r, now)
      rep = rep + 1
    end
  end
end
if rep > 0 then
  flush(C.E, C.K)
  save_meta(KEYS[1], m)
end
local out = {more, last, tostring(rep), tostring(#stale)}
for _, id in ipairs(stale) do out[#out + 1] = id end
for _, id in ipairs(missing) do out[#out + 1] = id end
return out
`)

// dropScript deletes dead letters.
//
// KEYS: meta, entries, dead.
// ARGV: mode ("ids" or "all"), after, chunk size, then the IDs.
// Returns: more, last ID looked at, dropped count.
var dropScript = goredis.NewScript(`
local ids, more, last = {}, '0', ''
if ARGV[1] == 'all' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf', 'LIMIT', '0', ARGV[3])
  if #ids == tonumber(ARGV[3]) then more = '1' end
  last = ids[#ids] or ''
else
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[3], id) == 1 then
    redis.call('HDEL', KEYS[2], 'd' .. id, 'h' .. id, 'r' .. id)
    n = n + 1
  end
end
if n > 0 then redis.call('HINCRBY', KEYS[1], 'dead', -n) end
return {more, last, tostring(n)}
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
