-- The audit chain's part of a script: checking that a run of entries still
-- attaches to the chain's end, and appending it. A script that uses it is
-- this file followed by the script's own text.
--
-- The run's arguments, from ARGV[first]: the seq and hash the chain must end
-- at, the genesis hash, the run's last seq and hash, then each entry's JSON.

-- Whether the chain whose head is `head` still ends where the run attaches.
local function audit_attaches(head, first)
  local seq = tonumber(redis.call('HGET', head, 'seq') or '0')
  local hash = redis.call('HGET', head, 'hash') or ARGV[first + 2]
  return seq == tonumber(ARGV[first]) and hash == ARGV[first + 1]
end

-- Appends the run and moves the head to its end. A chain that cannot grow
-- fails here, so a script calls it before its other writes.
local function audit_append(head, entries, first)
  if #ARGV >= first + 5 then
    redis.call('RPUSH', entries, unpack(ARGV, first + 5))
  end
  redis.call('HSET', head, 'seq', ARGV[first + 3], 'hash', ARGV[first + 4])
end
