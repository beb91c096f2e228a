"""Hostile input at every endpoint: malformed, oversized, wrongly signed, wrongly encrypted.

Whatever arrives, the answer is never a 500, never a traceback, and a rejected request stores nothing.
"""
from __future__ import annotations

import base64
import os
import time
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.channels.platform import sha1_signature
from handlers.models import InboundMessage
from tests.conftest import WECHAT, WECOM

# APPEALBOT_FUZZ_EXAMPLES=2000 for a long hunt; CI runs the default.
FUZZ = settings(max_examples=int(os.environ.get("APPEALBOT_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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


json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | query_value,
                          lambda children: st.lists(children, max_size=4) | st.dictionaries(query_value, children, max_size=4),
                          max_leaves=12)


def _ready(demo) -> str:
    """A token and a ticket, made once per test (hypothesis runs the examples on one app)."""
    if "FUZZ_TICKET" not in demo.config:
        demo.config["FUZZ_TICKET"] = _api_app(demo)
    return demo.config["FUZZ_TICKET"]


def _api_app(demo):
    from bot.api import token_hash
    from tickets import service
    from tickets.models import Official

    with demo.extensions["appealbot"].Session() as s, s.begin():
        s.scalars(select(Official).where(Official.login == "yingshang")).one().api_token_hash = token_hash("tok")
        number = service.create_ticket(s, channel="web", user_id="f", text="申请增容", kind="appeal",
                                       category="operations").number
    return number


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["status", "category", "kind", "q", "since", "until", "page", "per_page",
                                               "overdue", "department", "region"]), query_value, max_size=6),
       token=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60))  # a header has no newlines
def test_rest_api_queries_and_tokens_never_500(demo, query, token):
    client = demo.test_client()
    _ready(demo)
    for auth in (f"Bearer {token}", "Bearer tok", token):
        assert_clean(client.get("/api/v1/tickets?" + urlencode(query), headers={"Authorization": auth}))
        assert_clean(client.get("/api/v1/stats?" + urlencode(query), headers={"Authorization": auth}))


@FUZZ
@given(payload=json_value, action=st.sampled_from(["accept", "resolve", "return", "escalate", "request_extension",
                                                   "assign", "correct_category", "note", "nonsense"]))
def test_rest_api_actions_and_filings_with_garbage_bodies_never_500(demo, payload, action):
    client = demo.test_client()
    number = _ready(demo)
    headers = {"Authorization": "Bearer tok"}
    body = {"action": action, **payload} if isinstance(payload, dict) else payload
    assert_clean(client.post(f"/api/v1/tickets/{number}/actions", json=body, headers=headers))
    assert_clean(client.post("/api/v1/inspections", json=body, headers=headers))


@FUZZ
@given(text=query_value, code=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
                                       min_size=1, max_size=20))
def test_public_pages_never_500(app, text, code):
    client = app.test_client()
    assert_clean(client.get("/policies?" + urlencode({"q": text})))
    assert_clean(client.get("/verify/" + code))
    assert_clean(client.post("/verify/" + code, data={"enterprise": text, "rating": text}))


def test_nul_bytes_are_refused_at_the_door(app):
    # PostgreSQL refuses NUL in text; found by the fuzzer above on /verify/<code>. Every route gets a 400.
    client = app.test_client()
    before = stored(app)
    for response in (
        client.get("/verify/%00"),
        client.get("/policies?q=a%00b"),
        client.post("/verify/ABC", data={"enterprise": "x\x00y", "rating": "5"}),
        client.post("/console/login", data={"login": "admin\x00", "password": "x"}),
        client.post("/api/v1/inspections", json={"matters": "a\x00b"}),
    ):
        assert response.status_code == 400, response.status_code
        assert "非法字符".encode() in response.data
    assert client.get("/policies?q=公积金").status_code == 200
    assert stored(app) == before
