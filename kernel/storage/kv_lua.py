"""The Lua scripts of the Redis KV backend and the wire form of admission steps.

Every script is atomic on the Redis that runs it. Throttle and reservation logic is written once,
as Lua functions, and shared by the single-operation scripts and the admission script, so a
throttle or reservation inside :meth:`~kernel.storage.kv.KV.admit` behaves exactly like
:meth:`~kernel.storage.kv.KV.throttle` / :meth:`~kernel.storage.kv.KV.reserve` (mirrored by
:mod:`kernel.storage.kv_memory`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from kernel.storage.kv import (
    Absent,
    AdmitStep,
    Reservation,
    Reserved,
    StepResult,
    Throttle,
    ThrottleStep,
    gcra_interval_us,
    require_one_slot,
)

__all__ = [
    "ADMIT_LUA",
    "BATCH_LUA",
    "CAS_LUA",
    "INCR_WINDOW_LUA",
    "RESERVE_LUA",
    "THROTTLE_LUA",
    "decode_batch",
    "decode_reserved",
    "decode_steps",
    "decode_throttle",
    "encode_group",
    "encode_steps",
    "reserve_args",
    "ttl_ms",
]

# INCRBY leaves a new key without a TTL (-1), so one check covers "new" and "never expired".
INCR_WINDOW_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}
"""

# ARGV: expect_absent ('1'/'0'), expected, value, ttl_ms ('0' = no expiry).
CAS_LUA = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[4] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1
"""

# GCRA in integer microseconds on Redis' clock (replicas' clocks may disagree); mirrors _gcra in
# kv_memory. %d keeps 16-digit TATs out of exponent notation. Answers {allowed, remaining,
# reset_us, retry_us}.
_THROTTLE_FN = """
local function throttle(key, interval, limit, cost)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tolerance = interval * limit
  local tat = math.max(tonumber(redis.call('GET', key)) or now, now)
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance
  if now < allow_at then
    return {0, math.floor((now - tat + tolerance) / interval), tat - now, allow_at - now}
  end
  local px = math.max(1, math.ceil((new_tat - now) / 1000))
  redis.call('SET', key, string.format('%d', new_tat), 'PX', string.format('%d', px))
  return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
end
"""

# All-or-nothing adds on KEYS[k0 + 1 .. k0 + n], ARGV from a0 + 1, per key: amount, limit
# ('' = none), ttl_ms ('0' = none), must_exist ('1' or '0'). Counters stay integers (INCRBY);
# limits compare as Lua numbers, exact below 2^53. Answers {allowed, refused index, totals,
# missing index}.
_RESERVE_FN = """
local function reserve(k0, n, a0)
  local current = {}
  for i = 1, n do
    local value = redis.call('GET', KEYS[k0 + i])
    if not value and ARGV[a0 + 4 * i] == '1' then
      return {0, 0, {}, i}
    end
    current[i] = tonumber(value) or 0
  end
  for i = 1, n do
    local amount, limit = tonumber(ARGV[a0 + 4 * i - 3]), ARGV[a0 + 4 * i - 2]
    if limit ~= '' and amount > 0 and current[i] + amount > tonumber(limit) then
      return {0, i, current, 0}
    end
  end
  local totals = {}
  for i = 1, n do
    totals[i] = redis.call('INCRBY', KEYS[k0 + i], ARGV[a0 + 4 * i - 3])
    local ttl = ARGV[a0 + 4 * i - 1]
    if ttl ~= '0' and redis.call('PTTL', KEYS[k0 + i]) < 0 then
      redis.call('PEXPIRE', KEYS[k0 + i], ttl)
    end
  end
  return {1, 0, totals, 0}
end
"""

# ARGV: interval_us, limit, cost.
THROTTLE_LUA = (
    _THROTTLE_FN
    + "return throttle(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))\n"
)
RESERVE_LUA = _RESERVE_FN + "return reserve(0, #KEYS, 0)\n"

# The steps of one admission: ARGV[a + 1 .. last] (KEYS from k + 1), per step 'a' (refuse when
# its key exists), 't', interval, limit, cost (one key), or 'r', n, then 4 ARGV per key (n keys).
# Answers one entry per step that ran: {0 or 1} for 'a', the throttle or reserve answer otherwise;
# ``stop`` ends it after the first refusing step.
_STEPS_FN = """
local function steps(stop, k, a, last)
  local out = {}
  while a < last do
    local kind, result, passed = ARGV[a + 1], nil, false
    if kind == 'a' then
      k = k + 1
      passed = redis.call('EXISTS', KEYS[k]) == 0
      result = {passed and 1 or 0}
      a = a + 1
    elseif kind == 't' then
      k = k + 1
      local interval, limit = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
      result = throttle(KEYS[k], interval, limit, tonumber(ARGV[a + 4]))
      passed = result[1] == 1
      a = a + 4
    else
      local n = tonumber(ARGV[a + 2])
      result = reserve(k, n, a + 2)
      passed = result[1] == 1
      k = k + n
      a = a + 2 + 4 * n
    end
    out[#out + 1] = result
    if stop and not passed then break end
  end
  return out
end
"""

# ARGV[1]: '1' stops after the first refusing step, '0' runs every step (independent
# reservations); then the steps (see _STEPS_FN).
ADMIT_LUA = _THROTTLE_FN + _RESERVE_FN + _STEPS_FN + "return steps(ARGV[1] == '1', 0, 1, #ARGV)\n"

# Several admissions in one script (:mod:`kernel.storage.kv_batch`), each exactly as ADMIT_LUA
# runs it, one after the other. Per group ARGV: stop ('1'/'0'), its KEYS count, its steps' ARGV
# count, then those ARGV; its KEYS follow the previous group's. Answers one ADMIT_LUA answer per
# group, as one JSON string of integers (%d: exact below 2^53), which msgspec decodes in one call
# where redis-py would parse every nested reply element in Python.
BATCH_LUA = (
    _THROTTLE_FN
    + _RESERVE_FN
    + _STEPS_FN
    + """
local function json(v)
  if type(v) ~= 'table' then return string.format('%d', v) end
  local parts = {}
  for i = 1, #v do parts[i] = json(v[i]) end
  return '[' .. table.concat(parts, ',') .. ']'
end
local k, a, out = 0, 0, {}
while a < #ARGV do
  local nkeys, nargs = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  out[#out + 1] = steps(ARGV[a + 1] == '1', k, a + 3, a + 3 + nargs)
  k = k + nkeys
  a = a + 3 + nargs
end
return json(out)
"""
)


def ttl_ms(ttl: float) -> int:
    """Seconds as whole milliseconds, at least 1."""
    return max(1, round(ttl * 1000))


def reserve_args(items: Sequence[Reservation]) -> list[int | str]:
    """The four ARGV entries per item the reserve function reads."""
    args: list[int | str] = []
    for item in items:
        limit = "" if item.limit is None else item.limit
        ttl = 0 if item.ttl is None else ttl_ms(item.ttl)
        args += [item.amount, limit, ttl, int(item.must_exist)]
    return args


def encode_steps(
    steps: Sequence[AdmitStep], prefix: str, *, stop: bool
) -> tuple[list[str], list[int | str]]:
    """KEYS and ARGV of :data:`ADMIT_LUA` for ``steps``; ValueError for an invalid step."""
    keys: list[str] = []
    args: list[int | str] = ["1" if stop else "0"]
    for step in steps:
        if isinstance(step, Absent):
            keys.append(prefix + step.key)
            args.append("a")
        elif isinstance(step, ThrottleStep):
            interval = gcra_interval_us(limit=step.limit, period=step.period, cost=step.cost)
            keys.append(prefix + step.key)
            args += ["t", interval, step.limit, step.cost]
        else:
            require_one_slot([item.key for item in step.items])
            keys += [prefix + item.key for item in step.items]
            args += ["r", len(step.items), *reserve_args(step.items)]
    return keys, args


def encode_group(
    steps: Sequence[AdmitStep], prefix: str, *, stop: bool
) -> tuple[list[str], list[int | str]]:
    """KEYS and ARGV of one group of :data:`BATCH_LUA`; ValueError for an invalid step."""
    keys, args = encode_steps(steps, prefix, stop=stop)
    args[0:1] = [args[0], len(keys), len(args) - 1]
    return keys, args


def decode_batch(answer: bytes) -> list[Any]:
    """The per-group answers of :data:`BATCH_LUA`."""
    groups: list[Any] = msgspec.json.decode(answer)
    return groups


def decode_throttle(answer: Sequence[Any], limit: int) -> Throttle:
    """A throttle answer as :class:`Throttle`."""
    allowed, remaining, reset_us, retry_us = answer
    return Throttle(
        allowed=int(allowed) == 1,
        limit=limit,
        remaining=int(remaining),
        reset_after=int(reset_us) / 1e6,
        retry_after=int(retry_us) / 1e6,
    )


def decode_reserved(answer: Sequence[Any]) -> Reserved:
    """A reserve answer as :class:`Reserved`."""
    allowed, refused, totals, missing = answer
    return Reserved(
        allowed=int(allowed) == 1,
        totals=tuple(int(total) for total in totals),
        refused=int(refused) - 1 if int(refused) else None,
        missing=int(missing) - 1 if int(missing) else None,
    )


def decode_steps(steps: Sequence[AdmitStep], answers: Sequence[Any]) -> list[StepResult]:
    """The results of the steps that ran (a prefix of ``steps``)."""
    results: list[StepResult] = []
    for step, answer in zip(steps, answers, strict=False):
        if isinstance(step, Absent):
            results.append(int(answer[0]) == 1)
        elif isinstance(step, ThrottleStep):
            results.append(decode_throttle(answer, step.limit))
        else:
            results.append(decode_reserved(answer))
    return results
