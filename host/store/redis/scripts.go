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
//	              "k<record key>" key state "cur|curVer|pend|pendVer|delivered"
//	              "r<n>" entry n's encoded record (opaque to the scripts)
//	              "s<n>" entry n's state "st|seq|attempt|at|token|version|
//	                     enqueued|klen|olen|" + key (klen bytes) + owner
//	                     (olen bytes) + last retry reason: st is R (ready),
//	                     P (pending), Y (delayed) or L (leased); seq the queue
//	                     position; at the due time (Y) or lease expiry (L)
//	                     and enqueued in µs
//	              "d<n>" dead letter n's details "attempts|at|version|
//	                     enqueued|len|" + key + "len|" + reason + field (a
//	                     dead letter keeps r<n>)
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
// Cost model (measured on the 2-core test machine): each redis.call costs
// a few µs of Redis CPU, each hash field read into or written from Lua
// about 0.3 µs, each KB moved into Lua about 1 µs. So the queue scripts
// read everything they need with one or two HMGETs of the entries hash,
// work on a Lua cache, and write back with one HSET (and HDEL) plus one
// command per changed index: a handful of calls whatever the batch size.
// Writes are collected in lists and applied sets first, then deletions:
// since entry IDs are never reused, no field or member is deleted and then
// set again within a call, so that order gives the final state.

// prelude holds the helpers shared by the queue scripts. E is the entries
// hash, the first key of every queue script.
const prelude = `
local ZERO = '0000000000000000000'
local E = KEYS[1]
local function now_us()
  local t = redis.call('TIME')
  return string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
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

-- Counters, read from the cache (want_meta before the fetch).
local MF = {'#seq', '#tok', '#ready', '#pending', '#delayed', '#inflight', '#dead', '#accepted', '#delivered', '#coalesced', '#stale'}
local function want_meta(list)
  for _, f in ipairs(MF) do want(list, f) end
end
local function meta()
  local m = {}
  for _, f in ipairs(MF) do m[f] = tonumber(hget(f)) or 0 end
  return m
end
local function save_meta(m)
  for _, f in ipairs(MF) do
    local v = string.format('%d', m[f])
    if v ~= (HC[f] or '0') then hset(f, v) end
  end
end

-- Key states: cur (current entry ID, '0' if none) and its version cv,
-- pend (pending entry ID, '0' if none) and its version pv, del (newest
-- delivered version). Decoded once per call, encoded by flush.
local KS, KD = {}, {}
local function ks_of(key)
  local ks = KS[key]
  if not ks then
    local s = hget('k' .. key)
    if s then
      local a, b, c, d, e = string.match(s, '^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)$')
      if not a then error('weir: corrupt key state') end
      ks = {cur = a, cv = b, pend = c, pv = d, del = e}
    else
      ks = {cur = '0', cv = ZERO, pend = '0', pv = ZERO, del = ZERO}
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
      hset('k' .. key, ks.cur .. '|' .. ks.cv .. '|' .. ks.pend .. '|' .. ks.pv .. '|' .. ks.del)
    end
  end
  if #SET > 0 then bulk('HSET', E, SET) end
  if #DEL > 0 then bulk('HDEL', E, DEL) end
  for k, z in pairs(ZA) do bulk('ZADD', k, z) end
  for k, z in pairs(ZR) do bulk('ZREM', k, z) end
end

-- Entry state "st|seq|attempt|at|token|version|enqueued|klen|olen|" + key
-- + owner + last retry reason. dec_s returns st, seq, attempt, at, token,
-- version, enqueued, key, owner, reason.
local function dec_s(s, id)
  local st, seq, att, at, tok, ver, enq, kl, ol, p = string.match(s, '^(%a)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|()')
  if not st then error('weir: corrupt state of entry ' .. id) end
  local k = p + tonumber(kl)
  local o = k + tonumber(ol)
  return st, seq, att, at, tok, ver, enq, string.sub(s, p, k - 1), string.sub(s, k, o - 1), string.sub(s, o)
end
local function enc_s(st, seq, att, at, tok, ver, enq, key, own, err)
  return st .. '|' .. seq .. '|' .. att .. '|' .. at .. '|' .. tok .. '|' .. ver .. '|' .. enq .. '|' ..
    string.len(key) .. '|' .. string.len(own) .. '|' .. key .. own .. err
end
local function drop_entry(id)
  hdel('s' .. id)
  hdel('r' .. id)
end

-- promote makes the key's pending entry current and ready, at its own
-- queue position.
local function promote(R, m, ks)
  local pid = ks.pend
  if pid == '0' then return end
  local s = hget('s' .. pid)
  if not s then error('weir: missing pending entry ' .. pid) end
  local st, seq, att, at, tok, ver, enq, key = dec_s(s, pid)
  if st ~= 'P' then error('weir: corrupt pending entry ' .. pid) end
  zadd(R, pid, seq)
  hset('s' .. pid, enc_s('R', seq, '0', '0', '0', ver, enq, key, '', ''))
  m['#pending'] = m['#pending'] - 1
  m['#ready'] = m['#ready'] + 1
  ks.cur, ks.cv, ks.pend, ks.pv = pid, ks.pv, '0', ZERO
end

-- enqueue accepts one record version or drops it as stale; it returns
-- accepted (0/1) and coalesced (0/1).
local function enqueue(R, D, m, key, ver, rec, now)
  local ks = ks_of(key)
  if ver ~= ZERO and ver <= newest(ks) then
    m['#stale'] = m['#stale'] + 1
    return 0, 0
  end
  local sid = string.format('%d', m['#seq'] + 1)
  m['#seq'] = m['#seq'] + 1
  local st, seq, at = 'R', sid, '0'
  local co = 0
  if ks.cur == '0' then
    zadd(R, sid, sid)
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
    local cst, cseq, _, cat = dec_s(s, old)
    if cst == 'L' then
      st = 'P'
      m['#pending'] = m['#pending'] + 1
      ks.pend, ks.pv = sid, ver
    elseif cst == 'R' then
      -- Replace in place, keeping the queue position.
      seq = cseq
      zrem(R, old)
      zadd(R, sid, cseq)
      co = 1
      ks.cur, ks.cv = sid, ver
    elseif cst == 'Y' then
      -- Replace in place, keeping the retry time.
      st, seq, at = 'Y', cseq, cat
      zrem(D, old)
      zadd(D, sid, cat)
      co = 1
      ks.cur, ks.cv = sid, ver
    else
      error('weir: corrupt current entry ' .. old)
    end
    if cst ~= 'L' then drop_entry(old) end
  end
  hset('s' .. sid, st .. '|' .. seq .. '|0|' .. at .. '|0|' .. ver .. '|' .. now .. '|' .. string.len(key) .. '|0|' .. key)
  hset('r' .. sid, rec)
  KD[key] = true
  m['#accepted'] = m['#accepted'] + 1
  m['#coalesced'] = m['#coalesced'] + co
  return 1, co
end
`

// enqueueScript stores groups of records, each group the records of one
// Enqueue call, with its checkpoint.
//
// KEYS: entries, ready, delayed, checkpoints, leaders.
// ARGV: number of groups, then per group: record count, has checkpoint
// ("0"/"1"), source, checkpoint value, leadership token ("0": no check),
// then per record: key, version string, encoded record.
// Returns per group: status ("0" ok, "1" not leader), accepted, coalesced,
// stale.
var enqueueScript = goredis.NewScript(prelude + `
local R, D = KEYS[2], KEYS[3]
local groups = tonumber(ARGV[1])
-- Check every group's leadership token first, then read the counters and
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
  if ok[g] then
    dirty = true
    local acc, co = 0, 0
    for i = 1, n do
      local x, c = enqueue(R, D, m, ARGV[a], ARGV[a + 1], ARGV[a + 2], now)
      acc = acc + x
      co = co + c
      a = a + 3
    end
    if hascp == '1' then redis.call('HSET', KEYS[4], src, val) end
    out[#out + 1] = '0'
    out[#out + 1] = string.format('%d', acc)
    out[#out + 1] = string.format('%d', co)
    out[#out + 1] = string.format('%d', n - acc)
  else
    a = a + 3 * n
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
// Returns the expiry (µs), then per lease: ID, encoded record, enqueue
// time (µs), attempt, token, last error.
var leaseScript = goredis.NewScript(prelude + `
local R, D, F = KEYS[2], KEYS[3], KEYS[4]
local owner, max = ARGV[1], tonumber(ARGV[2])
local now = now_us()
local exp = string.format('%d', tonumber(now) + tonumber(ARGV[3]))
-- Due retries join the ready index at their queue position; the index is
-- written at once so that the ready range below sees them.
local due = redis.call('ZRANGEBYSCORE', D, '-inf', now, 'LIMIT', '0', ARGV[4])
local list = {}
want_meta(list)
if #due > 0 then
  for _, id in ipairs(due) do want(list, 's' .. id) end
  fetch(list)
  list = {}
  local za = {}
  for _, id in ipairs(due) do
    local st, seq, att, at, tok, ver, enq, key, own, err = dec_s(HC['s' .. id] or '', id)
    if st ~= 'Y' then error('weir: corrupt delayed entry ' .. id) end
    hset('s' .. id, enc_s('R', seq, att, '0', '0', ver, enq, key, '', err))
    za[#za + 1] = seq
    za[#za + 1] = id
  end
  bulk('ZADD', R, za)
  bulk('ZREM', D, due)
end
local ids = redis.call('ZRANGEBYSCORE', F, '-inf', now, 'LIMIT', '0', ARGV[2])
local nexp = #ids
if nexp < max then
  local r = redis.call('ZRANGE', R, '0', string.format('%d', max - nexp - 1))
  for _, id in ipairs(r) do ids[#ids + 1] = id end
end
if #ids == 0 and #due == 0 then return {exp} end
for _, id in ipairs(ids) do
  want(list, 's' .. id)
  want(list, 'r' .. id)
end
fetch(list)
local m = meta()
m['#delayed'] = m['#delayed'] - #due
m['#ready'] = m['#ready'] + #due
local out = {exp}
local o = 2
for i, id in ipairs(ids) do
  local sf = 's' .. id
  local st, seq, att, at, tok, ver, enq, key, own, err = dec_s(HC[sf] or '', id)
  if i <= nexp then
    if st ~= 'L' then error('weir: corrupt leased entry ' .. id) end
  else
    if st ~= 'R' then error('weir: corrupt ready entry ' .. id) end
    zrem(R, id)
  end
  m['#tok'] = m['#tok'] + 1
  tok = string.format('%d', m['#tok'])
  att = string.format('%d', att + 1)
  hset(sf, enc_s('L', seq, att, exp, tok, ver, enq, key, owner, err))
  zadd(F, id, exp)
  out[o], out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = id, HC['r' .. id], enq, att, tok, err
  o = o + 6
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
// ARGV: ttl (µs), then per lease: ID, owner, token.
// Returns the new expiry (µs), then the 1-based positions of lost leases.
var renewScript = goredis.NewScript(prelude + `
local exp = string.format('%d', tonumber(now_us()) + tonumber(ARGV[1]))
local out = {exp}
local list = {}
for i = 2, #ARGV, 3 do want(list, 's' .. ARGV[i]) end
fetch(list)
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local s = HC['s' .. id]
  local st, seq, att, at, tok, ver, enq, key, own, err
  if s then st, seq, att, at, tok, ver, enq, key, own, err = dec_s(s, id) end
  if st == 'L' and own == ARGV[i + 1] and tok == ARGV[i + 2] then
    hset('s' .. id, enc_s('L', seq, att, exp, tok, ver, enq, key, own, err))
    zadd(KEYS[2], id, exp)
  else
    out[#out + 1] = string.format('%d', (i + 1) / 3)
  end
end
flush()
return out
`)

// settleScript applies outcomes, each fenced on its own.
//
// KEYS: entries, ready, delayed, inflight, dead.
// ARGV per outcome: kind ("A" acked, "R" retried, "D" dead-lettered), ID,
// owner, token, due time (µs), reason, field, record key (as leased: used
// only to read the key's state ahead; the entry's own key is used).
// Returns the 1-based positions of lost leases.
var settleScript = goredis.NewScript(prelude + `
local R, D, F, X = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local list = {}
want_meta(list)
for b = 2, #ARGV, 8 do
  want(list, 's' .. ARGV[b])
  want(list, 'k' .. ARGV[b + 6])
end
fetch(list)
-- Fence every outcome: the entry must be leased by this owner with this
-- token. The entry's own key is authoritative (the lease's only saved a
-- read above).
local held, keys = {}, {}
for b = 0, #ARGV - 8, 8 do
  local id = ARGV[b + 2]
  local s = HC['s' .. id]
  if s then
    local st, seq, att, at, tok, ver, enq, key, own = dec_s(s, id)
    if st == 'L' and own == ARGV[b + 3] and tok == ARGV[b + 4] then
      held[b] = {seq = seq, att = att, ver = ver, enq = enq, key = key}
      keys[#keys + 1] = key
    end
  end
end
-- Read ahead the keys' pending entries.
list = {}
want_entries(list, keys)
fetch(list)
local m = meta()
local now
local lost = {}
for b = 0, #ARGV - 8, 8 do
  local e = held[b]
  local kind, id = ARGV[b + 1], ARGV[b + 2]
  -- An earlier outcome of this call may have settled the same lease.
  if e and HC['s' .. id] and string.sub(HC['s' .. id], 1, 1) == 'L' then
    local key = e.key
    zrem(F, id)
    m['#inflight'] = m['#inflight'] - 1
    local ks = ks_of(key)
    if ks.cur ~= id then error('weir: corrupt key state for entry ' .. id) end
    KD[key] = true
    if kind == 'A' then
      if e.ver > ks.del then ks.del = e.ver end
      m['#delivered'] = m['#delivered'] + 1
      drop_entry(id)
      ks.cur, ks.cv = '0', ZERO
      promote(R, m, ks)
    elseif kind == 'R' then
      local due = ARGV[b + 5]
      local tid = id
      if ks.pend ~= '0' then
        -- A newer version arrived meanwhile: it takes the retry slot.
        drop_entry(id)
        m['#coalesced'] = m['#coalesced'] + 1
        m['#pending'] = m['#pending'] - 1
        tid = ks.pend
        local ps = hget('s' .. tid)
        if not ps then error('weir: missing pending entry ' .. tid) end
        local pst, pseq, patt, pat, ptok, pver, penq = dec_s(ps, tid)
        if pst ~= 'P' then error('weir: corrupt pending entry ' .. tid) end
        hset('s' .. tid, enc_s('Y', pseq, patt, due, '0', pver, penq, key, '', ''))
        ks.cur, ks.cv, ks.pend, ks.pv = ks.pend, ks.pv, '0', ZERO
      else
        hset('s' .. id, enc_s('Y', e.seq, e.att, due, '0', e.ver, e.enq, key, '', ARGV[b + 6]))
      end
      zadd(D, tid, due)
      m['#delayed'] = m['#delayed'] + 1
    else
      now = now or now_us()
      local reason = ARGV[b + 6]
      hset('d' .. id, e.att .. '|' .. now .. '|' .. e.ver .. '|' .. e.enq .. '|' .. string.len(key) .. '|' .. key ..
        string.len(reason) .. '|' .. reason .. ARGV[b + 7])
      hdel('s' .. id)
      zadd(X, id, id)
      m['#dead'] = m['#dead'] + 1
      ks.cur, ks.cv = '0', ZERO
      promote(R, m, ks)
    end
  else
    lost[#lost + 1] = string.format('%d', b / 8 + 1)
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
  local v = redis.call('HMGET', KEYS[1], 'd' .. id, 'r' .. id)
  if v[1] and v[2] then
    out[#out + 1] = id
    out[#out + 1] = v[1]
    out[#out + 1] = v[2]
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
for _, id in ipairs(ids) do
  want(list, 'd' .. id)
  want(list, 'r' .. id)
end
fetch(list)
local m = meta()
local now = now_us()
local rep, stale, missing = 0, {}, {}
for _, id in ipairs(ids) do
  local dl, r = HC['d' .. id], HC['r' .. id]
  if not (dl and r) then
    missing[#missing + 1] = id
  else
    local ver, n, p = string.match(dl, '^%d+|%d+|(%d+)|%d+|(%d+)|()')
    if not ver then error('weir: corrupt dead letter ' .. id) end
    local key = string.sub(dl, p, p + tonumber(n) - 1)
    if ver ~= ZERO and ver <= newest(ks_of(key)) then
      stale[#stale + 1] = id
    else
      hdel('d' .. id)
      hdel('r' .. id)
      zrem(X, id)
      m['#dead'] = m['#dead'] - 1
      enqueue(R, D, m, key, ver, r, now)
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
    redis.call('HDEL', KEYS[1], 'd' .. id, 'r' .. id)
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
