"""Where imagepipe may send a request on a tenant's behalf (webhooks): the URL rules, and the addresses a host
may resolve to. Checked at registration and again at every delivery, which then connects to the address it
checked (no second lookup an attacker's DNS could answer differently)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from imagepipe.errors import ForbiddenAddress, InvalidWebhookUrl, UnresolvableHost

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# NAT64 prefixes embed an IPv4 address (a VPC's DNS64 maps 169.254.169.254 into them)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# named although the general rules below already refuse them: the cloud metadata endpoints
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


@dataclass(frozen=True)
class Target:
    """A checked URL, split: what to connect to and what to send."""

    scheme: str
    host: str  # lower-case, without brackets
    port: int
    path: str  # path and query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def url_at(self, address: IPAddress) -> str:
        """The URL with the checked address in place of the host name."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_target(url: str, *, local: bool) -> Target:
    """Refuse what no webhook URL may be: not http(s), https-less when deployed, credentials, no host."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl(f"the URL is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if local else ("https",)
    if scheme not in allowed:
        raise InvalidWebhookUrl(f"the URL must use {' or '.join(allowed)}")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("the URL must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhookUrl("the URL has no host")
    path = parts.path or "/"
    return Target(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=f"{path}?{parts.query}" if parts.query else path,
    )


def refusal(address: IPAddress, *, local: bool) -> str | None:
    """Why imagepipe must not connect to ``address``, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded, local=local)
        if address.teredo:
            return "a Teredo address"
    if address in _METADATA:
        return "the cloud metadata endpoint"
    if address.is_loopback:
        return None if local else "a loopback address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if not address.is_global:  # private, shared (CGNAT), reserved, unspecified, documentation ranges
        return "a private or reserved address"
    return None


async def resolve(target: Target, *, local: bool) -> IPAddress:
    """The address to connect to: every address the host resolves to must be allowed (one bad answer refuses
    the lot: an attacker's DNS can order its answers), and plain http only ever reaches loopback."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnresolvableHost(f"the host {target.host!r} does not resolve") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
        if not addresses:
            raise UnresolvableHost(f"the host {target.host!r} does not resolve")
    for address in addresses:
        if reason := refusal(address, local=local):
            raise ForbiddenAddress(f"{target.host} resolves to {address}, {reason}")
    if target.scheme == "http" and not all(a.is_loopback for a in addresses):
        raise InvalidWebhookUrl("plain http is allowed to loopback only (local mode)")
    return addresses[0]
