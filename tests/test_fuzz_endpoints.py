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
FUZZ = settings(
    max_examples=int(os.environ.get("APPEALBOT_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
xml_like = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: f"<xml>{t}</xml>".encode("utf-8", "surrogatepass")),
    st.builds(
        lambda tag, body: f"<xml><{tag}>{body}</{tag}></xml>".encode(),
        st.sampled_from(["MsgType", "Encrypt", "Content", "FromUserName", "Event"]),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
    ),
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


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | query_value,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(query_value, children, max_size=4),
    max_leaves=12,
)


def _ready(demo) -> str:
    """A token and a ticket, made once per test (hypothesis runs the examples on one app)."""
    if "FUZZ_TICKET" not in demo.config:
        demo.config["FUZZ_TICKET"] = _api_app(demo)
    return demo.config["FUZZ_TICKET"]


def _api_app(demo):
    from tickets import service
    from tickets.accounts import token_hash
    from tickets.models import Official

    with demo.extensions["appealbot"].Session() as s, s.begin():
        s.scalars(select(Official).where(Official.login == "yingshang")).one().api_token_hash = token_hash("tok")
        number = service.create_ticket(
            s, channel="web", user_id="f", text="申请增容", kind="appeal", category="operations"
        ).number
    return number


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["status", "category", "kind", "q", "since", "until", "page", "per_page", "overdue", "department", "region"]
        ),
        query_value,
        max_size=6,
    ),
    token=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60),
)  # a header has no newlines
def test_rest_api_queries_and_tokens_never_500(demo, query, token):
    client = demo.test_client()
    _ready(demo)
    for auth in (f"Bearer {token}", "Bearer tok", token):
        assert_clean(client.get("/api/v1/tickets?" + urlencode(query), headers={"Authorization": auth}))
        assert_clean(client.get("/api/v1/stats?" + urlencode(query), headers={"Authorization": auth}))


@FUZZ
@given(
    payload=json_value,
    action=st.sampled_from(
        [
            "accept",
            "resolve",
            "return",
            "escalate",
            "request_extension",
            "assign",
            "correct_category",
            "note",
            "nonsense",
        ]
    ),
)
def test_rest_api_actions_and_filings_with_garbage_bodies_never_500(demo, payload, action):
    client = demo.test_client()
    number = _ready(demo)
    headers = {"Authorization": "Bearer tok"}
    body = {"action": action, **payload} if isinstance(payload, dict) else payload
    assert_clean(client.post(f"/api/v1/tickets/{number}/actions", json=body, headers=headers))
    assert_clean(client.post("/api/v1/inspections", json=body, headers=headers))


@FUZZ
@given(
    text=query_value,
    code=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=1, max_size=20
    ),
)
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


# -- the audit's shapes (issue 16, item 6): each was a 500 ------------------------------------------

NASTY_NUMBERS = ["1e20", "99999999999999999999", "-1", "0", "²", "１", "9" * 400, "NaN", " 3", "0x10", ""]
NASTY_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2026-02-30",
    "99999-01-01",
    "2026-11-01T25:00",
    "1969-12-31",
    "2026-11-01\r\n",
    "",
]
NASTY_MONTHS = ["0001-01", "9999-12", "2026-13", "0000-00", "2026-1", ""]
nasty_query = st.fixed_dictionaries(
    {},
    optional={
        "page": st.sampled_from(NASTY_NUMBERS) | query_value,
        "per_page": st.sampled_from(NASTY_NUMBERS),
        "since": st.sampled_from(NASTY_DATES) | query_value,
        "until": st.sampled_from(NASTY_DATES),
        "month": st.sampled_from(NASTY_MONTHS) | query_value,
        "status": query_value,
        "q": query_value,
    },
)


def assert_refused_in_chinese(response):
    """A 4xx carries a short message a person reads: Chinese, no internals."""
    assert 400 <= response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and len(body) < 2000
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body), body


def _signed_in(demo):
    from tests.test_console import sign_in

    client = demo.test_client()
    assert sign_in(client, "yingshang").status_code == 302
    return client


def test_a_wecom_timestamp_that_is_not_a_small_number_is_a_4xx_after_the_signature(app):
    client = app.test_client()
    encrypt = base64.b64encode(b"x" * 64).decode()
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    for ts in ("abc", "²", "１７６３８０００００", "9" * 40, "-1", "1e20", " 1"):
        signed = {"msg_signature": sha1_signature(WECOM["token"], ts, "n", encrypt), "timestamp": ts, "nonce": "n"}
        response = client.post("/wecom?" + urlencode(signed), data=body, content_type="text/xml")
        assert_refused_in_chinese(response)
        unsigned = {**signed, "msg_signature": "0" * 40}
        response = client.post("/wecom?" + urlencode(unsigned), data=body, content_type="text/xml")
        assert response.status_code == 403  # the signature is checked before anything else is said
    for ts in ("9" * 40, "²"):
        params = {"signature": sha1_signature(WECHAT["token"], ts, "n"), "timestamp": ts, "nonce": "n"}
        assert_clean(client.post("/wechat?" + urlencode(params), data=b"<xml/>", content_type="text/xml"))
    assert stored(app) == 0


@FUZZ
@given(query=nasty_query)
def test_console_and_api_pages_and_dates_are_bounded(demo, query):
    _ready(demo)
    if "CONSOLE" not in demo.config:
        demo.config["CONSOLE"] = _signed_in(demo)
    console = demo.config["CONSOLE"]
    for path in (
        "/console/",
        "/console/dashboard",
        "/console/export.csv",
        "/console/export.xlsx",
        "/console/summary.csv",
        "/console/summary.xlsx",
        "/console/inspections",
    ):
        response = console.get(path + "?" + urlencode(query))
        assert_clean(response)
        if response.status_code >= 400:
            assert_refused_in_chinese(response)
    client = demo.test_client()
    for path in ("/api/v1/tickets", "/api/v1/stats"):
        response = client.get(path + "?" + urlencode(query), headers={"Authorization": "Bearer tok"})
        assert_clean(response)
        if response.status_code >= 400:
            assert_refused_in_chinese(response)


def test_the_audits_paging_and_date_requests_answer(demo):
    _ready(demo)
    console = _signed_in(demo)
    for query in ("page=1e20", "page=99999999999999999999", "since=0001-01-01", "until=9999-12-31"):
        assert console.get("/console/?" + query).status_code in (200, 400)
        response = demo.test_client().get("/api/v1/tickets?" + query, headers={"Authorization": "Bearer tok"})
        assert response.status_code in (200, 400), (query, response.status_code)
        if response.status_code == 400:
            assert_refused_in_chinese(response)
    for month in ("0001-01", "9999-12"):
        assert_refused_in_chinese(console.get(f"/console/summary.xlsx?month={month}"))
    assert console.get("/console/dashboard?since=0001-01-01&until=9999-12-31").status_code in (200, 400)


RAW_BODIES = [
    '{"action": "resolve", "result": ["a"]}',
    '{"action": "note", "text": ["a"]}',
    '{"action": "request_extension", "days": 1e400, "reason": "x"}',
    '{"action": "request_extension", "days": 99999999999999999999999, "reason": "x"}',
    '{"action": "request_extension", "days": "3", "reason": {"a": 1}}',
    '{"action": "assign", "department": ["scjg"]}',
    '{"action": "return", "reason": 5}',
    '{"action": "correct_category", "category": null}',
    '{"action": "approve_extension", "note": []}',
]


def test_json_fields_of_the_wrong_type_are_a_400_in_chinese(demo):
    client = demo.test_client()
    number = _ready(demo)
    headers = {"Authorization": "Bearer tok"}
    for raw in RAW_BODIES:
        response = client.post(
            f"/api/v1/tickets/{number}/actions", data=raw, content_type="application/json", headers=headers
        )
        assert response.status_code in (400, 409), (raw, response.status_code)
        assert_refused_in_chinese(response)
    filing = {
        "enterprises": ["某企业"],
        "kind": "random",
        "matters": "x",
        "legal_basis": "y",
        "inspectors": "z",
        "start": "2030-01-01",
        "end": "2030-01-02",
    }
    for field, value in (
        ("matters", None),
        ("matters", ["a"]),
        ("reason", 5),
        ("enterprises", [None]),
        ("start", None),
        ("start", "0001-01-01"),
        ("end", "99999-01-01"),
    ):
        response = client.post("/api/v1/inspections", json={**filing, field: value}, headers=headers)
        assert_refused_in_chinese(response)
    for payload in (
        '{"text": ["a"]}',
        '{"user": ["a"], "text": "x"}',
        '{"text": "x", "id": 1e400}',
        '{"text": "x", "id": [1]}',
    ):
        assert_refused_in_chinese(client.post("/api/messages", data=payload, content_type="application/json"))
    for payload in ('{"text": ["a"]}', '{"items": [{"id": [], "text": "a"}]}', '{"items": "x"}'):
        response = client.post("/api/classify", data=payload, content_type="application/json")
        assert response.status_code in (400, 503) and "Traceback" not in response.get_data(as_text=True)


def test_a_huge_policy_id_is_a_404(app):
    client = app.test_client()
    for doc_id in ("9" * 30, "99999999999", "2147483648"):
        assert_refused_in_chinese(client.get(f"/policies/{doc_id}"))


def test_a_lone_surrogate_or_a_control_character_in_a_chat_message_is_stripped_and_the_message_stored(demo):
    from tickets.models import Ticket

    client = demo.test_client()
    before = stored(demo)
    response = client.post(
        "/api/messages",
        data='{"user": "wSurrogate", "text": "\\ud800停电\\u0001三天了\\udfff"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert stored(demo) == before + 1
    with demo.extensions["appealbot"].Session() as s:
        text_ = s.scalars(select(InboundMessage.text).order_by(InboundMessage.id.desc())).first()
    assert text_ == "停电三天了"
    # A control character already in the database (stored before this check) no longer breaks the
    # Excel export: it is dropped from the cell.
    _ready(demo)
    with demo.extensions["appealbot"].Session() as s, s.begin():
        s.scalars(select(Ticket)).first().text = "电压不稳\x01\x0b设备烧了"
    console = _signed_in(demo)
    response = console.get("/console/export.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"


def test_a_next_parameter_with_cr_lf_or_another_site_is_not_followed(demo):
    from bot.demo import demo_password
    from tests.test_console import csrf

    for target in (
        "/console/%0d%0aSet-Cookie:%20x=1",
        "//evil.example/console",
        "/console\\@evil.example",
        "https://evil.example/console",
        "/console/\x00",
    ):
        client = demo.test_client()
        response = client.post(
            "/console/login?next=" + target.replace("\x00", "%00"),
            data={"login": "scjg", "password": demo_password("scjg"), "csrf_token": csrf(client)},
        )
        assert_clean(response)
        if response.status_code == 302:
            location = response.headers["Location"]
            assert location.startswith("/console") and "\r" not in location and "\n" not in location
            assert "evil" not in location and "Set-Cookie" not in location


def test_unknown_routes_and_methods_answer_in_chinese(app):
    client = app.test_client()
    assert_refused_in_chinese(client.get("/nope"))
    assert_refused_in_chinese(client.get("/api/nope"))
    assert_refused_in_chinese(client.put("/api/messages", json={}))
    assert_refused_in_chinese(
        client.post("/wechat?signature=x&timestamp=1&nonce=1", data=b"<xml/>", content_type="text/xml")
    )
