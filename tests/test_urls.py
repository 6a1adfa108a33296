"""What is stored and printed of a feed or snapshot URL never carries its credentials."""

from __future__ import annotations

import pytest

from planner_tui.urls import redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ben:s3cret@mes.example:8443/feed?after=1", "https://***@mes.example:8443/feed?after=1"),
        ("http://mes.example/feed?access_token=abc&after=2", "http://mes.example/feed?access_token=***&after=2"),
        ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
        ("http://u:p@[::1]:8080/feed", "http://***@[::1]:8080/feed"),
        ("/var/spool/plant/events.jsonl", "/var/spool/plant/events.jsonl"),
        # Not parseable (a port out of range): the secrets still go.
        ("http://u:p@mes:99999/x?token=abc&after=3", "http://***@mes:99999/x?token=***&after=3"),
        ("http://mes:99999/x?api_key=abc", "http://mes:99999/x?api_key=***"),
    ],
)
def test_a_url_is_shown_without_its_secrets(url, shown) -> None:
    assert redact_url(url) == shown


def test_an_error_message_loses_the_url_and_its_secrets() -> None:
    url = "https://ben:s3cret@mes.example/feed?token=t0k3n"
    text = redact_text(f"cannot reach {url}: the server said s3cret and t0k3n", url)
    assert "s3cret" not in text and "t0k3n" not in text
    assert "https://***@mes.example/feed?token=***" in text
