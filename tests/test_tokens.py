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
