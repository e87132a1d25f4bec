"""Images taken in from the field: sniffed, stored once by content hash, described in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.media.models import Media
from backend.media.sniff import sniff_image
from backend.media.store import MediaStore


def store_image(session: Session, store: MediaStore, data: bytes, field: str, *, max_bytes: int,
                now: datetime) -> Media:
    """The image's row, after checking what it really is (the client's Content-Type is not trusted). The bytes
    go to the store before the row commits; a rollback leaves at worst an unreferenced file, never a row without
    its file."""
    info = sniff_image(data, field, max_bytes=max_bytes)
    sha256 = store.put(data)
    media = session.get(Media, sha256)
    if media is None:
        try:
            with session.begin_nested():
                media = Media(sha256=sha256, media_type=info.media_type, size=len(data), width=info.width,
                              height=info.height, created_at=now)
                session.add(media)
        except IntegrityError:
            # The same image (a company stamp, say) came in on another request at the same moment.
            media = session.get(Media, sha256)
    return media
