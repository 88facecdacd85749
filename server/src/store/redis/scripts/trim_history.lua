-- Takes fixes older than `before` from the head of each device's fixes list,
-- 100 at a time, and unlists a device whose list it emptied.
--
-- KEYS: history-devices, then per device its fixes list.
-- ARGV: before, then each device.
-- Returns how many fixes went.

local before = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local fixes = KEYS[i]
  repeat
    local head = redis.call('LRANGE', fixes, 0, 99)
    local old = 0
    for _, fix in ipairs(head) do
      if cjson.decode(fix).ts >= before then
        break
      end
      old = old + 1
    end
    if old > 0 then
      redis.call('LTRIM', fixes, old, -1)
      removed = removed + old
    end
  until old < 100
  if redis.call('LLEN', fixes) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
