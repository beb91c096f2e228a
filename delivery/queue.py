"""The job queue (huey): notification delivery and the periodic deadline sweep.

Embedded (`make run`): a SQLite file under VAR_DIR and a consumer thread inside the web process.
Scaled out: Redis, and `appealbot worker` processes. Tests: in memory, drained explicitly.
"""

from __future__ import annotations

import logging
import os
import signal

from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab

from contacts import callouts
from core import unit
from delivery.deliver import deliver_pending
from delivery.sender import Sender
from tickets import attachments, jobs

log = logging.getLogger(__name__)
GATHER_SECONDS = 1  # a notice waits at most this long (plus the scheduler's 1 s tick) for others to join it


def install(cfg, state) -> None:
    """Builds the queue and its tasks onto `state` (the app's bot/state.AppState: its sessions, clock,
    huey and tasks), and wakes delivery after commits that wrote notices. Knows nothing of Flask."""
    # results=False: nobody reads a task's return value, and storing it costs a write per job.
    if cfg["QUEUE"] == "memory":
        huey = MemoryHuey(cfg["QUEUE_NAME"], immediate=False, utc=True, results=False)
    elif cfg["QUEUE"] == "redis":
        # Short socket timeouts: a frozen Redis must not hold a webhook (the enqueue after a commit);
        # 1.5 s still covers huey's 1 s blocking read in the consumer.
        import redis

        pool = redis.ConnectionPool.from_url(cfg["REDIS_URL"], socket_timeout=1.5, socket_connect_timeout=0.5)
        huey = RedisHuey(cfg["QUEUE_NAME"], connection_pool=pool, utc=True, results=False)
    else:
        os.makedirs(cfg["VAR_DIR"], exist_ok=True)
        huey = SqliteHuey(cfg["QUEUE_NAME"], filename=os.path.join(cfg["VAR_DIR"], "queue.db"), utc=True, results=False)
    sender = Sender(cfg, state.Session)

    # With Redis, one wake-up waiting is enough: the job clears the flag before it scans, so whatever
    # was committed before a skipped kick is found by the scan that follows. The wake-up waits
    # GATHER_SECONDS, so that a busy minute's tickets go out in a few jobs, not one job each.
    flag = f"{cfg['QUEUE_NAME']}:deliver-queued" if cfg["QUEUE"] == "redis" else None

    @huey.task(retries=3, retry_delay=10)
    def deliver():
        if flag:
            huey.storage.conn.delete(flag)
        outcome = deliver_pending(state.Session, sender, state.services.clock(), cfg["PUBLIC_URL"])
        if "next_in" in outcome:
            deliver.schedule(delay=outcome["next_in"])  # a limited or failed send is due again then
        return outcome

    @huey.task(retries=2, retry_delay=30)
    def fetch_media():
        return attachments.fetch_pending(state.Session, cfg, media_clients(sender), state.services.clock())

    @huey.periodic_task(crontab(minute="*"))
    def tick():
        done = sweep(state.Session, cfg, state.services.clock())
        deliver_pending(state.Session, sender, state.services.clock(), cfg["PUBLIC_URL"])
        attachments.fetch_pending(state.Session, cfg, media_clients(sender), state.services.clock())
        return done

    state.huey, state.tasks = huey, {"deliver": deliver, "tick": tick, "fetch_media": fetch_media}

    def kick() -> None:
        if flag is None:
            deliver()
        elif huey.storage.conn.set(flag, 1, nx=True, ex=10 + GATHER_SECONDS):
            deliver.schedule(delay=GATHER_SECONDS)

    unit.set_wakers(state.Session, deliver=kick, fetch_media=fetch_media)


def sweep(Session, cfg, now) -> dict[str, int]:
    """The periodic sweep: tickets' deadlines and SMS 回访 (tickets/jobs.py), overdue call-outs."""
    done = jobs.sweep(Session, cfg, now)
    with Session() as s, s.begin():
        done["call_outs_reminded"] = callouts.overdue_call_outs(s, now)
    return done


def media_clients(sender) -> dict:
    """The clients that download an enterprise's media, by the channel it wrote from."""
    return {"wechat": sender.wechat, "wecom": sender.wecom}


def drain(huey) -> int:
    """Runs every task waiting in the queue now, in this thread (tests and `appealbot jobs run`)."""
    n = 0
    while True:
        task = huey.dequeue()
        if task is None:
            return n
        huey.execute(task)
        n += 1


def start_consumer(huey, workers: int = 1):
    """A consumer thread inside this process; the process keeps its own signal handlers."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True, check_worker_health=False)
    consumer.start()
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    return consumer
