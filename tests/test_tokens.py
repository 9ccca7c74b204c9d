from server.tokens import VisitorTokens


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
