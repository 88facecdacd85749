-- Writes an order only if the orders' epoch is still the one expected.
--
-- KEYS: orders, epoch.
-- ARGV: id, body, expected epoch, `create` or `replace`.
-- Returns 1 when written, 0 when creating an id that exists, -1 when the
-- epoch moved.

if ARGV[4] == 'create' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
