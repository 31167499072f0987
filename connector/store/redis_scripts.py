"""The Lua scripts of the Redis state store (`redis_state.py`), each run atomically by
Redis: what must not interleave with another process's writes (a fenced write of an agent's
frames and snapshot, a claim, a renewal) happens in one of them. Key names are
`mobagent:<kind>:<agent>` (redis_state.py lists them); a few are built here from an agent
id, so the store needs one Redis, not a Redis Cluster."""

# Whether the lease `value` still holds the agent: 1 if the lease is ours, or lapsed (a
# pause, Redis restarted) with nobody claiming the agent since (the epoch is still ours, or
# gone with the rest of a Redis that kept nothing): then it is ours again; 2 if so but the
# session record is gone too (the holder writes it again); 0 if another process holds it.
HOLDS = """
local function holds(lease_key, epoch_key, session_key, value, ttl)
  local lease = redis.call('GET', lease_key)
  if lease then
    if lease == value then return 1 end
    return 0
  end
  local mine = string.match(value, '|(%d+)$')
  local epoch = redis.call('GET', epoch_key)
  if epoch and epoch ~= mine then return 0 end
  if not epoch then redis.call('SET', epoch_key, mine) end
  redis.call('SET', lease_key, value, 'PX', ttl)
  if redis.call('EXISTS', session_key) == 1 then return 1 end
  return 2
end
"""

# KEYS: stream, session, tokens set, lease, epoch, the feed of changes. ARGV: maxlen, the
# stream's lifetime in ms once the session ended ("" while it goes on), user, dialogs,
# lease value, lease ms, the feed's cap, the most frames a notice carries, then (seq, ts,
# text) per frame. Fenced: nothing is written unless the lease is the writer's (returns
# -1). Frames not newer than the stream's last entry were written before (a retry):
# skipped. A write that added frames puts a notice in the feed of changes (`a`: the agent;
# per frame, its seq: "ts text"), so that a process following the stream reads them there,
# one request a round; a notice of more frames than that (an outage's backlog) carries none
# (the followers read the stream): the feed's size stays that of a few frames a notice.
# The snapshot is kept only while the session is; its seq is a high-water mark; an empty
# user leaves the stored snapshot as it is. The end of a session takes its tokens, its
# lease and its snapshot.
JOURNAL = (
    HOLDS
    + """
if holds(KEYS[4], KEYS[5], KEYS[2], ARGV[5], ARGV[6]) == 0 then return -1 end
local last = 0
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
local notice = {KEYS[6], 'MAXLEN', '~', ARGV[7], '*', 'a', string.sub(KEYS[1], 17)}
local added = 0
local i = 9
while i <= #ARGV do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i] .. '-0', 't', ARGV[i + 1],
      'f', ARGV[i + 2])
    last = seq
    added = added + 1
    if added <= tonumber(ARGV[8]) then
      notice[#notice + 1] = ARGV[i]
      notice[#notice + 1] = ARGV[i + 1] .. ' ' .. ARGV[i + 2]
    end
  end
  i = i + 3
end
if added > tonumber(ARGV[8]) then notice = {unpack(notice, 1, 7)} end
if added > 0 then redis.call('XADD', unpack(notice)) end
if ARGV[2] ~= '' then
  for _, h in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    redis.call('DEL', 'mobagent:token:' .. h)
  end
  redis.call('DEL', KEYS[3], KEYS[2], KEYS[4])
  redis.call('SREM', 'mobagent:sessions', string.sub(KEYS[2], 18))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  local mark = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
  if last > mark then mark = last end
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[2], 'seq', mark, 'user', ARGV[3], 'dialogs', ARGV[4])
  else  -- no snapshot to hand (a session not kept here yet): the stored one stays
    redis.call('HSET', KEYS[2], 'seq', mark)
  end
end
return last
"""
)

# KEYS: lease, epoch, stream, session. ARGV: owner, lease ms. The agent's lease for `owner`
# with the next epoch (its value "owner|epoch"), or "" if another owner holds it; and the
# highest seq the agent's stream has used (a new session's numbers go on after it, past the
# end of the previous one, which stays readable a while). A lease of the same owner (this
# process's previous life on the same node and port) is taken back at once.
CLAIM = """
local lease = redis.call('GET', KEYS[1])
if lease and string.sub(lease, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return {'', 0} end
local value = ARGV[1] .. '|' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[4], 'seq') or '0')
local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if #top > 0 then
  local seq = tonumber(string.match(top[1][1], '^(%d+)'))
  if seq > last then last = seq end
end
return {value, last}
"""

# KEYS: (lease, epoch, session) per agent. ARGV: lease ms, then the lease value per agent.
# Renews each lease still ours (compare-and-set); per agent what `holds` says.
RENEW = (
    HOLDS
    + """
local out = {}
for n = 1, #KEYS / 3 do
  local k = (n - 1) * 3
  out[n] = holds(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[n + 1], ARGV[1])
  if out[n] > 0 then redis.call('PEXPIRE', KEYS[k + 1], ARGV[1]) end
end
return out
"""
)

# The signed-in agents whose lease lapsed (or was never taken).
UNLEASED = """
local out = {}
for _, agent in ipairs(redis.call('SMEMBERS', 'mobagent:sessions')) do
  if redis.call('EXISTS', 'mobagent:lease:' .. agent) == 0 then out[#out + 1] = agent end
end
return out
"""

# KEYS: tokens set. Every token of the agent, at once.
REVOKE = """
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', 'mobagent:token:' .. h)
end
return redis.call('DEL', KEYS[1])
"""

# -- push (redis_push.py) -------------------------------------------------------------------

# KEYS: the agent's subscriptions (hash: id -> JSON), their order (list, oldest first).
# ARGV: id, endpoint, JSON, the agent's limit, lifetime in s. The same endpoint again keeps
# its id (its keys replaced); past the limit the oldest goes. Returns the id kept.
SUBSCRIBE = """
local id = ARGV[1]
for _, old in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local text = redis.call('HGET', KEYS[1], old)
  if not text or cjson.decode(text)['endpoint'] == ARGV[2] then
    if text then id = old end
    redis.call('HDEL', KEYS[1], old)
    redis.call('LREM', KEYS[2], 0, old)
  end
end
while redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[4]) do
  redis.call('HDEL', KEYS[1], redis.call('LPOP', KEYS[2]))
end
redis.call('HSET', KEYS[1], id, ARGV[3])
redis.call('RPUSH', KEYS[2], id)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return id
"""

# The push subscriptions of every signed-in agent (for /metrics).
SUBSCRIPTIONS = """
local n = 0
for _, agent in ipairs(redis.call('SMEMBERS', 'mobagent:sessions')) do
  n = n + redis.call('HLEN', 'mobagent:push:' .. agent)
end
return n
"""

# KEYS: the agent's WebSocket counts (hash: process -> count), its session. Whether its app
# watches: not said hidden, and a WebSocket open in a live process (one whose
# `mobagent:process:<id>` key is renewed); the counts of a process that went are removed.
ATTENDED = """
if redis.call('HGET', KEYS[2], 'hidden') == '1' then return 0 end
local open = 0
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  if redis.call('EXISTS', 'mobagent:process:' .. counts[i]) == 1 then
    open = open + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], counts[i])
  end
end
if open > 0 then return 1 end
return 0
"""

# KEYS: the agent's session. ARGV: "1" hidden, "0" on screen. Kept in the session's record
# (it goes with it), never making a record of a session that is not there.
VISIBILITY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hidden', ARGV[1])
return 1
"""
