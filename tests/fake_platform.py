"""A local HTTP server that answers as the WeCom and 公众号 APIs do, errors included.

Tests (and benchmarks) point APPEALBOT_WECOM_API_BASE / APPEALBOT_WECHAT_API_BASE at it. `fail`
queues error answers for the next calls of an endpoint, so retries and token refreshes can be
observed from outside, as the real platform would see them.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict

from flask import Flask, jsonify, request
from werkzeug.serving import make_server


class FakePlatform:
    def __init__(self):
        self.sent: list[dict] = []  # every accepted message: {"api", "to", "body"}
        self.token_fetches = 0
        self.tokens: set[str] = set()
        self.failures: dict[str, list] = defaultdict(list)  # endpoint -> queued (status, json)
        self.delay = 0.0  # seconds each send takes, to kill a sender mid-request
        self.received = 0  # send requests that arrived, delivered or not
        self.deduplicated = 0  # WeCom's enable_duplicate_check dropped a repeat
        self._recent: set[str] = set()
        self.issued_codes: set[str] = set()  # ResponseCodes of app cards sent (a tap brings one back)
        self.used_codes: set[str] = set()  # response codes spent: each works once
        self.lock = threading.Lock()
        self.app = self._build()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()

    def fail(self, endpoint: str, *answers) -> None:
        """Queue answers for the next calls of `endpoint` (e.g. "message/send"): (http_status, json)."""
        self.failures[endpoint].extend(answers)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def robot_url(self, key: str = "robot-key") -> str:
        return f"{self.base}/cgi-bin/webhook/send?key={key}"

    def response_url(self, code: str) -> str:
        """The response_url a 智能机器人 callback carries (tests/platforms.py puts it in)."""
        return f"{self.base}/cgi-bin/aibot/response?response_code={code}"

    def _queued(self, endpoint):
        with self.lock:
            return self.failures[endpoint].pop(0) if self.failures[endpoint] else None

    def _build(self) -> Flask:
        app = Flask("fake-platform")

        def token():
            with self.lock:
                self.token_fetches += 1
                value = f"TOKEN{self.token_fetches}"
                self.tokens.add(value)
            return jsonify(errcode=0, errmsg="ok", access_token=value, expires_in=7200)

        @app.get("/cgi-bin/gettoken")
        def wecom_token():
            if request.args.get("corpsecret") != "wecom-secret":
                return jsonify(errcode=40001, errmsg="invalid credential")
            return token()

        @app.get("/cgi-bin/token")
        def wechat_token():
            if request.args.get("secret") != "wechat-secret":
                return jsonify(errcode=40001, errmsg="invalid credential")
            return token()

        def send(api: str, to_field: str):
            queued = self._queued(api)
            if queued is not None:
                status, body = queued
                return jsonify(body), status
            if request.args.get("access_token") not in self.tokens:
                return jsonify(errcode=42001, errmsg="access_token expired")
            body = request.get_json(force=True)
            with self.lock:
                self.received += 1
            if self.delay:
                import time

                time.sleep(self.delay)
            key = json.dumps({k: v for k, v in body.items() if k not in ("enable_duplicate_check",)}, sort_keys=True)
            with self.lock:
                if body.get("enable_duplicate_check") and key in self._recent:
                    self.deduplicated += 1  # the real platform accepts it and delivers nothing new
                    return jsonify(errcode=0, errmsg="ok", invaliduser="")
                self._recent.add(key)
                self.sent.append({"api": api, "to": body.get(to_field), "body": body})
                extra = {}
                if body.get("msgtype") == "template_card":
                    # An interactive card is answered with a code to update it with (once, 72 h).
                    extra["response_code"] = f"RC{len(self.issued_codes) + 1}"
                    self.issued_codes.add(extra["response_code"])
            return jsonify(errcode=0, errmsg="ok", invaliduser="", **extra)

        app.post("/cgi-bin/message/send")(lambda: send("message/send", "touser"))
        app.add_url_rule(
            "/cgi-bin/message/custom/send", "custom", lambda: send("message/custom/send", "touser"), methods=["POST"]
        )

        @app.post("/cgi-bin/message/update_template_card")
        def update_card():
            queued = self._queued("message/update_template_card")
            if queued is not None:
                status, body = queued
                return jsonify(body), status
            if request.args.get("access_token") not in self.tokens:
                return jsonify(errcode=42001, errmsg="access_token expired")
            body = request.get_json(force=True)
            code = body.get("response_code")
            with self.lock:
                if not code or code in self.used_codes:
                    # (The platform's own code for a spent ResponseCode is not documented here: any
                    # nonzero errcode is a failure to the client.)
                    return jsonify(errcode=40099, errmsg="invalid response_code")
                self.used_codes.add(code)
                self.sent.append(
                    {"api": "message/update_template_card", "to": (body.get("userids") or [None])[0], "body": body}
                )
            return jsonify(errcode=0, errmsg="ok")

        @app.post("/cgi-bin/aibot/response")
        def aibot_response():
            # The 智能机器人's response_url: one POST per code (markdown or template_card).
            queued = self._queued("aibot/response")
            if queued is not None:
                status, body = queued
                return jsonify(body), status
            code = request.args.get("response_code", "")
            body = request.get_json(force=True)
            with self.lock:
                if not code or code in self.used_codes:
                    return jsonify(errcode=40099, errmsg="response_code used or invalid")
                self.used_codes.add(code)
                self.sent.append({"api": "aibot/response", "to": code, "body": body})
            return jsonify(errcode=0, errmsg="ok")

        @app.post("/cgi-bin/webhook/send")
        def robot():
            queued = self._queued("webhook/send")
            if queued is not None:
                status, body = queued
                return jsonify(body), status
            body = request.get_json(force=True)
            with self.lock:
                self.sent.append({"api": "webhook/send", "to": request.args.get("key"), "body": body})
            return jsonify(errcode=0, errmsg="ok")

        return app
