"""Hostile input at every endpoint: malformed, oversized, wrongly signed, wrongly encrypted.

Whatever arrives, the answer is never a 500, never a traceback, and a rejected request stores nothing.
"""
from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.channels.platform import sha1_signature
from handlers.models import InboundMessage
from tests.conftest import WECHAT, WECOM

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
xml_like = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: f"<xml>{t}</xml>".encode("utf-8", "surrogatepass")),
    st.builds(lambda tag, body: f"<xml><{tag}>{body}</{tag}></xml>".encode(),
              st.sampled_from(["MsgType", "Encrypt", "Content", "FromUserName", "Event"]),
              st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)),
)
query_value = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


def stored(app) -> int:
    with app.extensions["appealbot"].Session() as s:
        return s.scalar(select(func.count()).select_from(InboundMessage))


def assert_clean(response):
    assert response.status_code != 500, response.status_code  # 503 (no model yet) is an answer, not a crash
    assert b"Traceback" not in response.data


@FUZZ
@given(body=xml_like, signature=query_value, nonce=query_value, encrypted=st.booleans())
def test_wechat_garbage_is_refused_cleanly(app, body, signature, nonce, encrypted):
    params = {"signature": signature, "timestamp": str(int(time.time())), "nonce": nonce}
    if encrypted:
        params.update(encrypt_type="aes", msg_signature=signature)
    response = app.test_client().post("/wechat?" + urlencode(params), data=body, content_type="text/xml")
    assert_clean(response)
    assert response.status_code in (400, 403, 413, 415)
    assert stored(app) == 0


@FUZZ
@given(body=xml_like, nonce=query_value)
def test_wechat_correctly_signed_garbage_is_refused_cleanly(app, body, nonce):
    ts = str(int(time.time()))
    params = {"signature": sha1_signature(WECHAT["token"], ts, nonce), "timestamp": ts, "nonce": nonce}
    response = app.test_client().post("/wechat?" + urlencode(params), data=body, content_type="text/xml")
    assert_clean(response)
    if response.status_code != 200:
        assert stored(app) == 0


@FUZZ
@given(ciphertext=st.binary(min_size=0, max_size=600), nonce=query_value)
def test_wrongly_encrypted_payloads_with_valid_signatures_are_400(app, ciphertext, nonce):
    encrypt = base64.b64encode(ciphertext).decode()
    ts = str(int(time.time()))
    query = {"msg_signature": sha1_signature(WECOM["token"], ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    response = app.test_client().post("/wecom?" + urlencode(query), data=body, content_type="text/xml")
    assert_clean(response)
    assert response.status_code in (400, 403)
    assert stored(app) == 0


@FUZZ
@given(echostr=query_value, signature=query_value)
def test_verification_garbage_is_refused_cleanly(app, echostr, signature):
    client = app.test_client()
    for path in ("/wechat", "/wecom"):
        query = {"signature": signature, "msg_signature": signature, "timestamp": "1", "nonce": "1", "echostr": echostr}
        response = client.get(f"{path}?" + urlencode(query))
        assert_clean(response)
        assert response.status_code in (400, 403)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@FUZZ
@given(payload=json_values)
def test_api_json_garbage_never_500s(app, payload):
    client = app.test_client()
    before = stored(app)
    response = client.post("/api/messages", json=payload)
    assert_clean(response)
    if response.status_code != 200:
        assert stored(app) == before
    assert_clean(client.post("/api/classify", json=payload))


@FUZZ
@given(body=st.binary(max_size=3000), content_type=st.sampled_from(["application/json", "text/plain", "", "text/xml"]))
def test_api_raw_bodies_never_500(app, body, content_type):
    before = stored(app)
    response = app.test_client().post("/api/messages", data=body, content_type=content_type)
    assert_clean(response)
    assert stored(app) == before
