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

log = logging.getLogger(__name__)
WINDOW = 60  # seconds
SEEN_TTL = 300  # seconds a delivery key is kept: WeChat retries within 15 s

# KEYS: the window's counter [, a delivery's key]. ARGV: the counter's TTL, the limit (0: none), the
# key's TTL. Returns {count, 1 if the delivery key was new}. A message over the limit is not noted:
# it is refused, and stored nowhere.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local limit = tonumber(ARGV[2])
if KEYS[2] == nil or (limit > 0 and n > limit) then return {n, 0} end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then return {n, 1} end
return {n, 0}
"""


class RateLimiter:
    def __init__(self, redis=None, max_keys: int = 100_000):
        self.redis = redis
        self._hit = redis.register_script(_HIT) if redis is not None else None  # EVALSHA, loaded on first use
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._redis_failed_at: float | None = None

    def allow(self, scope: str, key: str, limit: int, now: float | None = None) -> bool:
        """Count one hit; False once `limit` hits fell in the current window. limit 0: no limit."""
        return not limit or self._count(_window_key(scope, key, now), limit)[0] <= limit

    def admit(self, user: str, limit: int, delivery: str, now: float | None = None) -> tuple[bool, bool]:
        """Count a message of `user` against its limit a minute (0: none) and note its delivery key:
        (allowed, seen before). Without Redis nothing counts as seen: the database tells."""
        count, first = self._count(_window_key("user", user, now), limit, f"appealbot:seen:{delivery}")
        return not limit or count <= limit, not first

    def _count(self, name: str, limit: int, delivery: str | None = None) -> tuple[int, bool]:
        """(hits in the window so far, whether the delivery key was new); per process without Redis."""
        if self._hit is not None and not (self._redis_failed_at and time.monotonic() - self._redis_failed_at < 5):
            try:
                count, first = self._hit(
                    keys=[name, delivery] if delivery else [name], args=[WINDOW * 2, limit, SEEN_TTL]
                )
                self._redis_failed_at = None
                return int(count), bool(first)
            except Exception as exc:  # any Redis failure: count locally rather than fail the request
                if self._redis_failed_at is None:
                    log.warning("rate limiter: Redis unavailable (%s); counting per process", type(exc).__name__)
                self._redis_failed_at = time.monotonic()
        return self._local_count(name), True

    def _local_count(self, name: str) -> int:
        with self._lock:
            count = self._counts.pop(name, 0) + 1
            self._counts[name] = count
            while len(self._counts) > self._max_keys:
                self._counts.popitem(last=False)
            return count


def seconds_to_next_window(now: float | None = None) -> int:
    """When a user over the limit may send again: the current window's remaining seconds."""
    moment = now if now is not None else time.time()
    return max(1, int(WINDOW - moment % WINDOW + 0.999))


def _window_key(scope: str, key: str, now: float | None) -> str:
    return f"appealbot:rl:{scope}:{key}:{int((now or time.time()) // WINDOW)}"
