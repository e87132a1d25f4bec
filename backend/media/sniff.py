"""Decides what an uploaded image really is from its bytes; the client's Content-Type is not trusted."""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeXML
from defusedxml.common import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from backend.errors import DomainError

MAX_PIXELS = 40_000_000
_RASTER = {b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"), b"\xff\xd8\xff": ("image/jpeg", "JPEG")}
# An SVG that can run code or fetch things is not a signature.
_SVG_FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "image", "use"}


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int | None
    height: int | None


def sniff_image(data: bytes, field: str, *, max_bytes: int) -> ImageInfo:
    if not data:
        raise DomainError(field, "the image is empty")
    if len(data) > max_bytes:
        raise DomainError(field, f"the image is {len(data)} bytes; the limit is {max_bytes}", status=413)
    for magic, (media_type, pil_format) in _RASTER.items():
        if data.startswith(magic):
            return _raster(data, field, media_type, pil_format)
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return _svg(data, field)
    raise DomainError(field, "not a PNG, JPEG or SVG image", status=415)


def _raster(data: bytes, field: str, media_type: str, pil_format: str) -> ImageInfo:
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DomainError(field, "the image has too many pixels")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DomainError(field, f"the {media_type} image is damaged or truncated") from exc
    return ImageInfo(media_type, width, height)


def _svg(data: bytes, field: str) -> ImageInfo:
    try:
        root = SafeXML.fromstring(data, forbid_dtd=True)
    except (SafeXML.ParseError, DefusedXmlException, ValueError) as exc:
        raise DomainError(field, "the SVG is not well-formed XML (or uses DTDs/entities)", status=415) from exc
    if _local(root) != "svg":
        raise DomainError(field, "not an SVG image", status=415)
    for element in root.iter():
        if _local(element) in _SVG_FORBIDDEN_TAGS or any(
                _local_name(name).startswith("on") or "href" in _local_name(name) and not _is_fragment(value)
                for name, value in element.attrib.items()):
            raise DomainError(field, "the SVG contains scripts, event handlers or external references", status=415)
    return ImageInfo("image/svg+xml", None, None)


def _local(element: Element) -> str:
    return _local_name(element.tag)


def _local_name(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _is_fragment(value: str) -> bool:
    return value.strip().startswith("#")
