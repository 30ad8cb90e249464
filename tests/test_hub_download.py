"""Naming a model on the Hub (OWNER/NAME[@REVISION]) and saying why a download failed without echoing the request.
Downloads themselves, against tests/hub_server.py, are in test_hub.py and test_hub_conventions.py."""

import pytest

from captcha_model.reading import hub_download


@pytest.mark.parametrize("text, expected", [
    ("owner/name", ("owner/name", None)),
    ("Owner-1/my.model_2@v1.0", ("Owner-1/my.model_2", "v1.0")),
    ("owner/name@" + "a" * 40, ("owner/name", "a" * 40)),
    ("owner/name@refs/pr/3", ("owner/name", "refs/pr/3")),
])
def test_model_sources_name_a_repo_and_maybe_a_revision(text, expected):
    assert hub_download.parse_model_source(text) == expected


@pytest.mark.parametrize("text", ["name", "runs/model.keras", "/abs/path", "a/b/c", "owner/name@", "owner/na--me"])
def test_other_model_sources_are_refused_with_what_is_accepted(text):
    with pytest.raises(ValueError, match="OWNER/NAME|not a valid Hub repo id"):
        hub_download.parse_model_source(text)


def test_a_path_to_a_missing_model_is_not_taken_for_a_repo():
    for path in ("runs/model.keras", "exports/model.onnx"):
        with pytest.raises(ValueError, match=f"No model file at '{path}', and it does not name a Hub repo"):
            hub_download.parse_model_source(path)


def test_a_network_error_is_told_in_its_first_line_or_by_its_type():
    assert hub_download.reason(OSError("Connection refused\nwhile fetching ...")) == "Connection refused"
    assert hub_download.reason(TimeoutError()) == "TimeoutError"
