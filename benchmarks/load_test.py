"""Load test: encrypted 公众号 traffic against the production deployment, and against a bare endpoint.

    .venv/bin/python benchmarks/load_test.py [--rate 200] [--duration 60] [--workers 3] [--threads 4]

What it starts on loopback, each torn down at the end:
  - a PostgreSQL schema of its own on the local server (`appealbot db upgrade`, the demo departments,
    the demo accounts' passwords replaced so that production mode starts), dropped afterwards;
  - `appealbot serve --prod` (gunicorn gthread workers, model preloaded), one `appealbot worker`
    consuming a Redis queue of its own, and the fake WeCom/公众号 API (tests/fake_platform.py) that
    the notifications go to;
  - the same gunicorn set-up serving a bare Flask + wechatpy endpoint that only checks the
    signature, decrypts and answers (`--serve-bare`, defined below), measured first.

The load is open-loop: one delivery starts every 1/rate seconds whatever the server does, sent over
keep-alive HTTP/1.1 connections from one asyncio event loop (a few lines of HTTP below: a pool of
threads with urllib3 cost 1.0 ms of CPU per request here, this 0.4 ms, and the generator shares the
machine with what it measures).
Every simulated user is a new openid that sends the messages of one appeal (the text, the company
name, a phone number, "1" to confirm), pausing between them as a person would. About 10 % of the
deliveries are exact retries of an answered message (same bytes, same MsgId: WeChat resends what it
got no answer to) and a few per cent are sent twice at the same moment (retries racing each other
across workers). Retries count toward the rate: the server sees `--rate` POSTs a second.

Afterwards it checks, from the database, that each user whose appeal was confirmed has exactly one
ticket (the one named in the reply), that unfinished appeals have none, that every MsgId was
stored once and handled, and that each notification reached the fake platform once. Latency is
measured from the moment a request is written; the pacing lag (how late a request left compared
with its schedule) is printed separately so a generator that could not keep up is visible, and so
is the CPU that other processes on the machine used meanwhile.
Exit status 1 when a check or an issue-8 target (p99 < 300 ms, no errors, nothing lost or
duplicated, the rate held) fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import heapq
import itertools
import logging
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import ticket_number  # no imports of its own: cheap for the generator

TOKEN = "loadtest-wechat-token-7Hq2"
APPID = "wxload0000000001"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECOM = {
    "APPEALBOT_WECOM_TOKEN": "loadtest-wecom-token-4Kp9",
    "APPEALBOT_WECOM_CORP_ID": "wwload000000001",
    "APPEALBOT_WECOM_AES_KEY": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
}
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"  # the test suite uses 15

# First messages of appeals across the categories; the bot's own first reply decides which are used
# (one that the classifier sends elsewhere, to a policy answer or a clarifying question, is dropped).
APPEAL_TEXTS = [
    "厂里新上了两条生产线，变压器容量不够，申请增容报装一个多月了还没批下来",
    "我们园区这周停了三次电，每次都没有提前通知，冷库里的货损失很大",
    "天然气管道什么时候能通到城北园区，现在用液化气罐成本太高",
    "工业园区自来水水压太低，二楼以上的车间经常没水，影响清洗工序",
    "新厂房的土地手续卡在不动产登记，已经跑了四趟还是说材料不全",
    "环评批复一直没下来，设备都到了不能开工，请帮忙协调一下进度",
    "营业执照经营范围变更网上提交后一直显示审核中，已经两周了",
    "食品经营许可证延续申请提交了二十天还没有结果，马上要过期了",
    "我们的商标被人仿冒，线上店铺卖山寨货，想请相关部门帮忙处理",
    "公司给员工补缴社保，系统里一直提示数据异常，办不下去",
    "公积金缴存基数调整后单位账户显示异常，员工没法提取",
    "员工异地就医医保报销手续太复杂，能不能帮忙协调一下",
    "企业流动资金紧张，申请的应急转贷资金一直没有批复",
    "银行说我们没有抵押物不给贷款，想问政府有没有担保支持",
    "有一笔货款被拖欠了两年，对方公司还在正常经营，想申请法律援助",
    "判决已经生效半年了，执行一直没有进展，企业快撑不下去了",
    "引进的技术人才孩子要转学到城区学校，学位一直落实不了",
    "外地来的高管家属看病就医没有医保关系，希望能协调解决",
    "厂区门口的道路施工半年了还没完工，货车进不来，影响发货",
    "项目审批涉及好几个部门，互相推诿，希望营商办牵头协调",
    "隔壁工地夜间施工，我们员工宿舍没法休息，找了几次没人管",
    "园区污水管网没有接通，我们的污水只能拉走处理，费用很高",
    "特种设备年检预约不上，过期了就要停用，请帮忙协调检验机构",
    "办理施工许可证时被要求提供法律法规没有规定的证明材料",
]

# The bot's replies at each step of the appeal flow (handlers/appeal.py), and what a user answers.
ASKS_NAME, ASKS_PHONE, ASKS_ANONYMOUS, ASKS_CONFIRM, ACCEPTED = "企业名称", "联系电话", "实名反映", "确认提交", "已受理"
FIRST_MSG_ID = 6_100_000_000_000_000_001


# -- the bare endpoint: only verify, decrypt and answer ------------------------------------------


def bare_app():
    from flask import Flask, Response, request
    from wechatpy import create_reply, parse_message
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.exceptions import InvalidSignatureException

    app = Flask("bare-wechat")
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/wechat")
    def wechat():
        args = request.args
        if signature(TOKEN, args["timestamp"], args["nonce"]) != args.get("signature"):
            return "invalid signature", 403
        try:
            xml = crypto.decrypt_message(request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"])
        except InvalidSignatureException:
            return "invalid signature", 403
        message = parse_message(xml)
        reply = create_reply(f"收到：{message.content}", message)
        return Response(crypto.encrypt_message(reply.render(), args["nonce"]), mimetype="application/xml")

    return app


def serve_bare(bind: str, workers: int, threads: int) -> None:
    """The same gunicorn settings as bot/production.py, around the bare app."""
    from gunicorn.app.base import BaseApplication

    app = bare_app()

    class Application(BaseApplication):
        def load_config(self):
            for name, value in {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "preload_app": True,
                "timeout": 30,
                "graceful_timeout": 10,
                "accesslog": None,
            }.items():
                self.cfg.set(name, value)

        def load(self):
            return app

    Application().run()


# -- the 公众号 side: build encrypted deliveries, read encrypted replies ---------------------------


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class WeChatPlatform:
    """Encrypts messages as the 公众号 platform does (safe mode) and decrypts the replies."""

    _FIELD = {
        name: re.compile(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", re.S)
        for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce", "Content")
    }

    def __init__(self):
        from wechatpy.crypto import PrpCrypto

        self.key = base64.b64decode(AES_KEY + "=")
        self.prp = PrpCrypto

    def delivery(self, openid: str, text: str, msg_id: int) -> tuple[str, bytes]:
        ts, nonce = str(int(time.time())), str(random.randrange(10**9, 10**10))
        xml = (
            f"<xml><ToUserName><![CDATA[gh_load]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        )
        encrypted = self.prp(self.key).encrypt(xml, APPID).decode()
        query = {
            "signature": signature(TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": openid,
            "encrypt_type": "aes",
            "msg_signature": signature(TOKEN, ts, nonce, encrypted),
        }
        body = f"<xml><ToUserName><![CDATA[gh_load]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return "/wechat?" + urlencode(query), body.encode()

    def reply_text(self, body: bytes) -> str:
        """The reply's text ("" for "success"); ValueError when it is not a valid encrypted reply."""
        text = body.decode()
        if text in ("", "success"):
            return ""
        found = {name: pattern.search(text) for name, pattern in self._FIELD.items() if name != "Content"}
        if not all(found.values()):
            raise ValueError("reply is not an encrypted envelope")
        encrypted, sig, ts, nonce = (found[n].group(1) for n in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce"))
        if signature(TOKEN, ts, nonce, encrypted) != sig:
            raise ValueError("reply signature does not match")
        content = self._FIELD["Content"].search(self.prp(self.key).decrypt(encrypted, APPID))
        if content is None:
            raise ValueError("reply has no Content")
        return content.group(1)


# -- the simulated users and the open-loop generator ---------------------------------------------


@dataclass
class User:
    openid: str
    appeal: str
    company: str
    phone: str
    step: int = 0  # messages answered so far
    state: str = "active"  # active | done | broken
    ticket: str | None = None
    confirm_sent: bool = False  # a "1" was sent: a ticket may exist even if its answer was lost
    last_prompt: str = ""


@dataclass
class Delivery:
    kind: str  # first | retry | duplicate
    path: str
    body: bytes
    user: User | None = None
    text: str = ""
    original: Delivery | None = None
    group: list[Delivery] = field(default_factory=list)  # a message sent twice at once
    scheduled: float = 0.0
    started: float = 0.0
    latency: float = 0.0
    status: int = 0
    reply: str | None = None
    error: str = ""
    done: bool = False  # answered (or failed) and judged


class Connection:
    """One keep-alive HTTP/1.1 connection: POST a body, read the status and a Content-Length body."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        # A connection the server closed while idle (gunicorn's keep-alive timeout) is opened anew;
        # a request that met such a close on the way is sent again, as HTTP clients do.
        for _ in range(2):
            fresh = self.writer is None or self.reader.at_eof()
            if fresh:
                self.close()
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                return await self._exchange(path, body)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh:
                    raise
        raise ConnectionError("connection closed twice")

    async def _exchange(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length, close = int(head[9:12]), None, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise ValueError("response without Content-Length")
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Generator:
    def __init__(
        self,
        port: int,
        *,
        bare: bool,
        rate: float,
        duration: float,
        retry_share: float,
        duplicate_share: float,
        think: tuple[float, float],
        clients: int,
        texts: list[str],
        prefix: str,
        msg_ids,
        seed: int,
    ):
        self.port = port
        self.platform = WeChatPlatform()
        self.bare, self.rate, self.duration = bare, rate, duration
        self.retry_share, self.duplicate_share, self.think = retry_share, duplicate_share, think
        self.clients, self.texts, self.prefix, self.msg_ids = clients, texts, prefix, msg_ids
        self.rng = random.Random(seed)
        self.ready: list[tuple[float, int, User]] = []  # (ready_at, n, user): heap of users between messages
        self.order = itertools.count()
        self.users: list[User] = []
        self.answered: deque[Delivery] = deque(maxlen=500)  # recent answered messages, for exact retries
        self.deliveries: list[Delivery] = []
        self.problems: Counter[str] = Counter()
        self.samples: dict[str, str] = {}
        self.idle: list[Connection] = []  # everything runs on the event loop's thread: no locks

    # what to send next -------------------------------------------------------------------------

    def _new_user(self) -> User:
        n = len(self.users)
        user = User(
            openid=f"{self.prefix}{n:06d}",
            appeal=self.rng.choice(self.texts),
            company=f"压测{self.prefix[-4:]}第{n}号机械制造有限公司",
            phone=f"139{n % 100_000_000:08d}",
        )
        self.users.append(user)
        return user

    def _next_text(self, user: User) -> str:
        if user.step == 0:
            return user.appeal
        if self.bare:
            return [user.company, user.phone, "1"][user.step - 1]
        return {ASKS_NAME: user.company, ASKS_PHONE: user.phone, ASKS_ANONYMOUS: "1", ASKS_CONFIRM: "1"}[
            user.last_prompt
        ]

    def _ready_user(self, now: float) -> User:
        if self.ready and self.ready[0][0] <= now:
            return heapq.heappop(self.ready)[2]
        return self._new_user()

    def _actions(self, now: float) -> list[Delivery]:
        roll = self.rng.random()
        original = self.rng.choice(self.answered) if roll < self.retry_share and self.answered else None
        if original is not None:
            return [Delivery("retry", original.path, original.body, original=original)]
        user = self._ready_user(now)
        text = self._next_text(user)
        if text == "1" and user.step > 0:
            user.confirm_sent = True
        path, body = self.platform.delivery(user.openid, text, next(self.msg_ids))
        first = Delivery("first", path, body, user=user, text=text)
        if roll < self.retry_share + self.duplicate_share:
            twin = Delivery("duplicate", path, body, user=user, text=text, original=first)
            first.group = twin.group = [first, twin]
            return [first, twin]
        return [first]

    # running -----------------------------------------------------------------------------------

    def run(self) -> dict:
        cpu_before = os.times()
        # The generator keeps every delivery: a full collection over them would stall the event
        # loop for tens of ms and show as the server's latency. Its few cycles can wait.
        gc.disable()
        # WeChat's servers are not on this machine: the generator's own wait for a CPU must not show
        # as the server's latency either, so its thread runs ahead of the others (root only). Its
        # CPU is still the machine's, and still counted below.
        before = thread_priority(-5)
        try:
            asyncio.run(self._run())
        finally:
            gc.enable()
            if before is not None:
                thread_priority(before)
        cpu_after = os.times()
        return {
            "sent": len(self.deliveries),
            "generator_cpu": (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        }

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.clients)  # at most this many requests (and connections) at once
        tasks = []
        start = time.perf_counter() + 0.05
        total = int(self.rate * self.duration)
        i = 0
        while i < total:
            target = start + i / self.rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for delivery in self._actions(target):
                delivery.scheduled = target
                self.deliveries.append(delivery)
                tasks.append(asyncio.create_task(self._send(delivery, slots)))
                i += 1
        await asyncio.gather(*tasks)
        for connection in self.idle:
            connection.close()

    async def _send(self, delivery: Delivery, slots: asyncio.Semaphore) -> None:
        async with slots:
            connection = self.idle.pop() if self.idle else Connection(self.port)
            delivery.started = time.perf_counter()
            try:
                delivery.status, data = await asyncio.wait_for(connection.post(delivery.path, delivery.body), 15)
                self.idle.append(connection)
            except Exception as exc:  # any transport failure is one of the errors reported
                connection.close()
                delivery.error = f"{type(exc).__name__}"
                data = b""
            delivery.latency = time.perf_counter() - delivery.started
        if delivery.status == 200:
            try:
                delivery.reply = self.platform.reply_text(data)
            except (ValueError, UnicodeDecodeError) as exc:
                delivery.error = f"undecryptable reply: {exc}"
        elif not delivery.error:
            delivery.error = f"HTTP {delivery.status}"
        self._record(delivery)

    # judging the answers -----------------------------------------------------------------------

    def _problem(self, name: str, detail: str = "") -> None:
        self.problems[name] += 1
        self.samples.setdefault(name, detail[:200])

    def _record(self, delivery: Delivery) -> None:
        delivery.done = True
        if delivery.kind == "retry":
            return self._judge_retry(delivery)
        if delivery.group:
            if not all(d.done for d in delivery.group):
                return None  # the twin is still in flight; whichever finishes last judges the pair
            return self._judge_pair(delivery.group)
        return self._advance(delivery)

    def _judge_retry(self, retry: Delivery) -> None:
        if retry.error:
            self._problem("error on retry", retry.error)
        elif retry.reply != retry.original.reply:
            self._problem("retry answered differently", f"{retry.original.reply!r} -> {retry.reply!r}")

    def _judge_pair(self, pair: list[Delivery]) -> None:
        first, twin = pair
        answered = [d for d in pair if not d.error and d.reply]
        for d in pair:
            if d.error:
                self._problem("error on concurrent duplicate" if d.kind == "duplicate" else "error", d.error)
        if len(answered) == 2 and first.reply != twin.reply:
            self._problem("concurrent duplicates answered differently", f"{first.reply!r} / {twin.reply!r}")
        elif len(answered) == 1 and not (first.error or twin.error):
            self.problems["concurrent duplicate answered empty (replay wait ran out)"] += 1
        if answered:
            self._advance(answered[0])
        else:
            first.user.state = "broken"

    def _advance(self, delivery: Delivery) -> None:
        user = delivery.user
        if delivery.error:
            self._problem("error", delivery.error)
            user.state = "broken"
            return
        reply = delivery.reply or ""
        if self.bare:
            if delivery.text not in reply:
                self._problem("unexpected reply", reply)
                user.state = "broken"
                return
            user.step += 1
            if user.step == 4:
                user.state = "done"
        else:
            # most specific first: the anonymity question also mentions the company name
            prompt = next(
                (p for p in (ACCEPTED, ASKS_CONFIRM, ASKS_ANONYMOUS, ASKS_PHONE, ASKS_NAME) if p in reply), ""
            )
            if not prompt or (prompt == ACCEPTED and not ticket_number.parse(reply)):
                self._problem("unexpected reply", reply)
                user.state = "broken"
                return
            user.step += 1
            user.last_prompt = prompt
            if prompt == ACCEPTED:
                user.ticket = ticket_number.parse(reply)
                user.state = "done"
        self.answered.append(delivery)
        if user.state == "active":
            heapq.heappush(self.ready, (time.perf_counter() + self.rng.uniform(*self.think), next(self.order), user))


# -- measuring --------------------------------------------------------------------------------


def thread_priority(nice: int) -> int | None:
    """Sets this thread's nice value (Linux: per thread); the one it had, or None when not allowed."""
    tid = threading.get_native_id()
    try:
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        return None
    return before


def speed_probe() -> float:
    """Milliseconds a fixed piece of pure-Python work takes: this machine's speed varies by tens of
    per cent from hour to hour, and the figures of two runs compare only together with it."""

    def work(n: int) -> int:
        total = 0
        for i in range(n):
            total += (i * 7) % 13
        return total

    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        work(1_000_000)
        best = min(best, time.process_time() - started)
    return 1000 * best


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, CPU seconds) for every process readable in /proc; the CPU
    includes that of its children that have exited, so a tree's sum survives short-lived members."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (name, int(rest[1]), sum(int(v) for v in rest[11:15]) / CLK_TCK)
    return found


def _tree(procs, root: int) -> set[int]:
    members, grew = {root}, True
    while grew:
        more = {pid for pid, (_, ppid, _) in procs.items() if ppid in members} - members
        members |= more
        grew = bool(more)
    return members & set(procs)


def _machine_busy() -> tuple[float, float]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / CLK_TCK, sum(fields) / CLK_TCK


class CpuMeter:
    """CPU seconds used by the web server's and the queue worker's process trees, the databases (every
    PostgreSQL and Redis process on the machine) and the whole machine, between two samples."""

    def __init__(self, web: int, worker: int | None = None):
        self.roots = {"web": web, "worker": worker}

    def sample(self) -> dict[str, float]:
        procs = _processes()
        used = {name: sum(procs[p][2] for p in _tree(procs, pid)) if pid else 0.0 for name, pid in self.roots.items()}
        busy, total = _machine_busy()
        postmasters = [
            pid
            for pid, (name, ppid, _) in procs.items()
            if name.startswith("postgres") and not procs.get(ppid, ("",))[0].startswith("postgres")
        ]
        return {
            **used,
            "app": used["web"] + used["worker"],
            "postgres": sum(procs[p][2] for root in postmasters for p in _tree(procs, root)),
            "redis": sum(c for n, _, c in procs.values() if n.startswith("redis-server")),
            "machine_busy": busy,
            "machine_total": total,
        }

    @staticmethod
    def delta(before, after) -> dict[str, float]:
        return {k: after[k] - before[k] for k in before}


# -- the servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    import urllib3

    http = urllib3.PoolManager(retries=False, timeout=2)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if process.poll() is not None:
                raise SystemExit(f"server exited with status {process.returncode} before answering /healthz")
            try:
                if http.request("GET", f"http://127.0.0.1:{port}/healthz").status == 200:
                    return
            except Exception:  # not listening yet
                pass
            time.sleep(0.2)
    finally:
        http.clear()
    raise SystemExit(f"server on port {port} did not answer /healthz within {timeout:.0f} s")


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Deployment:
    """A PostgreSQL schema and Redis queue of this run's own, with the production processes on them."""

    def __init__(self, args, workdir: Path, platform_base: str):
        self.run_id = f"{os.getpid()}_{secrets.token_hex(2)}"
        self.schema = f"loadtest_{self.run_id}"
        self.base_url = args.database_url
        self.url = self.base_url + ("&" if "?" in self.base_url else "?") + f"options=-csearch_path%3D{self.schema}"
        self.redis_url, self.queue_name = args.redis_url, f"appealbot-load-{self.run_id}"
        self.args, self.workdir = args, workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("APPEALBOT_")},
            "APPEALBOT_DATABASE_URL": self.url,
            "APPEALBOT_REDIS_URL": self.redis_url,
            "APPEALBOT_QUEUE": "redis",
            "APPEALBOT_QUEUE_NAME": self.queue_name,
            "APPEALBOT_SECRET_KEY": secrets.token_hex(32),
            "APPEALBOT_VAR_DIR": str(workdir),
            "APPEALBOT_MODEL_PATH": args.model or str(workdir / "no-model.joblib"),
            "APPEALBOT_WECHAT_TOKEN": TOKEN,
            "APPEALBOT_WECHAT_APPID": APPID,
            "APPEALBOT_WECHAT_AES_KEY": AES_KEY,
            "APPEALBOT_WECHAT_SECRET": "wechat-secret",
            "APPEALBOT_WECHAT_API_BASE": platform_base,
            "APPEALBOT_WECOM_SECRET": "wecom-secret",
            "APPEALBOT_WECOM_AGENT_ID": "1000002",
            "APPEALBOT_WECOM_API_BASE": platform_base,
            **WECOM,
            # Every request comes from 127.0.0.1 here, as WeChat's callbacks come from a few
            # addresses of its own: the per-address limit would only measure itself.
            "APPEALBOT_RATE_LIMIT_ADDR": "0",
        }
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.logs: list = []
        self.engine = None

    def create(self) -> None:
        from sqlalchemy import create_engine, select, text
        from sqlalchemy.orm import Session

        admin = create_engine(self.base_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {self.schema}"))
        admin.dispose()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "appealbot"), "db", "upgrade"],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        from bot.demo import load_demo_data
        from tickets.accounts import hash_password
        from tickets.models import Official

        self.engine = create_engine(self.url)
        with Session(self.engine) as session, session.begin():
            load_demo_data(session)
            # production mode refuses demo passwords: give each account one nobody knows
            for official in session.scalars(select(Official).where(Official.password_hash.is_not(None))):
                official.password_hash = hash_password(secrets.token_urlsafe(24))

    def start(self, port: int) -> None:
        bin_dir = ROOT / ".venv" / "bin"
        self.logs = [open(self.workdir / "server.log", "wb"), open(self.workdir / "worker.log", "wb")]
        self.server = subprocess.Popen(
            [
                str(bin_dir / "appealbot"),
                "serve",
                "--prod",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(self.args.workers),
                "--threads",
                str(self.args.threads),
            ],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=self.logs[0],
        )
        # As deploy/ runs it: at a lower CPU priority, since a notice can wait a moment and a reply cannot.
        self.worker = subprocess.Popen(
            ["nice", "-n", "10", str(bin_dir / "appealbot"), "worker", "--workers", str(self.args.queue_threads)],
            env=self.env,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=self.logs[1],
        )
        wait_healthy(port, self.server)

    def stop(self) -> None:
        stop(self.server)
        stop(self.worker)
        for log in self.logs:
            log.close()

    def drop(self) -> None:
        import redis
        from sqlalchemy import create_engine, text

        if self.engine is not None:
            self.engine.dispose()
        admin = create_engine(self.base_url)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
        admin.dispose()
        client = redis.Redis.from_url(self.redis_url)
        huey_name = re.sub("[^A-Za-z0-9_]", "", self.queue_name)  # as huey's RedisStorage.clean_name does
        names = [f"huey.{kind}.{huey_name}" for kind in ("redis", "schedule", "results", "counters")]
        names += list(client.scan_iter(match=f"{self.queue_name}*"))
        names += list(client.scan_iter(match="appealbot:rl:*:wechat:oLoad*"))
        names += list(client.scan_iter(match=f"appealbot:seen:wechat:id:{str(FIRST_MSG_ID)[:4]}*"))
        client.delete(*names)
        client.close()

    def query(self, sql: str) -> list:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql)).all()


def check_services(args) -> None:
    import redis
    from sqlalchemy import create_engine, text

    engine = create_engine(args.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # report any connection failure in one sentence
        raise SystemExit(f"PostgreSQL is not reachable at {args.database_url}: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    try:
        redis.Redis.from_url(args.redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis is not reachable at {args.redis_url}: {exc}") from None


# -- one measured phase ---------------------------------------------------------------------------


def usable_texts(port: int, prefix: str, msg_ids) -> list[str]:
    """The candidate first messages that the bot answers by asking for the company name (an appeal)."""
    import urllib3

    platform, keep = WeChatPlatform(), []
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False, timeout=15)
    for i, text in enumerate(APPEAL_TEXTS):
        path, body = platform.delivery(f"{prefix}probe{i:03d}", text, next(msg_ids))
        response = pool.urlopen("POST", path, body=body, headers={"Content-Type": "text/xml"})
        if response.status == 200 and ASKS_NAME in platform.reply_text(response.data):
            keep.append(text)
    pool.close()
    return keep


def phase(args, port: int, *, bare: bool, texts: list[str], prefix: str, msg_ids, cpu: CpuMeter) -> dict:
    common = dict(
        bare=bare,
        retry_share=args.retry_share,
        duplicate_share=args.duplicate_share,
        think=(args.think_min, args.think_max),
        clients=args.clients,
        texts=texts,
        msg_ids=msg_ids,
    )
    warmup = None
    if args.warmup:
        warmup = Generator(
            port, rate=args.rate, duration=args.warmup, prefix=prefix + "w", seed=args.seed + 1, **common
        )
        warmup.run()
    generator = Generator(port, rate=args.rate, duration=args.duration, prefix=prefix, seed=args.seed, **common)
    before = cpu.sample()
    timing = generator.run()
    used = CpuMeter.delta(before, cpu.sample())
    return {"generator": generator, "warmup": warmup, "timing": timing, "cpu": used}


def summarise(result: dict) -> dict:
    generator, cpu, sent = result["generator"], result["cpu"], result["timing"]["sent"]
    measured = [d for d in generator.deliveries if not d.error and d.status == 200]
    latencies = [d.latency * 1000 for d in measured]
    lags = [(d.started - d.scheduled) * 1000 for d in generator.deliveries if d.started]
    # as WeChat would see it if it sent on schedule: the generator's own queueing included
    from_schedule = [(d.started - d.scheduled + d.latency) * 1000 for d in measured]
    first_start = min((d.scheduled for d in generator.deliveries), default=0.0)
    last_start = max((d.started for d in generator.deliveries), default=1.0)
    # the rate at which requests actually left, not the rate they were scheduled at
    rate = (sent - 1) / (last_start - first_start) if sent > 1 else float("nan")
    ours = cpu["app"] + cpu["postgres"] + cpu["redis"] + result["timing"]["generator_cpu"]
    return {
        "sent": sent,
        "kinds": Counter(d.kind for d in generator.deliveries),
        "rate": rate,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "p99_from_schedule": percentile(from_schedule, 99),
        "errors": sum(1 for d in generator.deliveries if d.error),
        "too_slow": sum(1 for d in measured if d.latency > 5),  # WeChat gives up after 5 s and retries
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags, default=float("nan")),
        "cpu_web_ms": 1000 * cpu["web"] / sent,
        "cpu_worker_ms": 1000 * cpu["worker"] / sent,
        "cpu_db_ms": 1000 * (cpu["postgres"] + cpu["redis"]) / sent,
        "generator_cpu_ms": 1000 * result["timing"]["generator_cpu"] / sent,
        "machine_busy": cpu["machine_busy"] / cpu["machine_total"],
        # whatever else ran on the machine meanwhile (other people's processes skew the figures)
        "others_busy": max(0.0, cpu["machine_busy"] - ours) / cpu["machine_total"],
        "problems": generator.problems,
        "samples": generator.samples,
        "users": Counter(u.state for u in generator.users),
    }


def check_tickets(deployment: Deployment, generators: list[Generator]) -> dict:
    """Exactly one ticket per confirmed appeal, the one its reply named; none for unfinished ones."""
    rows = deployment.query("SELECT e.user_id, t.number FROM tickets t JOIN enterprises e ON e.id = t.enterprise_id")
    by_user: dict[str, list[str]] = {}
    for user_id, number in rows:
        by_user.setdefault(user_id, []).append(number)
    users = [u for g in generators for u in g.users]
    outcome: Counter[str] = Counter()
    for user in users:
        tickets = by_user.get(user.openid, [])
        if user.state == "done":
            if tickets == [user.ticket]:
                outcome["completed, one ticket, the one named in the reply"] += 1
            elif not tickets:
                outcome["LOST: completed appeal without a ticket"] += 1
            elif len(tickets) > 1:
                outcome["DUPLICATED: completed appeal with several tickets"] += 1
            else:
                outcome["WRONG: ticket differs from the one named in the reply"] += 1
        elif tickets:
            if user.confirm_sent and len(tickets) == 1:
                outcome["confirmation answered with an error, ticket created (not lost)"] += 1
            else:
                outcome["UNEXPECTED: ticket for an unfinished appeal"] += 1
        else:
            outcome["unfinished when the time ran out, no ticket"] += 1
    strangers = set(by_user) - {u.openid for u in users}
    if strangers:
        outcome["UNEXPECTED: tickets of users this run never completed"] += len(strangers)
    return {"outcome": outcome, "tickets": len(rows), "completed": sum(1 for u in users if u.state == "done")}


def check_inbox(deployment: Deployment, msg_ids_used: int) -> dict:
    statuses = dict(deployment.query("SELECT status, count(*) FROM inbound_messages GROUP BY status"))
    duplicates = deployment.query(
        "SELECT count(*) FROM (SELECT dedupe_key FROM inbound_messages GROUP BY dedupe_key HAVING count(*) > 1) d"
    )[0][0]
    return {"distinct_sent": msg_ids_used, "statuses": statuses, "stored_twice": duplicates}


def count_arrivals(fake) -> Counter:
    """Counts the WeCom app sends that reach the fake platform, before anything it does with them
    (its duplicate check would otherwise hide a second send of the same card)."""
    from flask import request

    arrivals: Counter[str] = Counter()

    @fake.app.before_request
    def count():
        if request.path == "/cgi-bin/message/send":
            arrivals["message/send"] += 1

    return arrivals


def check_notifications(deployment: Deployment, fake, arrivals: Counter, wait: float) -> dict:
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if not deployment.query("SELECT count(*) FROM notifications WHERE status = 'pending'")[0][0]:
            break
        time.sleep(1)
    statuses = dict(deployment.query("SELECT status, count(*) FROM notifications GROUP BY status"))
    # one send (a card or a digest) per batch id; a send the database does not know of was a second one
    batches = deployment.query(
        "SELECT count(DISTINCT batch) FROM notifications WHERE status = 'sent' AND channel = 'wecom_app'"
    )[0][0]
    return {"statuses": statuses, "sends_recorded": batches, "sends_received": arrivals["message/send"]}


# -- the report -------------------------------------------------------------------------------------

ROWS = [
    ("achieved rate /s", "rate", "{:22.1f}"),
    ("latency p50 ms", "p50", "{:22.1f}"),
    ("latency p95 ms", "p95", "{:22.1f}"),
    ("latency p99 ms", "p99", "{:22.1f}"),
    ("latency max ms", "max", "{:22.1f}"),
    ("p99 from schedule ms", "p99_from_schedule", "{:22.1f}"),
    ("errors", "errors", "{:22d}"),
    ("pacing lag p99 / max ms", None, None),
    ("CPU ms per POST, web", "cpu_web_ms", "{:22.2f}"),
    ("CPU ms per POST, queue worker", "cpu_worker_ms", "{:22.2f}"),
    ("CPU ms per POST, PG+Redis (all)", "cpu_db_ms", "{:22.2f}"),
    ("generator CPU ms per POST", "generator_cpu_ms", "{:22.2f}"),
    ("machine busy", "machine_busy", "{:22.0%}"),
    ("  of which other processes", "others_busy", "{:22.0%}"),
]
RATIO_OF = ("p50", "p95", "p99", "cpu_web_ms")


def report(args, bare: dict | None, bot: dict, tickets: dict, inbox: dict, notices: dict, probes: list[float]) -> bool:
    print()
    print(
        f"appealbot load test: {os.cpu_count()} cores, gunicorn {args.workers} workers x {args.threads} threads "
        f"(gthread), PostgreSQL, Redis queue with 1 worker ({args.queue_threads} threads, nice 10)"
    )
    print(
        f"machine speed probe (a fixed Python loop, lower is faster): {probes[0]:.0f} ms before, "
        f"{probes[1]:.0f} ms after"
    )
    kinds, users = bot["kinds"], sum(bot["users"].values())
    print(
        f"offered: {args.rate:g} POSTs/s for {args.duration:g} s = {bot['sent']} POSTs ({kinds['first']} messages, "
        f"{kinds['retry']} exact retries, {kinds['duplicate']} concurrent duplicates) from {users} distinct users"
    )
    print()
    columns = [("bare Flask+wechatpy", bare), ("appealbot", bot)] if bare else [("appealbot", bot)]
    print(f"{'':30}" + "".join(f"{name:>22}" for name, _ in columns) + ("          ratio" if bare else ""))
    for label, key, fmt in ROWS:
        if key is None:
            line = f"{label:30}" + "".join(f"{s['lag_p99']:13.1f} / {s['lag_max']:6.1f}" for _, s in columns)
        else:
            line = f"{label:30}" + "".join(fmt.format(s[key]) for _, s in columns)
            if bare and key in RATIO_OF and bare[key]:
                line += f"{bot[key] / bare[key]:14.1f}x"
        print(line)
    print()
    for name, summary in columns:
        for problem, count in sorted(summary["problems"].items()):
            sample = summary["samples"].get(problem)
            print(f"{name}: {problem}: {count}" + (f"  e.g. {sample!r}" if sample else ""))
    print(f"tickets: {tickets['completed']} appeals confirmed, {tickets['tickets']} tickets in the database")
    for outcome, count in sorted(tickets["outcome"].items()):
        print(f"  {outcome}: {count}")
    print(
        f"inbound messages: {inbox['distinct_sent']} distinct MsgIds sent; stored by status {inbox['statuses']}; "
        f"stored twice: {inbox['stored_twice']}"
    )
    print(
        f"notifications: by status {notices['statuses']}; WeCom app sends recorded {notices['sends_recorded']}, "
        f"arrived at the fake platform {notices['sends_received']}"
    )

    bad_outcomes = sum(c for o, c in tickets["outcome"].items() if o.split(":")[0].isupper())
    stored = sum(inbox["statuses"].values())
    unhandled = stored - inbox["statuses"].get("handled", 0)
    checks = {
        f"rate held ({bot['rate']:.1f}/s of {args.rate:g}/s, pacing lag p99 {bot['lag_p99']:.0f} ms)": bot["rate"]
        >= 0.98 * args.rate
        and bot["lag_p99"] < 100,
        f"p99 under 300 ms ({bot['p99']:.0f} ms)": bot["p99"] < 300,
        f"zero errors ({bot['errors']}, {bot['too_slow']} slower than WeChat's 5 s)": bot["errors"] == 0
        and bot["too_slow"] == 0
        and not any(
            p.startswith(("retry answered", "concurrent duplicates answered differently", "unexpected"))
            for p in bot["problems"]
        ),
        f"zero lost or duplicated tickets ({bad_outcomes})": bad_outcomes == 0,
        f"every message stored once and handled ({stored - unhandled} of {stored})": unhandled == 0
        and inbox["stored_twice"] == 0,
        f"each notification sent once ({notices['sends_received']} sends for {notices['sends_recorded']})": notices[
            "sends_received"
        ]
        == notices["sends_recorded"],
    }
    print()
    for text, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="POSTs per second (default 200)")
    parser.add_argument("--duration", type=float, default=60, help="seconds measured (default 60)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds at the same rate before measuring (default 5)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (2-4; default 3)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--queue-threads", type=int, default=2, help="threads of the queue worker (default 2)")
    parser.add_argument(
        "--clients", type=int, default=64, help="requests the load generator has in flight at most (default 64)"
    )
    parser.add_argument("--retry-share", type=float, default=0.10, help="share of exact retries (default 0.10)")
    parser.add_argument(
        "--duplicate-share", type=float, default=0.03, help="share of messages sent twice at once (default 0.03)"
    )
    parser.add_argument("--think-min", type=float, default=0.5, help="seconds a user pauses between messages, least")
    parser.add_argument("--think-max", type=float, default=3.0, help="seconds a user pauses between messages, most")
    parser.add_argument(
        "--model",
        default=str(ROOT / "var" / "model.joblib") if (ROOT / "var" / "model.joblib").exists() else "",
        help="classifier the server loads (default var/model.joblib when present; '' for none)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--skip-bare", action="store_true", help="measure only appealbot")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--serve-bare", metavar="HOST:PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, args.threads)
        return 0

    check_services(args)
    probes = [speed_probe()]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fake platform's request log
    from tests.fake_platform import FakePlatform

    msg_ids = itertools.count(FIRST_MSG_ID)
    bare, bare_ids = None, 0
    with tempfile.TemporaryDirectory(prefix="appealbot-load-") as tmp, FakePlatform() as fake:
        workdir = Path(tmp)
        arrivals = count_arrivals(fake)
        if not args.skip_bare:
            port = free_port()
            with open(workdir / "bare.log", "wb") as log:
                server = subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--serve-bare",
                        f"127.0.0.1:{port}",
                        "--workers",
                        str(args.workers),
                        "--threads",
                        str(args.threads),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
                try:
                    wait_healthy(port, server)
                    print(
                        f"bare endpoint: {args.warmup:g} s warm-up, then {args.duration:g} s at {args.rate:g}/s",
                        flush=True,
                    )
                    bare = summarise(
                        phase(
                            args,
                            port,
                            bare=True,
                            texts=APPEAL_TEXTS,
                            prefix="oBare",
                            msg_ids=msg_ids,
                            cpu=CpuMeter(server.pid),
                        )
                    )
                finally:
                    stop(server)
            bare_ids = next(msg_ids) - FIRST_MSG_ID + 1
        deployment = Deployment(args, workdir, fake.base)
        deployment.create()
        try:
            port = free_port()
            deployment.start(port)
            texts = usable_texts(port, "oLoadT", msg_ids)
            if not texts:
                raise SystemExit("none of the appeal texts is answered as an appeal: is the model sound?")
            print(
                f"appealbot: {len(texts)} of {len(APPEAL_TEXTS)} first messages taken as appeals by the model; "
                f"{args.warmup:g} s warm-up, then {args.duration:g} s at {args.rate:g}/s",
                flush=True,
            )
            result = phase(
                args,
                port,
                bare=False,
                texts=texts,
                prefix=f"oLoad{deployment.run_id[-4:]}",
                msg_ids=msg_ids,
                cpu=CpuMeter(deployment.server.pid, deployment.worker.pid),
            )
            bot = summarise(result)
            generators = [g for g in (result["warmup"], result["generator"]) if g is not None]
            tickets = check_tickets(deployment, generators)
            inbox = check_inbox(deployment, next(msg_ids) - FIRST_MSG_ID - bare_ids)
            notices = check_notifications(deployment, fake, arrivals, wait=20)
            probes.append(speed_probe())
            ok = report(args, bare, bot, tickets, inbox, notices, probes)
        finally:
            deployment.stop()
            for name in ("server.log", "worker.log"):
                lines = (workdir / name).read_text(errors="replace").splitlines()
                errors = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
                if errors:
                    print(f"{name}: {len(errors)} error lines, the first: {errors[0][:200]}")
            deployment.drop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
