"""Tamper evidence for signed reports (rule REP-3).

At sign-off the server hashes a canonical serialisation (RFC 8785, JSON Canonicalization Scheme) of everything
the customer signed for, and signs the digest with an Ed25519 key that lives outside the database. Whoever can
write to the database can change a row, but cannot make the changed row verify.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"
CANONICALIZATION = "RFC8785-JCS"


@dataclass(frozen=True)
class Seal:
    digest: str  # hex SHA-256 of the canonical content
    signature: str  # base64 Ed25519 signature over the raw digest bytes
    key_id: str


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str


def canonical_bytes(content: dict[str, Any]) -> bytes:
    return rfc8785.dumps(content)


def digest_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class ReportSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def load(cls, key_path: Path, pem_from_env: str | None = None) -> ReportSigner:
        """The key comes from ONSITE_SIGNING_KEY (PEM) when set, else from a file made on first use (mode 0600)."""
        if pem_from_env:
            return cls(_parse_private_key(pem_from_env.encode()))
        if key_path.exists():
            return cls(_parse_private_key(key_path.read_bytes()))
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        key_path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: link fails if the file exists, so when two processes start
        # together one key wins, and the other never reads a half-written file.
        draft = key_path.with_name(f".{key_path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(draft, key_path)
        except FileExistsError:
            return cls(_parse_private_key(key_path.read_bytes()))
        finally:
            draft.unlink()
        return cls(key)

    def seal(self, content: dict[str, Any]) -> Seal:
        digest = hashlib.sha256(canonical_bytes(content)).digest()
        return Seal(digest=digest.hex(), signature=base64.b64encode(self._private_key.sign(digest)).decode(),
                    key_id=self.key_id)

    def verify(self, content: dict[str, Any], seal: Seal) -> Verdict:
        if seal.key_id != self.key_id:
            return Verdict(False, f"signed with key {seal.key_id}, which is not this server's key {self.key_id}")
        digest = hashlib.sha256(canonical_bytes(content)).digest()
        if digest.hex() != seal.digest:
            return Verdict(False, "the stored report no longer matches what was signed (content digest differs)")
        try:
            self.public_key.verify(base64.b64decode(seal.signature), digest)
        except (InvalidSignature, ValueError):
            return Verdict(False, "the signature does not match the digest (signature or digest altered)")
        return Verdict(True, "content and signature match")

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def public_jwk(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "kid": self.key_id, "alg": "EdDSA",
                "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def _parse_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the report signing key must be an Ed25519 private key")
    return key
