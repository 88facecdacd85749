-- Appends audit entries only if the chain still ends where they attach.
--
-- KEYS: audit head, audit entries.
-- ARGV: event id ('' for none), then the run (audit_chain.lua).
-- Returns 1 when appended, 0 when the head moved.

if not audit_attaches(KEYS[1], 2) then
  return 0
end
audit_append(KEYS[1], KEYS[2], 2)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'event', ARGV[1])
end
return 1
