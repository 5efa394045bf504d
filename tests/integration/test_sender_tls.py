"""The sender connects to the address it checked, yet speaks TLS to the name: the certificate is verified
against the URL's host (SNI and Host keep it), so pinning the address loses nothing of https."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from imagepipe.errors import DeliveryFailed
from receiver import Receiver, receiver
from sender import post_signed


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` (and nothing else), signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    """A receiver on 127.0.0.1 whose certificate names ``request.param``; and a client context trusting it."""
    cert, key = self_signed(tmp_path, request.param)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    with receiver(tls=server) as r:
        yield r, client


async def send(r: Receiver, client: ssl.SSLContext) -> int:
    return await post_signed(
        r.url(host="localhost", scheme="https"),
        json.dumps({"image_id": "x"}),
        secret="whsec_t",
        delivery_id="dl_t",
        timeout_seconds=5,
        local=True,
        verify=client,
    )


@pytest.mark.parametrize("tls_receiver", ["localhost"], indirect=True)
async def test_https_to_a_pinned_address_verifies_the_name(tls_receiver: tuple[Receiver, ssl.SSLContext]) -> None:
    r, client = tls_receiver
    assert await send(r, client) == 200
    (got,) = r.received
    assert got.headers["Host"] == f"localhost:{r.port}"


@pytest.mark.parametrize("tls_receiver", ["elsewhere.test"], indirect=True)
async def test_a_certificate_for_another_name_is_refused(tls_receiver: tuple[Receiver, ssl.SSLContext]) -> None:
    r, client = tls_receiver
    with pytest.raises(DeliveryFailed):
        await send(r, client)
    assert r.received == []
