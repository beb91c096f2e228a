"""Webhook latency: N encrypted 公众号 messages, one at a time, against a real server on loopback.

    .venv/bin/python benchmarks/webhook_bench.py [-n 1000]

Starts `appealbot run` on a free port with a fresh SQLite database under a temporary directory
(the trained model is reused from var/ when present), sends N distinct encrypted messages with
wechatpy as the WeChat server would, checks every reply decrypts, and prints p50/p95/p99.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.channels.platform import sha1_signature

TOKEN, APPID, KEY = "bench-token", "wxbench000000001", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEXTS = [
    "你好",
    "厂里用电增容报装一个月了还没批下来",
    "想问下小微企业贷款有没有贴息",
    "谢谢",
    "税务局的人说要我们补三年的税，也不给文书",
    "办环评找谁",
    "公积金断缴了怎么补",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="appealbot-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "APPEALBOT_VAR_DIR": str(workdir),
        "APPEALBOT_PORT": str(port),
        "APPEALBOT_WECHAT_TOKEN": TOKEN,
        "APPEALBOT_WECHAT_APPID": APPID,
        "APPEALBOT_WECHAT_AES_KEY": KEY,
        # one client sends everything: the per-address and per-user limits would measure themselves
        "APPEALBOT_RATE_LIMIT_ADDR": "0",
        "APPEALBOT_RATE_LIMIT_USER": "0",
    }
    if (ROOT / "var" / "model.joblib").exists():
        shutil.copy(ROOT / "var" / "model.joblib", workdir / "model.joblib")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "appealbot"), "run"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        crypto = WeChatCrypto(TOKEN, KEY, APPID)
        session = requests.Session()
        latencies = []
        for i in range(args.n):
            ts, nonce = str(int(time.time())), str(i)
            xml = (
                f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench{i % 200:04d}]]>"
                f"</FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{TEXTS[i % len(TEXTS)]}]]></Content><MsgId>{10**15 + i}</MsgId></xml>"
            )
            env_xml = xmltodict.parse(crypto.encrypt_message(xml, nonce, ts))["xml"]
            query = {
                "signature": sha1_signature(TOKEN, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": env_xml["MsgSignature"],
            }
            body = f"<xml><Encrypt><![CDATA[{env_xml['Encrypt']}]]></Encrypt></xml>"
            started = time.perf_counter()
            response = session.post(
                f"{base}/wechat?{urlencode(query)}",
                data=body.encode(),
                headers={"Content-Type": "text/xml"},
                timeout=10,
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            reply = xmltodict.parse(response.text)["xml"]
            crypto.decrypt_message(response.text, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"])
        print(f"{args.n} encrypted messages, sequential, one keep-alive connection")
        print(
            f"latency ms: p50 {statistics.median(latencies):.1f}  p95 {percentile(latencies, 95):.1f}  "
            f"p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
