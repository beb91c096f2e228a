"""The fake platform of tests/fake_platform.py, plus what reaching enterprises calls: 公众号 template
messages, the menu, temporary media and web authorisation; Tencent Cloud's SMS API (POST / with
an X-TC-Action header, TC3-signed); and an S3-compatible store (PUT and GET of objects).

Each answers as the real API does, errors included, so the application's clients (wechatpy, the
Tencent Cloud SDK, the MinIO client) are exercised as they are in production.
"""

from __future__ import annotations

import copy
import hashlib
import json

from flask import Response, jsonify, request

from tests.fake_platform import FakePlatform

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8 + b"\xff\xd9"


class OutreachPlatform(FakePlatform):
    def __init__(self):
        self.menu = None  # the account's menu, as menu/create stored it
        self.menu_creates = 0
        self.media: dict[str, tuple[bytes, str]] = {}  # media_id -> (bytes, Content-Type)
        self.media_fetches = 0
        self.sms: list[dict] = []  # every SendSms request accepted
        self.sms_failures: list[dict] = []  # queued Response.Error objects for the next SendSms calls
        self.objects: dict[str, bytes] = {}  # "bucket/key" -> bytes (the S3 store)
        self.oauth_codes: dict[str, str] = {}  # web authorisation code -> openid
        super().__init__()

    def templates(self, to=None) -> list[dict]:
        return [m for m in self.sent if m["api"] == "message/template/send" and (to is None or m["to"] == to)]

    def _build(self):
        app = super()._build()

        def token_ok():
            return request.args.get("access_token") in self.tokens

        @app.post("/cgi-bin/message/template/send")
        def template_send():
            queued = self._queued("message/template/send")
            if queued is not None:
                status, body = queued
                return jsonify(body), status
            if not token_ok():
                return jsonify(errcode=42001, errmsg="access_token expired")
            body = request.get_json(force=True)
            if not body.get("template_id") or not isinstance(body.get("data"), dict):
                return jsonify(errcode=40037, errmsg="invalid template_id")
            with self.lock:
                self.sent.append({"api": "message/template/send", "to": body.get("touser"), "body": body})
            return jsonify(errcode=0, errmsg="ok", msgid=len(self.sent))

        @app.get("/cgi-bin/menu/get")
        def menu_get():
            if not token_ok():
                return jsonify(errcode=42001, errmsg="access_token expired")
            if self.menu is None:
                return jsonify(errcode=46003, errmsg="menu no exist")
            shown = copy.deepcopy(self.menu)  # the platform lists an empty sub_button on every leaf
            for button in shown["button"]:
                for leaf in button.get("sub_button") or [button]:
                    leaf.setdefault("sub_button", [])
            return jsonify(menu=shown)

        @app.post("/cgi-bin/menu/create")
        def menu_create():
            if not token_ok():
                return jsonify(errcode=42001, errmsg="access_token expired")
            with self.lock:
                self.menu = json.loads(request.get_data(as_text=True))
                self.menu_creates += 1
            return jsonify(errcode=0, errmsg="ok")

        @app.get("/cgi-bin/media/get")
        def media_get():
            if not token_ok():
                return jsonify(errcode=42001, errmsg="access_token expired")
            found = self.media.get(request.args.get("media_id", ""))
            if found is None:
                return jsonify(errcode=40007, errmsg="invalid media_id")
            self.media_fetches += 1
            data, content_type = found
            return Response(
                data, content_type=content_type, headers={"Content-disposition": 'attachment; filename="media.bin"'}
            )

        @app.get("/sns/oauth2/access_token")
        def oauth_token():
            openid = self.oauth_codes.pop(request.args.get("code", ""), None)
            if openid is None or request.args.get("secret") != "wechat-secret":
                return jsonify(errcode=40029, errmsg="invalid code")
            return jsonify(
                access_token="OAUTH-TOKEN", expires_in=7200, refresh_token="R", openid=openid, scope="snsapi_base"
            )

        @app.post("/")
        def tencent_cloud():
            request_id = hashlib.md5(request.get_data()).hexdigest()
            if not request.headers.get("Authorization", "").startswith("TC3-HMAC-SHA256 Credential=sms-id/"):
                return jsonify(
                    Response={
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"},
                        "RequestId": request_id,
                    }
                )
            if request.headers.get("X-TC-Action") != "SendSms":
                return jsonify(Response={"Error": {"Code": "InvalidAction", "Message": "?"}, "RequestId": request_id})
            body = request.get_json(force=True)
            with self.lock:
                if self.sms_failures:
                    return jsonify(Response={"Error": self.sms_failures.pop(0), "RequestId": request_id})
                self.sms.append(body)
                serial = f"2433:{len(self.sms)}"
            return jsonify(
                Response={
                    "SendStatusSet": [
                        {
                            "SerialNo": serial,
                            "PhoneNumber": body["PhoneNumberSet"][0],
                            "Fee": 1,
                            "SessionContext": "",
                            "Code": "Ok",
                            "Message": "send success",
                            "IsoCode": "CN",
                        }
                    ],
                    "RequestId": request_id,
                }
            )

        @app.route("/evidence/<path:key>", methods=["PUT", "GET", "HEAD"])
        def s3_object(key):
            name = f"evidence/{key}"
            if request.method == "PUT":
                data = request.get_data()
                with self.lock:
                    self.objects[name] = data
                return Response("", headers={"ETag": f'"{hashlib.md5(data).hexdigest()}"'})
            if name not in self.objects:
                return Response(
                    "<Error><Code>NoSuchKey</Code><Message>no</Message></Error>",
                    status=404,
                    content_type="application/xml",
                )
            return Response(self.objects[name], content_type="application/octet-stream")

        return app
