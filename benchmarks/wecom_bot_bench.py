"""How long the 智能机器人 channel takes to answer, in-process: WeCom waits a few seconds (5 s for a
card update) before it gives up on an answer.

    .venv/bin/python benchmarks/wecom_bot_bench.py [-n 200] [--database-url URL]

Drives `create_app` through Flask's test client with callbacks encrypted as WeCom sends them (JSON,
an empty receive id): per round, an official @s the bot in the department's group with "待办" (a
card of the open tickets), a new ticket is created, and another official taps 签收 on its card.
Prints p50/p95/max of the wall time of each kind of callback, decryption and encryption included.
SQLite in a temporary directory by default.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN, AES_KEY = "benchBotToken2026", "Kq8vR2mX7pLw4sN9tY3zB6cD1fG5hJ0aE8uI2oQ7rT4"
GROUP = "wrBenchGroup"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from sqlalchemy import select

    from bot.app import create_app
    from bot.demo import load_demo_data
    from bot.schema import upgrade
    from tests.platforms import WeComBotServer
    from tickets import groups, service
    from tickets.models import Department, Official

    var = tempfile.mkdtemp(prefix="botbench-")
    url = args.database_url or f"sqlite:///{var}/bench.db"
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "VAR_DIR": var,
            "MODEL_PATH": f"{var}/none.joblib",
            "QUEUE": "memory",
            "WECOM_BOT_TOKEN": TOKEN,
            "WECOM_BOT_AES_KEY": AES_KEY,
            "RATE_LIMIT_USER": 0,
            "MAX_CLOCK_SKEW": 0,
        }
    )
    state = app.extensions["appealbot"]
    now = datetime.now(UTC)
    with state.Session() as s, s.begin():
        load_demo_data(s)
        gdgs = s.scalars(select(Department).where(Department.code == "gdgs")).one()
        s.add(Official(name="李某", wecom_user_id="gdgs2", department=gdgs, role="official"))
        groups.bind(s, groups.seen(s, GROUP, now), gdgs, "bench", "bench", now)
    bot = WeComBotServer(app.test_client(), TOKEN, AES_KEY)
    times: dict[str, list[float]] = {"待办 (card)": [], "签收 tap": [], "查看 (card)": []}

    def timed(name, fn):
        start = time.perf_counter()
        answer = fn()
        times[name].append((time.perf_counter() - start) * 1000)
        return answer

    for i in range(args.n):
        with state.Session() as s, s.begin():
            number = service.create_ticket(
                s,
                channel="web",
                user_id=f"e{i}",
                text=f"第{i}家：变压器带不动，申请增容",
                kind="appeal",
                category="operations",
            ).number
        timed("待办 (card)", lambda: bot.say("待办", user="gdgs", chat=GROUP))
        card = timed("查看 (card)", lambda n=number: bot.say(f"查看 {n}", user="gdgs", chat=GROUP))["template_card"]
        answer = timed(
            "签收 tap", lambda n=number, c=card: bot.tap(f"yq|accept|{n}", c["task_id"], user="gdgs2", chat=GROUP)
        )
        assert answer["template_card"]["main_title"]["title"].startswith("办理中"), answer
    print(f"{args.n} rounds on {url.split(':')[0]}")
    for name, values in times.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(f"{name:12} p50 {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms   max {values[-1]:6.1f} ms")
    state.engine.dispose()


if __name__ == "__main__":
    main()
