"""Who the caller is and what they may see: signed bearer tokens, roles, jurisdiction scopes.

Tokens are Ed25519-signed JWTs. Only routing (which keeps the users) holds the private key and
signs them at sign-in; every service verifies them by itself with the public key, so no service
calls another to check a token. Passwords are hashed with Argon2id (memory-hard).

Scope rules, in one place:
- a user's jurisdiction is a division code; they see what lies in it (county: the 6-digit prefix,
  township: the 9-digit prefix);
- a handler (承办人) sees the cases assigned to their own unit, wherever they are;
- a case outside the caller's scope answers 404, never 403, so its existence does not leak.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from xinfang import labels

ROLES = ("clerk", "dispatcher", "handler", "supervisor", "leader", "admin")
ROLE_NAMES_ZH = labels.ROLES  # the one list of the roles' Chinese names
# roles that see ID and phone numbers in clear (to register and to contact the petitioner)
SEES_PERSONAL_DATA = frozenset({"clerk", "handler"})
ISSUER = "xinfang"
AUDIENCE = "xinfang"
TOKEN_TTL_S = 8 * 3600


class InvalidToken(Exception):
    pass


def division_prefix(code: str) -> str:
    """The prefix every division inside ``code`` shares (12-digit codes: 2+2+2+3+3)."""
    for keep, zeros in ((2, 10), (4, 8), (6, 6), (9, 3)):
        if code[keep:] == "0" * zeros:
            return code[:keep]
    return code


def division_level(code: str) -> str:
    return {2: "province", 4: "city", 6: "county", 9: "township"}.get(len(division_prefix(code)), "village")


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    jurisdiction: str          # division code of the user's office or unit
    unit_id: str | None = None
    display_name: str | None = None

    @property
    def prefix(self) -> str:
        return division_prefix(self.jurisdiction)

    @property
    def sees_personal_data(self) -> bool:
        return self.role in SEES_PERSONAL_DATA

    def in_jurisdiction(self, division_code: str | None) -> bool:
        if not division_code:
            return False
        return division_code.startswith(self.prefix)

    def can_see_case(self, *, office: str | None, unit_id: str | None) -> bool:
        if self.role == "handler":
            return unit_id is not None and unit_id == self.unit_id
        return self.in_jurisdiction(office)

    def claims(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def me(self) -> dict:
        return {"username": self.username, "role": self.role, "role_zh": ROLE_NAMES_ZH.get(self.role),
                "unit_id": self.unit_id, "jurisdiction": self.jurisdiction,
                "jurisdiction_level": division_level(self.jurisdiction), "display_name": self.display_name}


# ------------------------------------------------------------------ keys


def generate_keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def ensure_keypair(directory: Path) -> tuple[Path, Path]:
    """Development keys under the data directory, made once. Production passes its own."""
    directory.mkdir(parents=True, exist_ok=True)
    priv, pub = directory / "token-signing.pem", directory / "token-verify.pem"
    if not (priv.exists() and pub.exists()):
        private, public = generate_keypair()
        priv.write_text(private)
        os.chmod(priv, 0o600)
        pub.write_text(public)
    return priv, pub


def _read_key(value: str | None, file: str | None, what: str) -> str:
    if value:
        return value.replace("\\n", "\n")
    if file:
        return Path(file).read_text()
    raise RuntimeError(
        f"no token {what} key: set XINFANG_TOKEN_{what.upper()}_KEY or XINFANG_TOKEN_{what.upper()}_KEY_FILE "
        f"(`xinfang up` makes development keys by itself) / 未配置令牌{'签名' if what == 'signing' else '验证'}密钥")


def verify_key_from_env() -> str:
    return _read_key(os.environ.get("XINFANG_TOKEN_VERIFY_KEY"), os.environ.get("XINFANG_TOKEN_VERIFY_KEY_FILE"),
                     "verify")


def signing_key_from_env() -> str:
    return _read_key(os.environ.get("XINFANG_TOKEN_SIGNING_KEY"), os.environ.get("XINFANG_TOKEN_SIGNING_KEY_FILE"),
                     "signing")


# ------------------------------------------------------------------ tokens


def key_id(public: Ed25519PublicKey) -> str:
    """A token key's name (the ``kid`` header): the start of the SHA-256 of its raw public bytes."""
    import hashlib

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


class TokenIssuer:
    def __init__(self, private_pem: str, ttl_s: int = TOKEN_TTL_S) -> None:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):  # tokens are EdDSA: another key type cannot sign them
            raise ValueError("the token signing key must be an Ed25519 key (`xinfang keys` makes one) / "
                             "签发令牌的密钥必须是 Ed25519 密钥")
        self._key = key
        self._kid = key_id(key.public_key())
        self.ttl_s = ttl_s

    def issue(self, p: Principal) -> tuple[str, int]:
        now = int(time.time())
        exp = now + self.ttl_s
        claims = {**p.claims(), "sub": p.username, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": exp}
        claims.pop("username", None)
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self._kid}), exp


class TokenVerifier:
    """Verifies with one public key or several (PEM blocks one after another): during a rotation
    every service holds the old and the new key, so tokens signed by either are good until the
    old ones expire (docs/operations.md)."""

    def __init__(self, public_pem: str) -> None:
        blocks = _PEM_BLOCK.findall(public_pem) or [public_pem]
        self._keys: dict[str, Ed25519PublicKey] = {}
        for block in blocks:
            key = serialization.load_pem_public_key(block.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("the token verify key must be an Ed25519 public key (`xinfang keys` makes one) / "
                                 "验证令牌的公钥必须是 Ed25519 公钥")
            self._keys[key_id(key)] = key

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def verify(self, token: str) -> Principal:
        return self.verify_issued(token)[0]

    def verify_issued(self, token: str) -> tuple[Principal, int | None]:
        """The token's principal and when it was issued (``iat``, whole seconds)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        # a token names its key; one from before key ids is tried against each key held
        candidates = [self._keys[kid]] if kid in self._keys else [] if kid else list(self._keys.values())
        if not candidates:
            raise InvalidToken("invalid token: signed with a key this service does not hold")
        c: dict = {}
        for i, key in enumerate(candidates):
            try:
                c = jwt.decode(token, key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER,
                               options={"require": ["exp", "sub", "iss", "aud"]})
                break
            except jwt.InvalidSignatureError as exc:
                if i == len(candidates) - 1:
                    raise InvalidToken(f"invalid token: {exc}") from exc
            except jwt.ExpiredSignatureError as exc:
                raise InvalidToken("token expired") from exc
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"invalid token: {exc}") from exc
        if c.get("role") not in ROLES or not c.get("jurisdiction"):
            raise InvalidToken("token lacks a role or jurisdiction")
        return Principal(username=c["sub"], role=c["role"], jurisdiction=c["jurisdiction"],
                         unit_id=c.get("unit_id"), display_name=c.get("display_name")), c.get("iat")


# ------------------------------------------------------------------ passwords


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (64 MiB)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def require_role(user: Principal, *roles: str) -> None:
    """Refuse (Forbidden) unless ``user`` has one of ``roles``."""
    from xinfang.errors import Forbidden

    if user.role not in roles:
        names = "、".join(ROLE_NAMES_ZH[r] for r in roles)
        raise Forbidden(f"role {user.role} may not do this (needs one of: {', '.join(roles)})",
                        f"当前角色（{ROLE_NAMES_ZH.get(user.role, user.role)}）无权执行此操作，需要：{names}")
