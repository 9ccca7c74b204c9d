"""The holdout's verdict in plain words (cartback.dashboard.verdict)."""

from __future__ import annotations

from cartback.dashboard.verdict import _compares, _verdict
from cartback.i18n import translator


def holdout(conv, rpv=(-1.0, 1.0)):
    return {"share": 0.1, "control": {"visitors": 120}, "treatment": {"visitors": 1080},
            "conversion": {"absolute": sum(conv) / 2, "ci95": list(conv), "significant": conv[0] > 0 or conv[1] < 0},
            "revenue_per_visitor": {"absolute": sum(rpv) / 2, "ci95": list(rpv),
                                    "significant": rpv[0] > 0 or rpv[1] < 0}}


def test_plain_word_verdicts():
    assert _verdict(None)[1] == "sig_short_off"
    assert _verdict({"share": 0})[1] == "sig_short_off"
    assert _verdict(holdout((0.002, 0.02))) == ("sig_yes_up", "sig_short_yes")
    assert _verdict(holdout((-0.03, -0.001))) == ("sig_yes_down", "sig_short_down")
    assert _verdict(holdout((-0.01, 0.03), (2.0, 30.0))) == ("sig_rpv_up", "sig_short_yes")
    assert _verdict(holdout((-0.01, 0.03), (-30.0, -2.0))) == ("sig_rpv_down", "sig_short_down")
    assert _verdict(holdout((-0.01, 0.03))) == ("sig_not_yet_up", "sig_short_not_yet")
    assert _verdict(holdout((-0.03, 0.01))) == ("sig_not_yet", "sig_short_not_yet")


def test_a_control_group_from_before_the_switch_off_still_compares():
    switched_off = dict(holdout((0.002, 0.02)), share=0, control={"visitors": 40})
    assert _compares(switched_off) and _verdict(switched_off)[0] == "sig_yes_up"
    assert not _compares({"share": 0, "control": {"visitors": 0}})
    assert not _compares({}) and not _compares(None)


def test_every_verdict_has_a_text_in_both_languages():
    cases = [None, holdout((0.002, 0.02)), holdout((-0.03, -0.001)), holdout((-0.01, 0.03), (2.0, 30.0)),
             holdout((-0.01, 0.03), (-30.0, -2.0)), holdout((-0.01, 0.03)), holdout((-0.03, 0.01))]
    for locale in ("tr", "en"):
        t = translator(locale)
        for case in cases:
            for key in _verdict(case):
                assert t(key) != key, (locale, key)


def test_an_empty_group_is_not_yet_significant_in_words_too():
    empty = dict(holdout((-0.03, 0.01)), treatment={"visitors": 0})
    assert _compares(empty) and _verdict(empty) == ("sig_not_yet", "sig_short_not_yet")
