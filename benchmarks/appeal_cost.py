"""What one appeal costs the web process: CPU and database statements per step, in-process.

    .venv/bin/python benchmarks/appeal_cost.py [-n 300] [--database-url URL] [--profile FILE]

Drives `create_app` through Flask's test client (no HTTP server, no threads) with encrypted 公众号
messages: N simulated enterprises each send the four messages of an appeal (the text, the company
name, a phone number, "1" to confirm). Prints, per step, the process CPU time per message and the
statements sent to the database (BEGIN/COMMIT included), which is what the load test's web CPU is
made of once gunicorn and the network are taken away. Runs on a PostgreSQL schema of its own with
Redis (the production set-up) by default; `--database-url sqlite:///…` measures the embedded mode.
Notifications are enqueued but not delivered (no consumer runs).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN, APPID, AES_KEY = "cost-wechat-token-9Rt", "wxcost0000000001", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# First messages the bundled model takes as appeals outright (no clarifying question).
TEXTS = [
    "工业园区自来水水压太低，二楼以上的车间经常没水，影响清洗工序",
    "营业执照经营范围变更网上提交后一直显示审核中，已经两周了",
    "公积金缴存基数调整后单位账户显示异常，员工没法提取",
    "判决已经生效半年了，执行一直没有进展，企业快撑不下去了",
]
STEPS = ("text", "name", "phone", "confirm")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def server_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL and Redis process on this machine."""
    total = 0.0
    for entry in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text() if entry.isdigit() else ""
        except OSError:
            continue
        if stat and stat[stat.index("(") + 1 : stat.rindex(")")].startswith(("postgres", "redis-server")):
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(v) for v in fields[11:15]) / CLK_TCK
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="simulated enterprises (default 300)")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--model", default=str(ROOT / "var" / "model.joblib"))
    parser.add_argument("--profile", help="write a cProfile (CPU time) of the measured part to this file")
    parser.add_argument("--profile-step", choices=STEPS, help="profile only this step's messages")
    args = parser.parse_args()

    from sqlalchemy import create_engine, event, text
    from sqlalchemy.orm import Session
    from wechatpy.crypto import WeChatCrypto

    from bot.app import create_app
    from bot.channels.platform import sha1_signature
    from bot.demo import load_demo_data
    from bot.schema import upgrade

    schema, url = None, args.database_url
    if url.startswith("postgresql"):
        schema = f"cost_{os.getpid()}"
        with create_engine(url).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    tmp = tempfile.mkdtemp(prefix="appealbot-cost-")
    try:
        if url.startswith("sqlite"):
            url = f"sqlite:///{tmp}/cost.db"
        upgrade(url)
        with Session(create_engine(url)) as s, s.begin():
            load_demo_data(s)
        config = {
            "DATABASE_URL": url,
            "VAR_DIR": tmp,
            "MODEL_PATH": args.model,
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APPID": APPID,
            "WECHAT_AES_KEY": AES_KEY,
            "RATE_LIMIT_ADDR": 0,
            "QUEUE": "redis" if args.redis_url else "memory",
            "QUEUE_NAME": f"cost-{secrets.token_hex(3)}",
        }
        if args.redis_url:
            config["REDIS_URL"] = args.redis_url
        app = create_app(config)
        client = app.test_client()
        crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
        statements = [0]
        event.listen(
            app.extensions["appealbot"].engine,
            "before_cursor_execute",
            lambda *a: statements.__setitem__(0, statements[0] + 1),
        )
        event.listen(
            app.extensions["appealbot"].engine, "commit", lambda *a: statements.__setitem__(0, statements[0] + 1)
        )
        msg_ids = iter(range(8_000_000_000_000_000_001, 9_000_000_000_000_000_000))

        def say(user: str, content: str) -> str:
            ts, nonce = str(int(time.time())), "4242"
            xml = (
                f"<xml><ToUserName><![CDATA[gh_cost]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
                f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{content}]]></Content><MsgId>{next(msg_ids)}</MsgId></xml>"
            )
            envelope = crypto.encrypt_message(xml, nonce, ts)
            encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
            query = {
                "signature": sha1_signature(TOKEN, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": sha1_signature(TOKEN, ts, nonce, encrypted),
            }
            body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            profiling = profiler is not None and args.profile_step in (None, step)
            if profiling:
                profiler.enable()
            start = time.process_time()
            before = statements[0]
            response = client.post("/wechat?" + urlencode(query), data=body.encode(), content_type="text/xml")
            cost[step].append((time.process_time() - start, statements[0] - before))
            if profiling:
                profiler.disable()
            assert response.status_code == 200, response.status_code
            reply = response.get_data(as_text=True)
            return crypto.decrypt_message(
                reply,
                reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0],
                reply.split("<TimeStamp>")[1].split("</TimeStamp>")[0],
                nonce,
            )

        cost: dict[str, list[tuple[float, int]]] = defaultdict(list)
        # The confirmation also mentions 企业名称 and 电话 (how to change them): it is recognised first.
        answers = {
            "确认提交": lambda i: "1",
            "联系电话": lambda i: f"139{i:08d}",
            "企业名称": lambda i: f"测算第{i}号机械制造有限公司",
        }
        profiler = None
        for warm in (True, False):
            if not warm and args.profile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
            servers = server_cpu()
            for i in range(20 if warm else args.n):
                user = f"oCost{'W' if warm else 'M'}{i:06d}"
                step = "text"
                reply = say(user, TEXTS[i % len(TEXTS)])
                for step in STEPS[1:]:
                    prompt = next((p for p in answers if p in reply), None)
                    if prompt is None:
                        raise SystemExit(f"unexpected reply at {step}: {reply[:200]}")
                    reply = say(user, answers[prompt](i))
                if "已受理" not in reply:
                    raise SystemExit(f"appeal not accepted: {reply[:200]}")
            if warm:
                cost.clear()
        servers = server_cpu() - servers
        if profiler:
            profiler.dump_stats(args.profile)
        print(f"{args.n} appeals on {url.split('://')[0]}{' + Redis' if args.redis_url else ''}")
        print(f"{'step':10}{'CPU ms p50':>12}{'CPU ms mean':>13}{'statements':>12}")
        total_cpu = total_stmts = 0.0
        for step in STEPS:
            cpus = sorted(c for c, _ in cost[step])
            mean = sum(cpus) / len(cpus)
            stmts = sum(s for _, s in cost[step]) / len(cost[step])
            total_cpu += mean
            total_stmts += stmts
            print(f"{step:10}{1000 * cpus[len(cpus) // 2]:12.2f}{1000 * mean:13.2f}{stmts:12.1f}")
        print(f"{'per appeal':10}{'':12}{1000 * total_cpu:13.2f}{total_stmts:12.1f}")
        print(f"database servers (PostgreSQL, Redis; all processes): {1000 * servers / args.n:.2f} ms CPU per appeal")
        app.extensions["appealbot"].engine.dispose()
    finally:
        if schema:
            with create_engine(args.database_url).begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
