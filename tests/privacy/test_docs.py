"""docs/privacy.md states what the code does: the consent texts and the retention settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from privacy.consent import CURRENT_VERSION, text_for
from privacy.retention import RETENTION_RULES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_published_consent_text_is_in_the_dpo_document(language):
    text = text_for(CURRENT_VERSION, language, operator="{operator}")
    assert f"Consent text (version {CURRENT_VERSION})" in DOC
    for value in (text.title, text.summary, text.purpose, text.term, text.withdrawal, text.agree, *text.data):
        assert value in DOC, value[:60]
    assert "; ".join(text.actions) in DOC


def test_every_retention_setting_and_its_default_is_documented():
    for rule in RETENTION_RULES:
        assert f"`{rule.setting}`" in DOC, rule.setting
        default = getattr(settings, rule.setting)
        assert re.search(rf"{default} days? \(`{rule.setting}`\)", DOC), (rule.setting, default)


def test_the_manager_notice_and_legal_bases_are_present():
    flat = " ".join(DOC.replace("*", "").split())
    for phrase in ("Art. 5(1)(f)", "Art. 9(2)(a)", "152-FZ", "1 September 2025", "separate document"):
        assert phrase in flat, phrase
