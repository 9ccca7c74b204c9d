import pytest
from cartback.tokens import VisitorTokens


def test_tokens_are_bound_to_shop_and_secret():
    tokens = VisitorTokens("s3cret", 3600)
    vid = tokens.new_visitor()
    token = tokens.sign("honey", vid)
    assert tokens.verify("honey", token) == vid
    assert tokens.verify("other-shop", token) is None
    assert VisitorTokens("another", 3600).verify("honey", token) is None
    for junk in (None, 12, "", "a.b.c", token + "x", "x" * 500, ["list"]):
        assert tokens.verify("honey", junk) is None
    assert tokens.new_visitor() != vid


def test_expired_tokens_are_unknown_to_visitors_but_nameable_by_merchants():
    import time

    from itsdangerous import TimestampSigner

    class Old(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 7200

    tokens = VisitorTokens("s3cret", 3600)
    old = Old("s3cret", salt="cartback.visitor:honey").sign("visitor-1").decode()
    assert tokens.verify("honey", old) is None
    assert tokens.verify("honey", old, any_age=True) == "visitor-1"
    assert tokens.verify("other", old, any_age=True) is None


def _itsdangerous(secret: str, shop: str, age: int = 0):
    import time

    from itsdangerous import TimestampSigner

    class Signer(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - age

    return Signer(secret, salt=f"cartback.visitor:{shop}")


def test_same_wire_format_as_itsdangerous_both_ways():
    from itsdangerous import BadSignature, SignatureExpired

    tokens = VisitorTokens("s3cret-ğ", 3600)
    plain = _itsdangerous("s3cret-ğ", "honey")
    for vid in ("visitor-1", tokens.new_visitor(), "with.dots.inside", "ünïcode"):
        # Theirs verify here.
        assert tokens.verify("honey", plain.sign(vid).decode()) == vid
        # Ours verify there, for the same shop and age limit only.
        ours = tokens.sign("honey", vid)
        assert plain.unsign(ours, max_age=3600).decode() == vid
        with pytest.raises(BadSignature):
            _itsdangerous("s3cret-ğ", "other").unsign(ours)
        with pytest.raises(BadSignature):
            _itsdangerous("another", "honey").unsign(ours)
        assert tokens.verify("other", plain.sign(vid).decode()) is None

    # Byte for byte, given the same second.
    import time

    now = int(time.time())
    ours, theirs = tokens.sign("honey", "v"), plain.sign("v").decode()
    if int(time.time()) == now:
        assert ours == theirs

    # Expired and future tokens: refused by both, named by any_age by both.
    for age in (7200, -120):
        old = _itsdangerous("s3cret-ğ", "honey", age).sign("visitor-1").decode()
        assert tokens.verify("honey", old) is None
        assert tokens.verify("honey", old, any_age=True) == "visitor-1"
        with pytest.raises(SignatureExpired):
            plain.unsign(old, max_age=3600)
        assert plain.unsign(old).decode() == "visitor-1"
        assert tokens.verify("other", old, any_age=True) is None


def test_tampered_tokens_fail_here_as_they_do_in_itsdangerous():
    from itsdangerous import BadSignature

    tokens = VisitorTokens("s3cret", 3600)
    plain = _itsdangerous("s3cret", "honey")
    good = tokens.sign("honey", "visitor-1")
    vid, ts, sig = good.split(".")
    candidates = [
        f"visitor-2.{ts}.{sig}", f"{vid}.{ts}A.{sig}", f"{vid}.{ts}.{sig[:-1]}", f"{vid}.{ts}.{sig}x",
        f"{vid}.{sig}", f"{vid}..{sig}", f"{vid}.{ts}.", f".{ts}.{sig}", f"{vid}.{ts}.{sig}.", "....",
        f"{vid}.{ts}.{sig[:-2]}!!", f"{vid}.{ts}.{sig}\ud800", f"{vid}.!!!!.{sig}",
    ]
    # Signed by itsdangerous but odd inside: an empty value, an empty or over-long timestamp.
    raw = plain.get_signature
    candidates += [f"{p}.{raw(p).decode()}" for p in (f".{ts}", f"{vid}.", f"{vid}.AAAAAAAAAAAAAAAA", vid)]
    for token in candidates:
        try:
            theirs = plain.unsign(token, max_age=3600).decode()
        except (BadSignature, UnicodeError):
            theirs = None
        try:
            theirs_any = plain.unsign(token).decode()
        except (BadSignature, UnicodeError):
            theirs_any = None
        assert tokens.verify("honey", token) == theirs, token
        assert tokens.verify("honey", token, any_age=True) == theirs_any, token


def test_a_fresh_token_comes_back_as_it_was_and_a_day_old_one_is_renewed():
    from cartback.tokens import RENEW_AFTER

    tokens = VisitorTokens("s3cret", 30 * 86400)
    fresh = _itsdangerous("s3cret", "honey", 60).sign("v1").decode()
    assert tokens.renewed("honey", fresh) == ("v1", fresh)
    old = _itsdangerous("s3cret", "honey", RENEW_AFTER + 60).sign("v1").decode()
    vid, renewed = tokens.renewed("honey", old)
    assert vid == "v1" and renewed != old and tokens.check("honey", renewed)[1] in (0, 1)
    assert tokens.renewed("honey", old + "x") == (None, None)
    assert tokens.renewed("other", fresh) == (None, None)


def test_a_token_verified_before_answers_the_same_later(monkeypatch):
    # Verified tokens are remembered; the age limit, the shop and the exact bytes still decide.
    import time

    from cartback import tokens as module

    tokens = VisitorTokens("s3cret", 3600)
    token = tokens.sign("honey", "visitor-1")
    assert tokens.verify("honey", token) == "visitor-1"
    assert tokens.verify("honey", token) == "visitor-1"
    assert tokens.verify("other", token) is None
    # A signature character in the middle: the last one may carry only base64 padding bits, and
    # changing those leaves the signature's bytes (and the token's validity) as they were.
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    assert tokens.verify("honey", tampered) is None
    assert tokens.renewed("honey", token) == ("visitor-1", token)

    old = _itsdangerous("s3cret", "honey", 7200).sign("visitor-2").decode()
    assert tokens.verify("honey", old, any_age=True) == "visitor-2"
    assert tokens.verify("honey", old) is None  # remembered by the merchant's call, still too old here

    later = time.time() + 3601
    monkeypatch.setattr(module.time, "time", lambda: later)
    assert tokens.verify("honey", token) is None
    assert tokens.verify("honey", token, any_age=True) == "visitor-1"


def test_a_signed_timestamp_beyond_any_clock_is_no_visitor_not_an_error():
    from itsdangerous.encoding import base64_encode, int_to_bytes

    signer = _itsdangerous("s3cret", "honey", 0)
    tokens = VisitorTokens("s3cret", 3600)
    for moment in (10**12, 2**63, 2**64 - 1):
        payload = b"v1." + base64_encode(int_to_bytes(moment))
        token = (payload + b"." + signer.get_signature(payload)).decode()
        assert tokens.check("honey", token) == (None, None)
        assert tokens.verify("honey", token, any_age=True) in (None, "v1")
