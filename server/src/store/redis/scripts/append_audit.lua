-- Appends audit entries only if the chain still ends where they attach.
--
-- KEYS: audit head, audit entries.
-- ARGV: expected seq, expected hash, genesis hash, the last entry's seq and
-- hash, event id ('' for none), then each entry's JSON.
-- Returns 1 when appended, 0 when the head moved.

local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local hash = redis.call('HGET', KEYS[1], 'hash') or ARGV[3]
if seq ~= tonumber(ARGV[1]) or hash ~= ARGV[2] then
  return 0
end
if #ARGV > 6 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
end
redis.call('HSET', KEYS[1], 'seq', ARGV[4], 'hash', ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'event', ARGV[6])
end
return 1
