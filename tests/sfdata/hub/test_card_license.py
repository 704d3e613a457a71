"""The card's license check uses the Hub's own list (vendored with its source and date), not a hand-kept subset."""

from __future__ import annotations

import pytest

from sfdata.hub.card import check_license, hub_licenses


@pytest.mark.parametrize("lic", ["cc-by-3.0", "gpl-2.0", "apache-2.0", "cdla-permissive-2.0", "llama3.2", "other"])
def test_hub_licenses_are_accepted(lic):
    assert check_license(lic) == lic


@pytest.mark.parametrize("lic", ["MIT; rm -rf", "Apache-2.0", "gpl-2", "", "# Source: https://huggingface.co/docs"])
def test_other_strings_are_refused_with_one_clear_line(lic):
    with pytest.raises(ValueError, match="is not a Hub license id") as e:
        check_license(lic)
    assert "\n" not in str(e.value) and "repositories-licenses" in str(e.value)


def test_the_vendored_list_is_the_hub_table_not_its_header():
    ids = hub_licenses()
    assert len(ids) > 80 and all(i == i.strip().lower() and " " not in i for i in ids)
