"""Personal data of petitioners never reaches logs, statistics or dead letters in clear.

``redact`` masks anything shaped like a mainland resident ID number or a mobile phone number;
``mask_id`` / ``mask_phone`` give the display forms (``3301**********1234``).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence

_ID = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_id(number: str) -> str:
    n = number.strip()
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    p = phone.strip()
    if len(p) <= 7:
        return "*" * len(p)
    return p[:3] + "*" * (len(p) - 7) + p[-4:]


def redact(text: str) -> str:
    text = _ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(2)[-4:] if len(m.group(2)) == 4 else m.group(0), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


class RedactingFilter(logging.Filter):
    """Attach to every handler: formats the record and masks ID and phone numbers in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:
            return True
        red = redact(msg)
        if red != msg or record.args:
            record.msg, record.args = red, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def pii_key_id(secret: str) -> str:
    """A short name of a PII key, stored beside each row it wrote: derived apart from the keys
    themselves, so it tells which key was used without saying anything of it."""
    import hashlib

    return hashlib.sha256(b"xinfang-pii-id:" + secret.encode()).hexdigest()[:12]


class PiiVault:
    """Encrypts ID and phone numbers for storage and derives a keyed hash to match them.

    The key comes from configuration (``XINFANG_PII_KEY``); two keys are derived from it, one to
    encrypt (Fernet: AES-128-CBC + HMAC) and one for the blind index (HMAC-SHA256).

    ``previous`` keys (``XINFANG_PII_PREVIOUS_KEYS``) are for a rotation: what they encrypted still
    decrypts and what they hashed still matches, while everything new is written under the
    current key, until ``xinfang pii rotate`` has rewritten every row and they can be dropped.
    """

    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        import base64
        import hashlib

        from cryptography.fernet import Fernet, MultiFernet

        ring = [secret, *(k for k in previous if k and k != secret)]
        fernets = [Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"xinfang-pii-enc:" + k.encode()).digest()))
                   for k in ring]
        self._fernet = fernets[0]
        self._ring = MultiFernet(fernets)
        self._mac_keys = [hashlib.sha256(b"xinfang-pii-mac:" + k.encode()).digest() for k in ring]
        self.key_id = pii_key_id(secret)
        self.previous_key_ids = tuple(pii_key_id(k) for k in ring[1:])

    def encrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        """Under the current key or any previous one (``cryptography.fernet.InvalidToken`` if none)."""
        if token is None:
            return None
        return self._ring.decrypt(token.encode()).decode()

    def blind_index(self, value: str) -> str:
        """The keyed hash under the current key: what a new row stores."""
        return self._mac(self._mac_keys[0], value)

    def blind_indexes(self, value: str) -> list[str]:
        """The keyed hash under every key of the ring: what a lookup matches during a rotation."""
        return [self._mac(k, value) for k in self._mac_keys]

    @staticmethod
    def _mac(key: bytes, value: str) -> str:
        import hashlib
        import hmac

        return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def resident_id_check_char(body: str) -> str:
    """GB 11643-1999: the check character (0-9 or X) of a 17-digit body."""
    return _CHECK[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=False)) % 11]


def resident_id_valid(number: str) -> bool:
    """GB 11643-1999: 17 digits and a check character (0-9 or X)."""
    n = number.strip().upper()
    if len(n) != 18 or not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        return False
    return resident_id_check_char(n[:17]) == n[17]
