-- Writes an order and its audit entry only if the orders' epoch is still the
-- one expected and the audit chain still ends where the entry attaches.
--
-- KEYS: orders, epoch, audit head, audit entries.
-- ARGV: id, body, expected epoch, `create` or `replace`, then the audit run
-- (audit_chain.lua).
-- Returns 1 when written, 0 when creating an id that exists, -1 when the
-- epoch moved, -2 when the audit chain moved.

if ARGV[4] == 'create' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then
  return -1
end
if not audit_attaches(KEYS[3], 5) then
  return -2
end
audit_append(KEYS[3], KEYS[4], 5)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
