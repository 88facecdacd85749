-- Replaces an alert's latest revision and timeline with ones without
-- positions, if no commit changed them since they were read.
--
-- KEYS: alerts, the alert's timeline.
-- ARGV: alert id, its latest revision as read, the timeline's length as
-- read, the new latest revision, then each new timeline entry.
-- Returns 1 when replaced, else 0.

if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2]
    or redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('DEL', KEYS[2])
if #ARGV > 4 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 5))
end
return 1
