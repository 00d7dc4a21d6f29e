"""A text file's encoding: decided once per file, then held to every byte of it.

- A UTF-8 byte-order mark: UTF-8. A UTF-16 one (Excel's "Unicode text"): UTF-16.
- No mark: UTF-8 when every byte is valid UTF-8.
- Otherwise Windows-1252, but only for a file with no UTF-8 character anywhere: a file that holds
  both (one cp1252 byte pasted into a UTF-8 export) was written as UTF-8 and damaged, and reading
  it all as cp1252 would garble every name (`José` read as `JosÃ©`). It is refused instead.

A byte that is not valid in the chosen encoding refuses the file, with its line and byte offset.
"""

from __future__ import annotations

import codecs
import re

from campaigner.contacts.errors import ContactFileError

__all__ = ["decode_text"]

_LABELS = {"utf-8": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252"}
# One well-formed UTF-8 character of two to four bytes (RFC 3629's table): Windows-1252 text
# practically never holds one (an accented capital followed by a symbol such as `Ã©`).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_SAVE_AS = "save it as CSV UTF-8"


def decode_text(name: str, data: bytes) -> tuple[str, str]:
    """The text of the file called `name`, and the encoding it was read with.

    The encoding is `utf-8-sig` (UTF-8 after a byte-order mark), `utf-16`, `utf-8` or `cp1252`.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _decode(name, data, "utf-8", start=len(codecs.BOM_UTF8)), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(name, data, "utf-16", start=0), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if _UTF8_MULTIBYTE.search(data):
            raise _invalid_byte(name, data, error, "utf-8", start=0, mixed=True) from None
    return _decode(name, data, "cp1252", start=0), "cp1252"


def _decode(name: str, data: bytes, encoding: str, *, start: int) -> str:
    try:
        return data[start:].decode(encoding)
    except UnicodeDecodeError as error:
        raise _invalid_byte(name, data, error, encoding, start=start, mixed=False) from None


def _invalid_byte(
    name: str, data: bytes, error: UnicodeDecodeError, encoding: str, *, start: int, mixed: bool
) -> ContactFileError:
    """The refusal of a file whose byte at `start + error.start` is not valid in `encoding`."""
    offset = start + error.start
    # Lines are counted in the decoded text: UTF-16 writes a line break in two bytes.
    line = data[start:offset].decode(encoding, errors="replace").count("\n") + 1
    label = _LABELS[encoding]
    though = ", though the rest of the file is" if mixed else ""
    return ContactFileError(
        f"{name}: line {line} (byte {offset}) is not {label} (byte 0x{data[offset]:02X}){though}: "
        f"{_SAVE_AS}"
    )
