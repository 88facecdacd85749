-- Deletes an order, moving the orders' epoch on if there was one.
--
-- KEYS: orders, epoch.
-- ARGV: id.
-- Returns 1 when deleted.

if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
