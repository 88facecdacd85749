-- Removes state parts of a partition still at the expected version whose
-- last commit was before a time (or recorded none), and moves its version on.
--
-- KEYS: state.
-- ARGV: expected version, before (ms), then each part's name.
-- Returns 1 when removed, else 0.

local state = redis.call('HMGET', KEYS[1], 'version', 'committed_at')
if tonumber(state[1] or '0') ~= tonumber(ARGV[1]) or tonumber(ARGV[1]) == 0 then
  return 0
end
if state[2] and tonumber(state[2]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HDEL', KEYS[1], unpack(ARGV, 3))
redis.call('HINCRBY', KEYS[1], 'version', 1)
return 1
