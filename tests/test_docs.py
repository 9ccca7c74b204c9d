"""The project's own docs hold its public contract: every link in them and the README resolves
inside the repository."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = [REPO / "README.md", REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]


def test_links_stay_inside_the_repository_and_resolve():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target):
                continue
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(REPO), f"{doc.name} links outside the repository: {target}"
            assert path.exists(), f"{doc.name} links to a missing file: {target}"


def test_the_contract_names_every_verb_the_snippet_answers():
    contract = (REPO / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    source = (REPO / "snippet" / "src" / "cartback.js").read_text(encoding="utf-8")
    verbs = {"view", "add", "remove", "cart", "favorite", "unfavorite", "purchase", "render", "consent", "adapter",
             "restore"}
    for verb in verbs:
        assert f"| `{verb}`" in contract, verb
        assert verb in source, verb
