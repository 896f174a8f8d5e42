// Lua scripts of the Redis read store. Each runs atomically, so no client writes in between; replies are
// integers because a Lua boolean's reply shape depends on the protocol (ioredis 6 speaks RESP3).

/** Counter-hash fields that are facts about the counters rather than counters; `$` keeps them apart. */
export const COUNTER_META = { events: '$events', eventAt: '$eventAt', projectedAt: '$projectedAt' } as const;

/**
 * One document write with its index and counter changes, all or nothing.
 * KEYS: doc, active-namespace key, fence key, counters hash, then one key per index change.
 * ARGV: expectedVersion, checkNamespace (1|0), namespace, version, eventAt, projectedAt, data, hasCounters,
 *       eventId ('' when unknown), number of index changes, expected last event id ('' for any, else '=' and
 *       the id), then (op '+'|'-', member, score) per change, then (counter, delta) pairs.
 * Answers 1 written, 0 version mismatch (a duplicate or a lost race), -1 namespace switched or fenced.
 * The namespace check is what makes a rebuild's switch safe: a writer still aiming at the old namespace
 * is refused here, inside the same atomic step, rather than writing where nobody reads any more.
 */
export const APPLY = `
if ARGV[2] == '1' then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
  if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return -1 end
end
local expected = tonumber(ARGV[1])
local stored = redis.call('HMGET', KEYS[1], 'version', 'eventId')
if tonumber(stored[1] or '0') ~= expected then return 0 end
if ARGV[11] ~= '' and ('=' .. (stored[2] or '')) ~= ARGV[11] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[4], 'eventAt', ARGV[5], 'projectedAt', ARGV[6], 'data', ARGV[7], 'eventId', ARGV[9])
local a = 12
for i = 1, tonumber(ARGV[10]) do
  if ARGV[a] == '+' then redis.call('ZADD', KEYS[4 + i], ARGV[a + 2], ARGV[a + 1])
  else redis.call('ZREM', KEYS[4 + i], ARGV[a + 1]) end
  a = a + 3
end
if ARGV[8] == '1' then
  while a < #ARGV do
    redis.call('HINCRBY', KEYS[4], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('HINCRBY', KEYS[4], '${COUNTER_META.events}', tonumber(ARGV[4]) - expected)
  local newest = redis.call('HGET', KEYS[4], '${COUNTER_META.eventAt}')
  if not newest or ARGV[5] > newest then redis.call('HSET', KEYS[4], '${COUNTER_META.eventAt}', ARGV[5]) end
  redis.call('HSET', KEYS[4], '${COUNTER_META.projectedAt}', ARGV[6])
end
return 1
`;

/** Raises a decimal position, compared exactly (positions may pass 2^53, where Lua numbers round). */
export const RAISE_CHECKPOINT = `
local current = redis.call('GET', KEYS[1])
if current and (#current > #ARGV[1] or (#current == #ARGV[1] and current >= ARGV[1])) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** Takes a free lease or renews our own. ARGV: owner, ttl in ms. */
export const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Ends our own lease only: an expired one may already belong to someone else. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
