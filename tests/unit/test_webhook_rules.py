"""The webhook rules that need no network: which addresses the sender refuses, URL parsing, signatures."""

from __future__ import annotations

import ipaddress

import pytest

from imagepipe.egress import parse_target, refusal
from imagepipe.errors import InvalidWebhookUrl
from imagepipe.signing import signature, verify


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",  # shared (carrier-grade NAT)
        "169.254.169.254",  # instance metadata
        "169.254.170.2",  # ECS task metadata
        "fd00:ec2::254",  # instance metadata over IPv6
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "240.0.0.1",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "2001:0::1",  # Teredo
        "198.51.100.7",  # documentation
    ],
)
def test_deployed_sender_refuses_non_public_addresses(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), local=False) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "64:ff9b::5db8:d70e"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), local=False) is None


def test_local_mode_allows_loopback_and_nothing_else_private() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), local=True) is None
    assert refusal(ipaddress.ip_address("10.0.0.1"), local=True) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), local=True) is not None


def test_a_target_keeps_the_name_for_host_and_connects_to_the_address() -> None:
    target = parse_target("https://Hooks.Example.com:8443/in?x=1#frag", local=False)
    assert target.host_header == "hooks.example.com:8443"
    assert target.url_at(ipaddress.ip_address("2606:2800::1")) == "https://[2606:2800::1]:8443/in?x=1"
    assert parse_target("https://example.com", local=False).host_header == "example.com"


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "file:///etc/passwd", "https://a:b@example.com/", "https:///nohost", "https://x:99999/"],
)
def test_deployed_urls_that_are_refused_before_any_lookup(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        parse_target(url, local=False)


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    body = b'{"image_id":"abc"}'
    header = signature("whsec_s", body, 1_700_000_000)
    assert verify("whsec_s", header, body, now=1_700_000_100)
    assert not verify("whsec_s", header, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not verify("whsec_t", header, body, now=1_700_000_000)
    assert not verify("whsec_s", header, body + b"x", now=1_700_000_000)
    assert not verify("whsec_s", "t=x,v1=00", body, now=1_700_000_000)
