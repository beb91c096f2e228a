"""Evidence the enterprise sends (photos, voice, video, files): recorded in the conversation as the
platform's media id, downloaded by the queue within the platform's 3-day media lifetime, checked
(size, and the type its first bytes show, not the type the sender claims) and kept under VAR_DIR
or in an S3-compatible store.

A ticket takes the attachments named in its extra["attachments"] (sent while the appeal was being
put together) and whatever else its author sent in the conversation's lifetime before it
(`adopt`, called when the ticket is created).
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from core import settings, unit
from core.db import DIALECT_INSERTS
from tickets.models import Ticket
from tickets.outreach_models import Attachment

log = logging.getLogger(__name__)

MEDIA_LIFETIME = timedelta(days=3)  # 公众号 temporary media: gone after three days
MAX_ATTEMPTS = 5
KIND_NAMES = {"image": "图片", "voice": "语音", "video": "视频", "shortvideo": "视频", "file": "文件"}

# What a file's first bytes say it is. Only these are kept: a sender's Content-Type is not trusted.
SIGNATURES: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"#!AMR", 0, "audio/amr", "amr"),
    (b"#!SILK", 0, "audio/silk", "silk"),
    (b"\x02#!SILK", 0, "audio/silk", "silk"),
    (b"ID3", 0, "audio/mpeg", "mp3"),
    (b"OggS", 0, "audio/ogg", "ogg"),
    (b"ftyp", 4, "video/mp4", "mp4"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
]
ZIP_TYPES = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


class Rejected(ValueError):
    """A download that is not kept (too large, or not a type we show); the message is for officials."""


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) from the bytes themselves; Rejected for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    for magic, offset, content_type, ext in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, ext
    if data[:4] == b"PK\x03\x04":  # a Word or Excel document (an Office Open XML zip)
        import zipfile

        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            raise Rejected("压缩文件已损坏") from None
        for prefix, found in ZIP_TYPES.items():
            if any(n.startswith(prefix) for n in names):
                return found
    raise Rejected("文件类型不支持（仅接受图片、语音、视频、PDF、Word、Excel）")


# -- storage -------------------------------------------------------------------------------------


class LocalStore:
    name = "local"

    def __init__(self, root: str):
        self.root = root

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # never a half-written file under the final name

    def get(self, key: str) -> bytes:
        with open(os.path.join(self.root, key), "rb") as fh:
            return fh.read()


class S3Store:
    """An S3-compatible store (MinIO, COS, OSS …) through the MinIO client."""

    name = "s3"

    def __init__(self, endpoint: str, bucket: str, access_key: str, secret_key: str, region: str, secure: bool):
        from minio import Minio

        # The region given: the client does not ask the store for the bucket's location first.
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        response = self.client.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()


def store(config):
    if config.get("MEDIA_STORE") == "s3":
        return S3Store(
            config["S3_ENDPOINT"],
            config["S3_BUCKET"],
            config["S3_ACCESS_KEY"],
            config["S3_SECRET_KEY"],
            settings.value(config, "S3_REGION"),
            bool(settings.value(config, "S3_SECURE")),
        )
    return LocalStore(os.path.join(config["VAR_DIR"], "media"))


def store_named(config, name: str):
    """The store an attachment was written to (the configuration may have changed since)."""
    if name == "s3":
        return S3Store(
            config["S3_ENDPOINT"],
            config["S3_BUCKET"],
            config["S3_ACCESS_KEY"],
            config["S3_SECRET_KEY"],
            settings.value(config, "S3_REGION"),
            bool(settings.value(config, "S3_SECURE")),
        )
    return LocalStore(os.path.join(config["VAR_DIR"], "media"))


# -- recording -----------------------------------------------------------------------------------


def record(
    session: Session, channel: str, user_id: str, kind: str, media_id: str, now: datetime, ticket: Ticket | None = None
) -> Attachment:
    """The attachment of a media message, once per media id (a platform retry finds the first)."""
    insert = DIALECT_INSERTS[session.get_bind().dialect.name]
    session.execute(
        insert(Attachment)
        .values(
            channel=channel,
            user_id=user_id,
            kind="video" if kind == "shortvideo" else kind,
            media_id=media_id[:256],
            ticket_id=ticket.id if ticket is not None else None,
            status="pending",
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel", "media_id"])
    )
    unit.notes(session).media_pending = True  # the queue fetches it after the commit
    return session.scalars(
        select(Attachment).where(Attachment.channel == channel, Attachment.media_id == media_id[:256])
    ).one()


def adopt(session: Session, ticket: Ticket, ttl_seconds: int, now: datetime) -> int:
    """A new ticket takes the attachments its author sent for it: those its draft named, and those
    sent without a ticket in the conversation's lifetime before it."""
    named = [int(i) for i in (ticket.extra or {}).get("attachments") or [] if str(i).isdigit()]
    rows = session.scalars(
        select(Attachment).where(
            Attachment.channel == ticket.channel,
            Attachment.user_id == ticket.enterprise.user_id,
            Attachment.ticket_id.is_(None),
            or_(Attachment.id.in_(named), Attachment.created_at >= now - timedelta(seconds=ttl_seconds)),
        )
    ).all()
    for row in rows:
        row.ticket_id = ticket.id
    return len(rows)


def of_ticket(session: Session, ticket: Ticket) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)))


# -- fetching (the queue) ------------------------------------------------------------------------


def _download(clients: dict, att: Attachment, limit: int) -> bytes:
    client = clients.get(att.channel)
    if client is None:
        raise RuntimeError(f"{att.channel} 未配置接口密钥，无法下载素材")
    res = client.media.download(att.media_id)
    if isinstance(res, dict):  # a video answers with the address of the file
        url = res.get("video_url") or res.get("down_url")
        if not url:
            raise RuntimeError("素材接口未返回文件")
        import requests

        res = requests.get(url, timeout=30, stream=True)
        res.raise_for_status()
    chunks, size = [], 0
    for chunk in res.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Rejected(f"文件超过 {limit // (1024 * 1024)} MB 上限")
        chunks.append(chunk)
    data = b"".join(chunks)
    if data[:1] == b"{" and b"errcode" in data[:200]:
        raise RuntimeError(data[:200].decode("utf-8", "replace"))
    return data


def fetch_pending(Session, config, clients: dict, now: datetime) -> dict[str, int]:
    """Downloads what waits, within the media lifetime; each attachment in its own transaction."""
    done = {"stored": 0, "rejected": 0, "failed": 0, "retry": 0}
    with Session() as s:
        ids = s.scalars(
            select(Attachment.id).where(Attachment.status == "pending").order_by(Attachment.id).limit(100)
        ).all()
    target = store(config)
    limit = int(settings.value(config, "MEDIA_MAX_BYTES"))
    for att_id in ids:
        with Session() as s, s.begin():
            att = s.scalars(
                select(Attachment)
                .where(Attachment.id == att_id, Attachment.status == "pending")
                .with_for_update(skip_locked=True)
            ).first()
            if att is None:
                continue
            if now - att.created_at > MEDIA_LIFETIME:
                att.status, att.error = "failed", "超过 3 天素材有效期，未能下载"
                done["failed"] += 1
                continue
            try:
                data = _download(clients, att, limit)
                content_type, ext = sniff(data)
                key = f"{now:%Y/%m}/{uuid.uuid4().hex}.{ext}"
                target.put(key, data, content_type)
            except Rejected as exc:
                att.status, att.error = "rejected", str(exc)[:300]
                done["rejected"] += 1
                continue
            except Exception as exc:  # the platform or the store is down: try again later
                att.attempts += 1
                att.error = f"{type(exc).__name__}: {exc}"[:300]
                if att.attempts >= MAX_ATTEMPTS:
                    att.status = "failed"
                    done["failed"] += 1
                else:
                    done["retry"] += 1
                log.warning("attachment %s not fetched: %s", att.id, type(exc).__name__)
                continue
            att.status, att.content_type, att.size, att.store, att.key = (
                "stored",
                content_type,
                len(data),
                target.name,
                key,
            )
            att.fetched_at, att.error = now, None
            done["stored"] += 1
    return done


def read(config, att: Attachment) -> bytes:
    return store_named(config, att.store or "local").get(att.key)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    notes = unit.notes(session)
    if notes.media_pending:
        notes.media_pending = False
        wake = unit.wakers(session).fetch_media
        if wake is not None:
            try:
                wake()
            except Exception:  # the periodic tick fetches it anyway
                log.exception("could not enqueue the media download")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    unit.notes(session).media_pending = False
