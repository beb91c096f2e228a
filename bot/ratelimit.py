"""Fixed-window rate limits per user and per client address.

With Redis the counters are shared by every worker process (INCR, and EXPIRE on a new key, in one
script: one command and one round trip); without it, or while Redis is down, each process counts
for itself, which still stops a flood.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Optional

log = logging.getLogger(__name__)
WINDOW = 60  # seconds


_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RateLimiter:
    def __init__(self, redis=None, max_keys: int = 100_000):
        self.redis = redis
        self._count = redis.register_script(_COUNT) if redis is not None else None  # EVALSHA, loaded on first use
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._redis_failed_at: Optional[float] = None

    def allow(self, scope: str, key: str, limit: int, now: Optional[float] = None) -> bool:
        """Count one hit; False once `limit` hits fell in the current window. limit 0: no limit."""
        if not limit:
            return True
        window = int((now or time.time()) // WINDOW)
        name = f"appealbot:rl:{scope}:{key}:{window}"
        count = self._redis_count(name) if self.redis is not None else None
        if count is None:
            count = self._local_count(name)
        return count <= limit

    def _redis_count(self, name: str) -> Optional[int]:
        if self._redis_failed_at and time.monotonic() - self._redis_failed_at < 5:
            return None  # do not wait on a dead Redis for every request
        try:
            count = self._count(keys=[name], args=[WINDOW * 2])
            self._redis_failed_at = None
            return int(count)
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
