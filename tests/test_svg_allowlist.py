"""SVG signatures and stamps (REP-4) are accepted only as plain drawings: an allow-list of elements and attributes
in the SVG namespace, no processing instructions, no references in values (issue 10, must-fix 8)."""

from __future__ import annotations

import pytest

from backend.errors import DomainError
from backend.media.sniff import sniff_image
from tests.test_dispatch_support import desk, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import Field, field, supervisor  # noqa: F401

SVG = 'xmlns="http://www.w3.org/2000/svg"'
XLINK = 'xmlns:xlink="http://www.w3.org/1999/xlink"'


def _sniff(svg: str) -> str:
    return sniff_image(svg.encode(), "signature_image", max_bytes=100_000).media_type


@pytest.mark.parametrize("svg", [
    # What a signature pad draws: strokes as paths or polylines in a viewBox.
    f'<svg {SVG} viewBox="0 0 300 100" width="300" height="100"><path d="M10 80 C 40 10, 65 10, 95 80 S 150 150, '
    '180 80" fill="none" stroke="#000" stroke-width="2.5" stroke-linecap="round"/></svg>',
    f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- pad v2 --><svg {SVG} version="1.1"><g transform="translate(5,5)">'
    '<polyline points="0,0 10,12 20,3" stroke="black" fill="none"/><rect x="0" y="0" width="40" height="20" '
    'fill="white" fill-opacity="0"/></g></svg>',
    # A company stamp: circles and text.
    f'<svg {SVG} viewBox="0 0 100 100"><title>Stamp</title><circle cx="50" cy="50" r="45" stroke="red" '
    'fill="none"/><text x="50" y="55" text-anchor="middle" font-family="serif" font-size="12" fill="red">'
    'Henan Bus Co.<tspan x="50" dy="14">Service</tspan></text></svg>',
])
def test_a_plain_drawing_is_accepted(svg: str) -> None:
    assert _sniff(svg) == "image/svg+xml"


@pytest.mark.parametrize("svg", [
    # <set>/<animate> rewriting a link or attribute into javascript: (the first bypass)
    f'<svg {SVG} {XLINK}><a><set attributeName="href" to="javascript:alert(1)"/><path d="M0 0"/></a></svg>',
    f'<svg {SVG}><animate attributeName="fill" values="javascript:alert(1)"/></svg>',
    f'<svg {SVG}><path d="M0 0"><animate attributeName="d" to="M1 1"/></path></svg>',
    # external CSS
    f'<svg {SVG}><style>@import url(http://evil.example/x.css);</style></svg>',
    f'<svg {SVG}><path d="M0 0" style="fill:red"/></svg>',
    f'<svg {SVG}><path d="M0 0" fill="url(http://evil.example/p.svg#g)"/></svg>',
    f'<svg {SVG}><path d="M0 0" fill="U R L (http://evil.example/p.svg#g)"/></svg>',
    f'<svg {SVG}><path d="M0 0" fill="\\75 rl(http://evil.example/p.svg#g)"/></svg>',
    f'<svg {SVG}><text font-family="@import \'http://evil.example/f.css\'">x</text></svg>',
    f'<svg {SVG}><rect width="1" height="1" fill="expression(alert(1))"/></svg>',
    # an xml-stylesheet processing instruction, before or inside the root
    f'<?xml-stylesheet type="text/css" href="http://evil.example/x.css"?><svg {SVG}><path d="M0 0"/></svg>',
    f'<svg {SVG}><?xml-stylesheet href="http://evil.example/x.css"?><path d="M0 0"/></svg>',
    # a root outside the SVG namespace, or none
    '<svg xmlns="http://www.w3.org/1999/xhtml"><path d="M0 0"/></svg>',
    '<svg><path d="M0 0"/></svg>',
    f'<svg:svg xmlns:svg="http://www.w3.org/1999/xhtml"><path {SVG} d="M0 0"/></svg:svg>',
    # foreign elements inside an SVG root
    f'<svg {SVG}><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script></svg>',
    f'<svg {SVG}><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject></svg>',
    # links, references to other content, scripts and handlers
    f'<svg {SVG} {XLINK}><use xlink:href="#a"/></svg>',
    f'<svg {SVG} {XLINK}><a xlink:href="javascript:alert(1)"><path d="M0 0"/></a></svg>',
    f'<svg {SVG}><image href="http://evil.example/x.png"/></svg>',
    f'<svg {SVG}><script>alert(1)</script></svg>',
    f'<svg {SVG}><path d="M0 0" onclick="alert(1)"/></svg>',
    f'<svg {SVG}><path d="M0 0" clip-path="url(#c)"/></svg>',
    f'<svg {SVG}><path d="M0 0" xlink:href="http://evil.example/" {XLINK}/></svg>',
])
def test_anything_beyond_a_plain_drawing_is_refused_as_unsupported(svg: str) -> None:
    with pytest.raises(DomainError) as refused:
        _sniff(svg)
    assert (refused.value.status, refused.value.field) == (415, "signature_image")


def test_the_customer_signs_with_a_drawing_but_not_with_a_script(field: Field) -> None:
    """Through the sign-off itself (REP-4): the refused image signs nothing, the plain one signs the report."""
    field.to("work_done")
    field.write_report()
    animated = f'<svg {SVG}><a><set attributeName="href" to="javascript:alert(1)"/><path d="M0 0"/></a></svg>'
    refused = field.sign(image=animated.encode())
    assert refused.status_code == 415, refused.get_json()
    assert refused.get_json()["errors"][0]["field"] == "signature_image"
    assert field.report().get_json()["status"] == "draft"
    drawn = f'<svg {SVG} viewBox="0 0 10 10"><path d="M0 0L10 10" stroke="black"/></svg>'
    signed = field.sign(image=drawn.encode())
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["status"] == "signed"
