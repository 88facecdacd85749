-- Deletes an order with its audit entry, moving the orders' epoch on, only
-- if the audit chain still ends where the entry attaches.
--
-- KEYS: orders, epoch, audit head, audit entries.
-- ARGV: id, then the audit run (audit_chain.lua).
-- Returns 1 when deleted, 0 when there was no such order, -2 when the audit
-- chain moved.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if not audit_attaches(KEYS[3], 2) then
  return -2
end
audit_append(KEYS[3], KEYS[4], 2)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
return 1
