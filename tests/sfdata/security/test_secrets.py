"""Credentials never written or shown: '@' inside a URL password, OPENAI_BASE_URL, and Hub tokens off argv."""

from __future__ import annotations

import argparse
import io

import pytest

from sfdata.app.cli.push import add_arguments, read_token
from sfdata.redact import MASK, redact, redact_text, remember_environment


@pytest.mark.parametrize(
    "url",
    ["http://user:p@ss@host:9/v1", "https://u:a@b@c@127.0.0.1/v1", "http://only@user@host/x"],
)
def test_userinfo_with_at_signs_is_masked_whole(url):
    text = redact_text(f"could not reach {url}: refused")
    assert text == f"could not reach {url.split('://')[0]}://{MASK}@{url.rsplit('@', 1)[1]}: refused"
    assert redact({"base_url": url})["base_url"].startswith(url.split("://")[0] + "://***@")


def test_a_url_in_the_environment_is_learned():
    remember_environment({"OPENAI_BASE_URL": "http://bob:s3cr@t-pass@h/v1"})
    assert "s3cr@t-pass" not in redact_text("engine said: bad password s3cr@t-pass")


def test_plain_urls_keep_their_at_signs_after_the_host():
    assert redact_text("see http://example.com/a@b") == "see http://example.com/a@b"


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["run", "me/x", *argv])


def test_token_from_a_file_or_stdin(tmp_path, monkeypatch):
    f = tmp_path / "tok"
    f.write_text("hf_FAKEtokenFAKEtoken0123\n")
    assert read_token(_args("--token-file", str(f))) == "hf_FAKEtokenFAKEtoken0123"
    monkeypatch.setattr("sys.stdin", io.StringIO("hf_OTHERtokenOTHER012345\n"))
    assert read_token(_args("--token-file", "-")) == "hf_OTHERtokenOTHER012345"
    assert read_token(_args()) is None  # HF_TOKEN / hf auth login, read by huggingface_hub


def test_token_on_the_command_line_warns(capsys):
    assert read_token(_args("--token", "hf_ARGVtokenARGVtoken99")) == "hf_ARGVtokenARGVtoken99"
    assert "deprecated" in capsys.readouterr().err
    assert "ARGVtoken" not in redact_text("upload failed for token hf_ARGVtokenARGVtoken99")
