-- Commits one step of one partition, if it is still at the expected version:
-- its state parts, its fixes, and its alert revisions into their alerts,
-- timelines, the partition's outbox, the event stream and the alerts' time
-- index.
--
-- KEYS: state, history-devices, one fixes list per fix, then only with
-- revisions: alerts, outbox, the event stream, the time index and one
-- timeline per revision.
-- ARGV: expected version, the commit's time (ms), #parts, #fixes, per part
-- (name, bytes), per fix (device, fix, '1' to list the device in
-- history-devices or ''), then only with revisions: the events' max length
-- and per revision (alert id, current, timeline entry, outbox key, outbox
-- entry, updated_at ms, time index member). A location commit thus passes
-- Redis no key or argument it does not use.
-- Returns the new version, or -1 on a conflict.

local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then
  return -1
end
local parts = tonumber(ARGV[3])
local fixes = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'version', version + 1, 'committed_at', ARGV[2],
  unpack(ARGV, 5, 4 + 2 * parts))
local arg = 5 + 2 * parts
for i = 1, fixes do
  if ARGV[arg + 2] == '1' then
    redis.call('SADD', KEYS[2], ARGV[arg])
  end
  redis.call('RPUSH', KEYS[2 + i], ARGV[arg + 1])
  arg = arg + 3
end
if arg <= #ARGV then
  local alerts, outbox, events = KEYS[3 + fixes], KEYS[4 + fixes], KEYS[5 + fixes]
  local times = KEYS[6 + fixes]
  local max_len = ARGV[arg]
  local timeline = 7 + fixes
  for revision = arg + 1, #ARGV, 7 do
    redis.call('HSET', alerts, ARGV[revision], ARGV[revision + 1])
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'body', ARGV[revision + 2])
    redis.call('RPUSH', KEYS[timeline], ARGV[revision + 2])
    redis.call('HSET', outbox, ARGV[revision + 3], ARGV[revision + 4])
    redis.call('ZADD', times, ARGV[revision + 5], ARGV[revision + 6])
    timeline = timeline + 1
  end
end
return version + 1
