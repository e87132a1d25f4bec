"""Decides what an uploaded image really is from its bytes; the client's Content-Type is not trusted."""

from __future__ import annotations

import io
from dataclasses import dataclass

from defusedxml import ElementTree as SafeXML
from defusedxml.common import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from backend.errors import DomainError

MAX_PIXELS = 40_000_000
_RASTER = {b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"), b"\xff\xd8\xff": ("image/jpeg", "JPEG")}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
# A signature or a stamp is drawn, never scripted, styled or linked: an SVG may hold only these shapes, groups and
# text, with geometry and paint attributes. Anything else (script, style, links, animation that rewrites
# attributes, foreign content, other files) refuses the whole image rather than being filtered out, so the bytes
# stored are the bytes the customer signed. An allow-list, since a deny-list misses what it did not foresee.
_SVG_ELEMENTS = frozenset({"svg", "g", "path", "line", "polyline", "polygon", "rect", "circle", "ellipse", "text",
                           "tspan", "title", "desc"})
_SVG_ATTRIBUTES = frozenset({
    "id", "version", "baseProfile", "width", "height", "viewBox", "preserveAspectRatio", "transform",
    "d", "pathLength", "points", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "dx", "dy",
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "opacity", "color",
    "vector-effect", "shape-rendering", "font-family", "font-size", "font-weight", "font-style", "text-anchor",
    "dominant-baseline", "letter-spacing", f"{{{_XML_NAMESPACE}}}space", f"{{{_XML_NAMESPACE}}}lang",
})
# Browsers read presentation attributes as CSS: a value holding any of these could fetch or run something.
# Checked with whitespace removed and in lower case; a backslash could spell them as CSS escapes.
_SVG_FORBIDDEN_IN_VALUES = ("url(", "@import", "javascript:", "expression(", "\\")


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
        # Processing instructions (an xml-stylesheet) are not part of the element tree, so they are read as events.
        events = list(SafeXML.iterparse(io.BytesIO(data), events=("start", "pi"), forbid_dtd=True))
    except (SafeXML.ParseError, DefusedXmlException, ValueError) as exc:
        raise DomainError(field, "the SVG is not well-formed XML (or uses DTDs/entities)", status=415) from exc
    root = next((item for event, item in events if event == "start"), None)
    if root is None or root.tag != f"{{{SVG_NAMESPACE}}}svg":
        raise DomainError(field, f"not an SVG image: the root element must be <svg> in the {SVG_NAMESPACE} "
                                 "namespace", status=415)
    for event, item in events:
        if event == "pi":
            raise _not_a_drawing(field, "processing instructions (such as xml-stylesheet)")
        namespace, name = _split(item.tag)
        if namespace != SVG_NAMESPACE or name not in _SVG_ELEMENTS:
            raise _not_a_drawing(field, f"the element <{name}>")
        for attribute, value in item.attrib.items():
            if attribute not in _SVG_ATTRIBUTES:
                raise _not_a_drawing(field, f"the attribute {_split(attribute)[1]!r} on <{name}>")
            squashed = "".join(value.split()).lower()
            if any(forbidden in squashed for forbidden in _SVG_FORBIDDEN_IN_VALUES):
                raise _not_a_drawing(field, f"the value of {attribute!r} on <{name}> (references, imports, "
                                            "scripts and escapes are not allowed)")
    return ImageInfo("image/svg+xml", None, None)


def _not_a_drawing(field: str, what: str) -> DomainError:
    allowed = ", ".join(sorted(_SVG_ELEMENTS))
    return DomainError(field, f"the SVG may only draw ({allowed}) with plain geometry and paint: {what} is not "
                              "allowed", status=415)


def _split(name: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree name in {namespace}local form."""
    namespace, brace, local = name[1:].partition("}")
    return (namespace, local) if brace and name.startswith("{") else ("", name)
