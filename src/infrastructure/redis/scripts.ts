// Lua scripts of the Redis read store. Each runs atomically, so no client writes in between; replies are
// integers because a Lua boolean's reply shape depends on the protocol (ioredis 6 speaks RESP3).

/** Counter-hash fields that are facts about the counters rather than counters; `$` keeps them apart. */
export const COUNTER_META = { events: '$events', eventAt: '$eventAt', projectedAt: '$projectedAt' } as const;

// Pieces the write scripts share, spliced in as Lua text.

/**
 * Refuses (-1) a writer still aiming at a namespace that is no longer the active one, or at a fenced
 * collection (KEYS[2] the active-namespace key, KEYS[3] the fence key), when `check` is '1'.
 */
const namespaceGuard = (check: string, namespace: string) => `if ${check} == '1' then
  if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
  if (redis.call('GET', KEYS[2]) or '') ~= ${namespace} then return -1 end
end`;

/** `count` index changes, (op '+'|'-', member, score) each, from ARGV[a] on into KEYS[5...]; `a` ends past them. */
const indexChanges = (count: string) => `for i = 1, tonumber(${count}) do
  if ARGV[a] == '+' then redis.call('ZADD', KEYS[4 + i], ARGV[a + 2], ARGV[a + 1])
  else redis.call('ZREM', KEYS[4 + i], ARGV[a + 1]) end
  a = a + 3
end`;

/** The (counter, delta) pairs from ARGV[a] to the end into the counters hash KEYS[4], and its facts. */
const counterChanges = (events: string, eventAt: string, projectedAt: string) => `while a < #ARGV do
    redis.call('HINCRBY', KEYS[4], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('HINCRBY', KEYS[4], '${COUNTER_META.events}', ${events})
  local newest = redis.call('HGET', KEYS[4], '${COUNTER_META.eventAt}')
  if not newest or ${eventAt} > newest then redis.call('HSET', KEYS[4], '${COUNTER_META.eventAt}', ${eventAt}) end
  redis.call('HSET', KEYS[4], '${COUNTER_META.projectedAt}', ${projectedAt})`;

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
${namespaceGuard('ARGV[2]', 'ARGV[3]')}
local expected = tonumber(ARGV[1])
local stored = redis.call('HMGET', KEYS[1], 'version', 'eventId')
if tonumber(stored[1] or '0') ~= expected then return 0 end
if ARGV[11] ~= '' and ('=' .. (stored[2] or '')) ~= ARGV[11] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[4], 'eventAt', ARGV[5], 'projectedAt', ARGV[6], 'data', ARGV[7], 'eventId', ARGV[9])
local a = 12
${indexChanges('ARGV[10]')}
if ARGV[8] == '1' then
  ${counterChanges('tonumber(ARGV[4]) - expected', 'ARGV[5]', 'ARGV[6]')}
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

// On a Redis Cluster one script may only touch keys of one hash slot. A document write there is split
// into single-slot steps, made safe to repeat and to interleave:
//   1. APPLY_DOC, in the document's slot: the version check and the document, plus the write's other
//      effects recorded in the document as `pending`. A document with effects pending takes no next version.
//   2. APPLY_GROUP, once per slot the effects touch (the owner's indexes; the collection's shared indexes,
//      counters and namespace keys): applies them unless that slot has seen this document at this version.
//   3. CLEAR_PENDING, in the document's slot, once every group answered.
// Whoever finds a document with effects pending (the next write, a redelivery, a read) completes them
// first, so a crash between the steps delays effects but neither loses nor doubles them.

/**
 * KEYS: doc. ARGV: expectedVersion, version, eventAt, projectedAt, data, eventId, pending ('' for none),
 * expected last event id ('' for any, else '=' and the id).
 * Answers {1, ''} written, {0, ''} version mismatch, {-2, pending} effects of an earlier write to complete first.
 */
export const APPLY_DOC = `
local pending = redis.call('HGET', KEYS[1], 'pending')
if pending then return {-2, pending} end
local stored = redis.call('HMGET', KEYS[1], 'version', 'eventId')
if tonumber(stored[1] or '0') ~= tonumber(ARGV[1]) then return {0, ''} end
if ARGV[8] ~= '' and ('=' .. (stored[2] or '')) ~= ARGV[8] then return {0, ''} end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'eventAt', ARGV[3], 'projectedAt', ARGV[4], 'data', ARGV[5], 'eventId', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'pending', ARGV[7]) end
return {1, ''}
`;

/**
 * KEYS: seen hash, active-namespace key, fence key, counters hash (any key of the slot when unused), then
 * one key per index change. ARGV: member (document id), version, checkNamespace (1|0), namespace,
 * number of index changes, (op, member, score) per change, hasCounters (1|0), events folded, eventAt,
 * projectedAt, then (counter, delta) pairs. Answers 1 applied, 0 seen before, -1 namespace switched or fenced.
 */
export const APPLY_GROUP = `
${namespaceGuard('ARGV[3]', 'ARGV[4]')}
local version = tonumber(ARGV[2])
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') >= version then return 0 end
local a = 6
${indexChanges('ARGV[5]')}
if ARGV[a] == '1' then
  local events, eventAt, projectedAt = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  ${counterChanges('events', 'eventAt', 'projectedAt')}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** KEYS: active-namespace key, fence key. ARGV: namespace. Answers 1 still the one to write, -1 switched or fenced. */
export const CHECK_NAMESPACE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return -1 end
return 1
`;

/** KEYS: doc. ARGV: the pending effects completed. Removes them unless they were replaced meanwhile. */
export const CLEAR_PENDING = `
if redis.call('HGET', KEYS[1], 'pending') == ARGV[1] then redis.call('HDEL', KEYS[1], 'pending') return 1 end
return 0
`;

/**
 * KEYS: documents (one server only: they span slots). Answers, per document, its version and last event
 * id ('' for none), or two '' where there is no complete document: what reconciliation compares, read in
 * one call instead of one command per document, whose client-side cost dominated a sweep.
 */
export const HEADS = `
local out = {}
for _, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'version', 'eventId', 'eventAt', 'projectedAt')
  if h[1] and h[3] and h[4] then
    out[#out + 1] = h[1]
    out[#out + 1] = h[2] or ''
  else
    out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
return out
`;
