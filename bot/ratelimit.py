"""At the door: fixed-window rate limits per user and per client address, and the keys of the
deliveries seen lately.

With Redis the counters are shared by every worker process (INCR, and EXPIRE on a new key, in one
script: one command and one round trip); without it, or while Redis is down, each process counts
for itself, which still stops a flood. A user's message is counted and its delivery key noted in
the same command, so a platform retry is known as one before the database is asked; the database's
unique key stays the judge (a key Redis lost or never had is still caught there).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Optional

log = logging.getLogger(__name__)
WINDOW = 60  # seconds


SEEN_TTL = 300  # seconds a delivery key is kept: WeChat retries within 15 s

_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS: the window's counter, the delivery's key. ARGV: the counter's TTL, the limit (0: none), the
# key's TTL. A message over the limit is not noted: it is refused, and stored nowhere.
_ADMIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local limit = tonumber(ARGV[2])
if limit > 0 and n > limit then return {n, 0} end
local first = redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3])
if first then return {n, 1} end
return {n, 0}
"""


class RateLimiter:
    def __init__(self, redis=None, max_keys: int = 100_000):
        self.redis = redis
        # EVALSHA, each loaded on first use
        self._count = redis.register_script(_COUNT) if redis is not None else None
        self._admit = redis.register_script(_ADMIT) if redis is not None else None
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._redis_failed_at: Optional[float] = None

    def allow(self, scope: str, key: str, limit: int, now: Optional[float] = None) -> bool:
        """Count one hit; False once `limit` hits fell in the current window. limit 0: no limit."""
        if not limit:
            return True
        name = _window_key(scope, key, now)
        count = self._redis(self._count, [name], [WINDOW * 2])
        if count is None:
            count = self._local_count(name)
        return int(count) <= limit

    def admit(self, user: str, limit: int, delivery: str, now: Optional[float] = None) -> tuple[bool, bool]:
        """Count a message of `user` against its limit a minute (0: none) and note its delivery key:
        (allowed, seen before). Without Redis nothing counts as seen: the database tells."""
        name = _window_key("user", user, now)
        result = self._redis(self._admit, [name, f"appealbot:seen:{delivery}"], [WINDOW * 2, limit, SEEN_TTL])
        if result is None:
            return not limit or self._local_count(name) <= limit, False
        count, first = (int(v) for v in result)
        return not limit or count <= limit, not first

    def _redis(self, script, keys: list[str], args: list) -> Optional[object]:
        if self.redis is None or self._redis_failed_at and time.monotonic() - self._redis_failed_at < 5:
            return None  # do not wait on a dead Redis for every request
        try:
            result = script(keys=keys, args=args)
            self._redis_failed_at = None
            return result
        except Exception as exc:  # any Redis failure: count locally rather than fail the request
            if self._redis_failed_at is None:
                log.warning("rate limiter: Redis unavailable (%s); counting per process", type(exc).__name__)
            self._redis_failed_at = time.monotonic()
            return None

    def _local_count(self, name: str) -> int:
        with self._lock:
            count = self._counts.pop(name, 0) + 1
            self._counts[name] = count
            while len(self._counts) > self._max_keys:
                self._counts.popitem(last=False)
            return count


def _window_key(scope: str, key: str, now: Optional[float]) -> str:
    return f"appealbot:rl:{scope}:{key}:{int((now or time.time()) // WINDOW)}"
