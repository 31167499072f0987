"""Safe XML parsing for everything that comes off the Finesse wire.

Finesse bodies and XMPP payloads come from the network (or, in the simulator, from
clients), so parsing refuses any DTD, and with it every entity declaration and external
entity, and caps the size before the parser sees a single byte. Every failure is reported
as one exception type, `FinesseXmlError`, so callers (the simulator's REST app, the
connector's XMPP session) need a single `except` to turn bad input into a 400 or a logged,
dropped notification.

How, and why not simply defusedxml for everything: defusedxml has to hook expat from the
pure-Python parser, which makes a parse about three times slower, and the simulator parses
thousands of bodies a second. Entities and external references can only be declared in a
DTD, so text that has no markup declaration (`<!` other than a comment or CDATA) cannot
carry them; such text is parsed with the C parser. The check is made on the exact
characters expat will see: str input is always fed to expat as UTF-8, whatever its XML
declaration says, and bytes take this path only when they are plainly UTF-8. Everything
else (UTF-16, Latin-1, ...) goes through defusedxml with DTDs, entities and external
references forbidden.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring

DEFAULT_MAX_BYTES = 256 * 1024

__all__ = ["DEFAULT_MAX_BYTES", "FinesseXmlError", "local", "parse_xml"]

# `<!` starts a markup declaration (DOCTYPE, ENTITY, ...) unless it opens a comment or a
# CDATA section. Refusing every other `<!` is stricter than refusing `<!DOCTYPE` alone.
_MARKUP_DECLARATION = re.compile(r"<!(?!--|\[CDATA\[)")
_DECLARED_ENCODING = re.compile(r"""\A<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_UTF8_BOM = b"\xef\xbb\xbf"


class FinesseXmlError(ValueError):
    """Input that is not acceptable Finesse XML: malformed, too big, unsafe or wrong shape."""


def local(tag: str) -> str:
    """`{namespace}name` -> `name`; a plain tag is returned as is.

    Elements taken out of an XMPP stanza carry the stanza's namespace (e.g.
    `http://jabber.org/protocol/pubsub` from `<notification>`), but Finesse element names
    are what matter, so lookups always go through this.
    """
    if tag[:1] == "{":
        return tag[tag.rfind("}") + 1 :]
    return tag


def _byte_length(data: str | bytes) -> int:
    if isinstance(data, str):
        # isascii() is a fast C scan; only non-ASCII text needs the real UTF-8 length.
        return len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
    return len(data)


def _as_utf8_text(data: bytes) -> str | None:
    """The text of plainly UTF-8 bytes, or None when only a full XML decoder can tell."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    declared = _DECLARED_ENCODING.match(text[:256].lstrip())
    if declared and declared.group(1).strip().lower() not in _UTF8_NAMES:
        return None
    return text


def _parse_text(text: str) -> ET.Element:
    if "<!" in text and _MARKUP_DECLARATION.search(text):
        raise FinesseXmlError("unsafe XML refused: DTD or markup declaration (<!...) present")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise FinesseXmlError(f"malformed XML: {exc}") from None
    except (ValueError, UnicodeError) as exc:  # e.g. a lone surrogate in the str
        raise FinesseXmlError(f"unreadable XML: {exc}") from None


def _parse_defused(data: bytes) -> ET.Element:
    try:
        return _defused_fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        # DTDForbidden / EntitiesForbidden / ExternalReferenceForbidden.
        raise FinesseXmlError(f"unsafe XML refused: {exc!r}") from None
    except ET.ParseError as exc:
        raise FinesseXmlError(f"malformed XML: {exc}") from None
    except (ValueError, UnicodeError, LookupError) as exc:  # e.g. an unknown encoding
        raise FinesseXmlError(f"unreadable XML: {exc}") from None


def _strip_namespaces(root: ET.Element) -> None:
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag[:1] == "{":
            el.tag = local(tag)


def parse_xml(data: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ET.Element:
    """Parse untrusted XML into an Element with namespace-free tags.

    Raises `FinesseXmlError` when the input is empty, larger than `max_bytes` (checked
    before parsing), malformed, or carries a DTD, an entity declaration or an external
    reference.
    """
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, str | bytes):
        raise FinesseXmlError(f"expected XML text, got {type(data).__name__}")
    size = _byte_length(data)
    if size > max_bytes:
        raise FinesseXmlError(f"XML input too large: {size} bytes (limit {max_bytes})")
    if not data.strip():
        raise FinesseXmlError("empty XML input")
    if isinstance(data, bytes):
        text = _as_utf8_text(data)
        root = _parse_defused(data) if text is None else _parse_text(text)
    else:
        text = data
        root = _parse_text(text)
    # Namespaces exist only if declared, so plain bodies skip the tree walk. (A non-UTF-8
    # body parsed by defusedxml always gets the walk: text is None there.)
    if text is None or "xmlns" in text:
        _strip_namespaces(root)
    return root
