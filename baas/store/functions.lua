#!lua name=baas_v1
-- Server-side functions of the gateway: each runs atomically, in one round trip.
-- Time comes from the server (TIME), so every gateway instance shares one clock.
-- Sliding windows are sorted sets of request timestamps (ms); members are unique tokens.
-- Writes to a window are kept out of the append-only file and away from replicas: a window only
-- matters for its length of time, and it gains an entry with every request. A restarted (or newly
-- promoted) store starts with empty windows; the log and the idempotency records are kept.

local function unlogged(...)
  redis.set_repl(redis.REPL_NONE)
  local reply = redis.call(...)
  redis.set_repl(redis.REPL_ALL)
  return reply
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Milliseconds until the window holds fewer than `limit` entries (0 if it already does), and the
-- window's count. Cheap far from the limit: the count alone answers, since entries older than the
-- window only make it larger. They are trimmed near the limit, and whenever the count reaches a
-- multiple of 64, so that a window holds at most 64 stale entries whatever the limit.
local function wait_ms(key, limit, window, now)
  local count = redis.call('ZCARD', key)
  if count == 0 or (count < limit and count % 64 ~= 0) then
    return 0, count
  end
  count = count - unlogged('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if count < limit then
    return 0, count
  end
  local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return math.max(1, tonumber(entry[2]) + window - now), count
end

-- The key outlives its newest entry by at least `window`: its time to live is set to twice the
-- window whenever it has fallen under one window (a read most of the time, not a write).
local function record(key, window, now, member)
  unlogged('ZADD', key, now, member)
  if redis.call('PTTL', key) < window then
    unlogged('PEXPIRE', key, 2 * window)
  end
end

-- The elements of `list` from `first` on, as a list of their own (the variable part of KEYS or
-- ARGV, after the named ones).
local function rest(list, first)
  local out = {}
  for i = first, #list do
    out[#out + 1] = list[i]
  end
  return out
end

-- args from i: a count, then (position in `hashes`, field, value) triples; returns the next i.
local function hash_writes(hashes, args, i)
  local writes = tonumber(args[i])
  i = i + 1
  for _ = 1, writes do
    redis.call('HSET', hashes[tonumber(args[i])], args[i + 1], args[i + 2])
    i = i + 3
  end
  return i
end

-- Count one request in a window if it fits: 0, or the ms to wait (and nothing is counted).
local function admit(key, limit, window, member, now)
  local wait = wait_ms(key, limit, window, now)
  if wait == 0 then
    record(key, window, now, member)
  end
  return wait
end

-- A credential still active (a field of the `credentials` hash), then one request counted in
-- its `window` → nil, or {'revoked'} | {'limited', wait ms}
local function check_credential(credentials, credential, window, limit, window_ms, member)
  if redis.call('HEXISTS', credentials, credential) == 0 then
    return {'revoked'}
  end
  local wait = admit(window, tonumber(limit), tonumber(window_ms), member, now_ms())
  if wait > 0 then
    return {'limited', wait}
  end
  return nil
end

-- The per-IP limits: the IP's request window and its auth failures' window; `member` the
-- request's unique window entry → 'ip' or 'auth_failure' and the ms to wait, or nil and the IP's
-- count of auth failures
local function check_ip(ip_window, failures, ip_limit, ip_window_ms, failure_limit,
                        failure_window_ms, member, now)
  local blocked, count = wait_ms(failures, tonumber(failure_limit), tonumber(failure_window_ms), now)
  if blocked > 0 then
    return 'auth_failure', blocked
  end
  local wait = admit(ip_window, tonumber(ip_limit), tonumber(ip_window_ms), member, now)
  if wait > 0 then
    return 'ip', wait
  end
  return nil, count
end

-- Each function names its KEYS and ARGV first, in order: baas/store/functions.py builds them
-- with the same names (a test holds the two sides together).

-- → {0, failures} passed | {1, wait ms} ip limit | {2, wait ms} blocked by auth failures
local function ip_gate(keys, args)
  local ip_window, failures = keys[1], keys[2]
  local ip_limit, ip_window_ms, failure_limit, failure_window_ms, member =
    args[1], args[2], args[3], args[4], args[5]
  local limiter, value = check_ip(ip_window, failures, ip_limit, ip_window_ms, failure_limit,
    failure_window_ms, member, now_ms())
  if limiter == 'auth_failure' then
    return {2, value}
  elseif limiter == 'ip' then
    return {1, value}
  end
  return {0, value}
end

-- A 401 counted in an auth-failure window.
local function auth_failure(keys, args)
  local failures = keys[1]
  local failure_window_ms, member = args[1], args[2]
  record(failures, tonumber(failure_window_ms), now_ms(), member)
  return 1
end

-- A write counted in the tenant's window → 0 passed | wait ms
local function tenant_write(keys, args)
  local write_window = keys[1]
  local tenant_limit, tenant_window_ms, member = args[1], args[2], args[3]
  return admit(write_window, tonumber(tenant_limit), tonumber(tenant_window_ms), member, now_ms())
end

-- An idempotency ("seen") record: the first append's stream entry, the digest of the event's
-- content and its 202 answer, 'entry|digest|answer' (records written before digests were kept
-- are 'entry|answer': the answer is JSON, so it starts with '{'). → entry, digest or nil, answer
local function seen_record(record)
  local sep = string.find(record, '|', 1, true)
  local entry = string.sub(record, 1, sep - 1)
  if string.sub(record, sep + 1, sep + 1) == '{' then
    return entry, nil, string.sub(record, sep + 1)
  end
  local second = string.find(record, '|', sep + 1, true)
  return entry, string.sub(record, sep + 1, second - 1), string.sub(record, second + 1)
end

-- The events of one request appended to the tenant's log, except those seen before: those are
-- answered from their idempotency record. `seen_keys`: one "seen" key per event; `events`:
-- (canonical event bytes, 202 answer, content digest) per event. Adds (status, entry, answer)
-- per event to `out`, where status is 'appended' or 'duplicate' and, for a duplicate,
-- entry/answer are the first's. An id seen with another digest (before, or earlier in the same
-- request) refuses the whole request first, nothing appended: → nil, its position (0-based).
local function append_events(out, log, seen_keys, events, retention, received_at, ip, key_id)
  local records = {}
  local digests = {}
  for i = 1, #seen_keys do
    local seen_key = seen_keys[i]
    local digest = events[3 * i]
    local known = digests[seen_key]
    if not known then
      local record = redis.call('GET', seen_key)
      if record then
        records[seen_key] = record
        local _, stored = seen_record(record)
        known = stored or digest
      end
    end
    if known and known ~= digest then
      return nil, i - 1
    end
    digests[seen_key] = digest
  end
  for i = 1, #seen_keys do
    local seen_key = seen_keys[i]
    local event = events[3 * i - 2]
    local answer = events[3 * i - 1]
    local digest = events[3 * i]
    local record = records[seen_key]
    if record then
      local entry, _, first_answer = seen_record(record)
      table.insert(out, 'duplicate')
      table.insert(out, entry)
      table.insert(out, first_answer)
    else
      local entry = redis.call('XADD', log, '*', 'event', event, 'received_at', received_at,
        'ip', ip, 'key_id', key_id)
      record = entry .. '|' .. digest .. '|' .. answer
      redis.call('SET', seen_key, record, 'EX', retention)
      records[seen_key] = record
      table.insert(out, 'appended')
      table.insert(out, entry)
      table.insert(out, answer)
    end
  end
  return out
end

-- Dedupe + tenant write limit + append, for the events of one request whose credential (a field
-- of a hash of the tenant: an alert, for webhooks) is re-checked atomically with the append.
-- An empty limit is the service's own write (its first start's setup): counted in no window.
-- `seen_keys`: one per event; `events`: per event, canonical event bytes, 202 answer, digest
-- → {'revoked'} | {'limited', wait ms} | {'conflict', position of the reused id}
--   | {'ok', status1, entry1, answer1, status2, ...}
local function ingest(keys, args)
  local log, write_window, credentials = keys[1], keys[2], keys[3]
  local seen_keys = rest(keys, 4)
  local credential, tenant_limit, tenant_window_ms, member, retention, received_at, client_ip =
    args[1], args[2], args[3], args[4], args[5], args[6], args[7]
  local events = rest(args, 8)
  local refused
  if tenant_limit == '' then
    refused = redis.call('HEXISTS', credentials, credential) == 0 and {'revoked'} or nil
  else
    refused = check_credential(credentials, credential, write_window, tenant_limit,
      tenant_window_ms, member)
  end
  if refused then
    return refused
  end
  local out, reused = append_events({'ok'}, log, seen_keys, events, tonumber(retention),
    received_at, client_ip, credential)
  return out or {'conflict', reused}
end

-- The whole write of the trading API in one call: the per-IP limits, the API key, the tenant's
-- write limit, dedupe and append. (It touches the IP's, the key index's and the tenant's keys
-- together, so it needs one Redis or Valkey server, not a cluster.)
-- A key is active while the index holds it: revocation removes it from the index and the
-- tenant's keys in one transaction. `member` is the request's entry in both windows;
-- `seen_keys`: one per event; `events`: per event, canonical event bytes, 202 answer, digest
-- → {'limited', limiter, wait ms} | {'unknown'} (no such active key) | {'forbidden'} (the key
--   is another tenant's) | {'conflict', stored digest, position of the reused id}
--   | {'ok', stored digest, status1, entry1, answer1, ...}
local function submit(keys, args)
  local ip_window, failures, key_index, log, write_window = keys[1], keys[2], keys[3], keys[4],
    keys[5]
  local seen_keys = rest(keys, 6)
  local key_digest, tenant_id, member, received_at, client_ip, ip_limit, ip_window_ms,
    failure_limit, failure_window_ms, tenant_limit, tenant_window_ms, retention =
    args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[10],
    args[11], args[12]
  local events = rest(args, 13)
  local now = now_ms()
  local limiter, value = check_ip(ip_window, failures, ip_limit, ip_window_ms, failure_limit,
    failure_window_ms, member, now)
  if limiter then
    return {'limited', limiter, value}
  end
  local owner = redis.call('HGET', key_index, key_digest)
  if not owner then
    return {'unknown'}
  end
  owner = cjson.decode(owner)
  if owner['tenant_id'] ~= tenant_id then
    return {'forbidden'}
  end
  if value > 0 then
    unlogged('DEL', failures)
  end
  local wait = admit(write_window, tonumber(tenant_limit), tonumber(tenant_window_ms), member, now)
  if wait > 0 then
    return {'limited', 'tenant', wait}
  end
  local out, reused = append_events({'ok', owner['digest']}, log, seen_keys, events,
    tonumber(retention), received_at, client_ip, owner['key_id'])
  return out or {'conflict', owner['digest'], reused}
end

redis.register_function('baas_ip_gate', ip_gate)
redis.register_function('baas_auth_failure', auth_failure)
redis.register_function('baas_tenant_write', tenant_write)
redis.register_function('baas_ingest', ingest)
redis.register_function('baas_submit', submit)

-- A worker's decision, recorded atomically: its outcome events appended to the log, the read
-- models it changed written, the command marked handled. Refused if the command was already
-- handled, or if another decision was recorded for the tenant since this one read its state.
-- `models`: the read-model hashes; `changes`: n events, events..., n writes,
-- (position in `models`, field, value)..., n index adds, (score, member)...
-- → 'ok' | 'handled' | 'conflict'
local function commit(keys, args)
  local log, version, handled, signal_index = keys[1], keys[2], keys[3], keys[4]
  local models = rest(keys, 5)
  local command, expected_version, received_at = args[1], args[2], args[3]
  local changes = rest(args, 4)
  if command ~= '' and redis.call('HEXISTS', handled, command) == 1 then
    return 'handled'
  end
  if tonumber(redis.call('GET', version) or '0') ~= tonumber(expected_version) then
    return 'conflict'
  end
  local i = 2
  for _ = 1, tonumber(changes[1]) do
    redis.call('XADD', log, '*', 'event', changes[i], 'received_at', received_at)
    i = i + 1
  end
  i = hash_writes(models, changes, i)
  local adds = tonumber(changes[i])
  i = i + 1
  for _ = 1, adds do
    redis.call('ZADD', signal_index, 'NX', changes[i], changes[i + 1])
    i = i + 2
  end
  if command ~= '' then
    redis.call('HSET', handled, command, '1')
  end
  redis.call('INCR', version)
  return 'ok'
end

redis.register_function('baas_commit', commit)

-- The ledger ------------------------------------------------------------------------------------

-- A request with a ledger API key: the key must still be active, then its sliding window counts.
-- → {'ok'} | {'revoked'} | {'limited', wait ms}
local function ledger_key_gate(keys, args)
  local key_window, active_keys = keys[1], keys[2]
  local key_id, key_limit, key_window_ms, member = args[1], args[2], args[3], args[4]
  return check_credential(active_keys, key_id, key_window, key_limit, key_window_ms, member)
    or {'ok'}
end

-- A strategy created, with its event in the log; a tenant's default strategy only once.
-- `default`: '1' for the tenant's default strategy, else '0'
-- → {'created', id} | {'exists', id of the default strategy already there}
local function ledger_strategy(keys, args)
  local log, strategies, default_strategy = keys[1], keys[2], keys[3]
  local strategy_id, record, event, received_at, default = args[1], args[2], args[3], args[4],
    args[5]
  if default == '1' then
    local existing = redis.call('GET', default_strategy)
    if existing then
      return {'exists', existing}
    end
    redis.call('SET', default_strategy, strategy_id)
  end
  redis.call('HSET', strategies, strategy_id, record)
  redis.call('XADD', log, '*', 'event', event, 'received_at', received_at)
  return {'created', strategy_id}
end

-- Ledger events recorded with the projection they lead to and their idempotency records, all or
-- nothing. Refused if the key was revoked meanwhile, or if another write was recorded for the
-- strategy since this one read its state (the caller reads again and retries).
-- `key_id`: '' when no key sent it; `targets`: the hashes and lists the writes name by position;
-- `changes`: n events, events..., n hash writes, (position in `targets`, field, value)...,
-- n list pushes, (position in `targets`, value)...
-- → 'ok' | 'conflict' | 'revoked'
local function ledger_commit(keys, args)
  local log, state, history, active_keys = keys[1], keys[2], keys[3], keys[4]
  local targets = rest(keys, 5)
  local key_id, expected_version, received_at, client_ip, new_state = args[1], args[2], args[3],
    args[4], args[5]
  local changes = rest(args, 6)
  if key_id ~= '' and redis.call('HEXISTS', active_keys, key_id) == 0 then
    return 'revoked'
  end
  local version = tonumber(redis.call('HGET', state, 'version') or '0')
  if version ~= tonumber(expected_version) then
    return 'conflict'
  end
  local n = tonumber(changes[1])
  local i = 2
  for _ = 1, n do
    if key_id ~= '' then
      redis.call('XADD', log, '*', 'event', changes[i], 'received_at', received_at, 'ip',
        client_ip, 'key_id', key_id)
    else
      redis.call('XADD', log, '*', 'event', changes[i], 'received_at', received_at)
    end
    redis.call('RPUSH', history, changes[i])
    i = i + 1
  end
  i = hash_writes(targets, changes, i)
  local pushes = tonumber(changes[i])
  i = i + 1
  for _ = 1, pushes do
    redis.call('RPUSH', targets[tonumber(changes[i])], changes[i + 1])
    i = i + 2
  end
  redis.call('HSET', state, 'version', version + n, 'state', new_state)
  return 'ok'
end

-- Daily closes of one symbol; the latest close is kept beside them for cheap marks.
-- `closes`: date, close, date, close, ... (dates YYYY-MM-DD)
-- → the number of dates that had no close before
local function prices_put(keys, args)
  local closes_hash, latest = keys[1], keys[2]
  local closes = rest(args, 1)
  local added = 0
  local latest_close = redis.call('GET', latest)
  local best_date = latest_close and string.sub(latest_close, 1, 10) or ''
  local best_close = nil
  for i = 1, #closes, 2 do
    added = added + redis.call('HSET', closes_hash, closes[i], closes[i + 1])
    if closes[i] >= best_date then
      best_date = closes[i]
      best_close = closes[i + 1]
    end
  end
  if best_close then
    redis.call('SET', latest, best_date .. ' ' .. best_close)
  end
  return added
end

redis.register_function('baas_ledger_key_gate', ledger_key_gate)
redis.register_function('baas_ledger_strategy', ledger_strategy)
redis.register_function('baas_ledger_commit', ledger_commit)
redis.register_function('baas_prices_put', prices_put)
