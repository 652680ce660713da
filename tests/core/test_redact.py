"""Secrets in URLs: one rule for query strings and path tokens, used by logs and diagnostics."""

from __future__ import annotations

import logging

import pytest

from garagecam_core.redact import REDACTED, SecretFilter, redact, redact_url, url_secrets

SCRYPTED = (
    "https://scrypted.local:10443/endpoint/@scrypted/webhook/public/123/9f2c41d07be3a5c8?snapshot=1"
)


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        ("http://cam/snap.jpg?access_token=abc123xyz", "abc123xyz", "http://cam/snap.jpg?"),
        ("http://cam/api/snap?apikey=K3Y-value&ch=1", "K3Y-value", "&ch=1"),
        ("http://cam/snap?api_key=k3yvalue", "k3yvalue", "api_key="),
        ("http://cam/snap?X-Api-Key=k3yvalue", "k3yvalue", "X-Api-Key="),
        ("http://cam/cgi?user=admin&password=hunter22", "hunter22", "user=admin"),
        ("http://cam/cgi?usr=admin&pwd=hunter22", "hunter22", "usr=admin"),
        ("http://cam/snap?token=t0k3n-value", "t0k3n-value", "http://cam/snap"),
        ("http://cam/snap?Signature=s1gnature", "s1gnature", "http://cam/snap"),
        ("http://admin:hunter22@cam/snap.jpg", "hunter22", "http://admin:"),
        (SCRYPTED, "9f2c41d07be3a5c8", "/webhook/public/123/"),
        ("http://cam/api/token/shortone/snap.jpg", "shortone", "/api/token/"),
        (
            "http://frigate:5000/api/front/latest.jpg?h=720#access_token=abcdef",
            "abcdef",
            "/api/front/latest.jpg?h=720",
        ),
        (
            "http://cam/s/3f1b6a2c-9d4e-4f7a-8b1c-2e5d7a9c0f13/image.jpg",
            "3f1b6a2c-9d4e-4f7a-8b1c-2e5d7a9c0f13",
            "/image.jpg",
        ),
    ],
)
def test_secrets_in_urls_are_redacted(url: str, secret: str, kept: str) -> None:
    redacted = redact_url(url)
    assert secret not in redacted
    assert kept in redacted
    assert REDACTED in redacted or "#" in url


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20/image.jpg",
        "http://cam.local:8080/cgi-bin/snapshot.cgi?channel=1&subtype=0",
        "http://thingino/image.jpg?width=1920&height=1080",
        "https://cam/ISAPI/Streaming/channels/101/picture",
    ],
)
def test_plain_urls_are_left_alone(url: str) -> None:
    assert redact_url(url) == url


def test_url_secrets_feed_the_log_filter(caplog: pytest.LogCaptureFixture) -> None:
    # An exception text or a library log line may carry the URL in any form: the filter masks
    # the secret parts themselves, raw and percent-decoded.
    url = "http://cam/snap?access_token=a%2Bb%2Fc123&ch=1"
    secrets = SecretFilter()
    for secret in url_secrets(url):
        secrets.add(secret)
    caplog.handler.addFilter(secrets)
    try:
        logging.getLogger("test").warning("GET %s failed (token a+b/c123)", url)
    finally:
        caplog.handler.removeFilter(secrets)
    assert "a%2Bb%2Fc123" not in caplog.text and "a+b/c123" not in caplog.text
    assert url_secrets(SCRYPTED) == ["9f2c41d07be3a5c8"]


def test_config_dicts_redact_urls_inside() -> None:
    data = {"snapshot": {"url": SCRYPTED, "password": "x"}}
    out = redact(data)
    assert "9f2c41d07be3a5c8" not in str(out)
    assert out["snapshot"]["password"] == REDACTED
