"""The parser's fast path (memoised parts) gives exactly what the strict path gives.

`document._fast_document` accepts only the usual forms and must return a `KeyPolicy` equal to
the strict parser's, or `None` (then the strict path runs, with its errors and locations). Here
both are run on the corpora and on generated policies, valid, mutated and with characters
PutKeyPolicy refuses, with the memos warm (the second call of each input) and cold.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmkguard.errors import PolicyParseError
from cmkguard.policy import document
from cmkguard.policy._memo import MEMOS
from tests.policy import differential_strategies as diff
from tests.policy import strategies as plain
from tests.policy.policy_corpus import OWN_CORPUS, PUBLIC_CORPUS, case_policy, load_cases

_PROFILE = settings(max_examples=int(os.environ.get("POLICY_PARSE_EXAMPLES", "150")), deadline=None)


def _strict(doc: Any) -> document.KeyPolicy | str:
    try:
        return document._strict_document(doc)
    except PolicyParseError as exc:
        return str(exc)
    except RecursionError:
        return "recursion"


def _same(doc: Any) -> None:
    expected = _strict(copy.deepcopy(doc))
    for _ in range(2):  # the first call fills the memos, the second reads them
        fast = document._fast_document(doc) if type(doc) is dict else None
        if fast is not None:
            assert fast == expected, doc
            assert [s.render() for s in fast.statements] == [
                s.render()
                for s in expected.statements  # type: ignore[union-attr]
            ]
        assert _parsed(doc) == expected


def _parsed(doc: Any) -> document.KeyPolicy | str:
    try:
        return document.parse_key_policy(doc)
    except PolicyParseError as exc:
        return str(exc)


@pytest.mark.parametrize("case", load_cases(PUBLIC_CORPUS) + load_cases(OWN_CORPUS))
def test_fast_path_matches_the_strict_parser_on_the_corpora(case: dict[str, Any]) -> None:
    policy = case_policy(case)
    if isinstance(policy, str):
        try:
            policy = document._decode(policy)
        except PolicyParseError:
            return
    _same(policy)


_ODD = st.sampled_from(["\u2013", "\x7f", "\x00", "\u212a", "\xe9", "\t", "\n", '"', "\\"])


@st.composite
def _odd_policies(draw: st.DrawFn) -> Any:
    """A valid policy with a character PutKeyPolicy refuses (or an unusual allowed one) put into
    one of its strings: a Sid, a principal, an action, a resource, an operator, a key, a value."""
    doc = draw(plain.policies())
    stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    target = draw(st.sampled_from(stmts))
    odd = draw(_ODD)
    field = draw(st.sampled_from(["Sid", "Principal", "Action", "Resource", "Condition"]))
    if field == "Sid":
        target["Sid"] = "a" + odd
    elif field == "Principal":
        target.pop("NotPrincipal", None)
        target["Principal"] = {"AWS": f"arn:aws:iam::{plain.KEY_ACCOUNT}:role/x{odd}"}
    elif field == "Action":
        target.pop("NotAction", None)
        target["Action"] = ["kms:Decrypt", "kms:De" + odd]
    elif field == "Resource":
        target["Resource"] = "arn:aws:kms:*:*:key/" + odd
    else:
        where = draw(st.sampled_from(["op", "key", "value"]))
        op = "StringLi\u212ae" if where == "op" and odd == "\u212a" else "StringLike"
        op = op + odd if where == "op" and odd != "\u212a" else op
        key = "kms:ViaService" + (odd if where == "key" else "")
        target["Condition"] = {op: {key: "x" + (odd if where == "value" else "")}}
    return doc


@_PROFILE
@given(st.one_of(plain.policies(), plain.mutated_policies(), diff.policies(), _odd_policies()))
def test_fast_path_matches_the_strict_parser(doc: Any) -> None:
    _same(doc)


@_PROFILE
@given(st.one_of(plain.policies(), _odd_policies()))
def test_fast_path_matches_with_cold_memos(doc: Any) -> None:
    MEMOS.clear()
    _same(doc)


def test_fast_path_refuses_what_putkeypolicy_refuses() -> None:
    ok = {
        "Effect": "Allow",
        "Principal": {"AWS": "111122223333"},
        "Action": "kms:*",
        "Resource": "*",
    }
    for _ in range(2):
        assert document.parse_key_policy({"Statement": [ok]}).statements[0].actions == ("kms:*",)
    with pytest.raises(PolicyParseError, match="U\\+2013"):
        document.parse_key_policy({"Statement": [{**ok, "Sid": "a\u2013b"}]})
    with pytest.raises(PolicyParseError, match="empty list"):
        document.parse_key_policy({"Statement": []})
    no_action = {k: v for k, v in ok.items() if k != "Action"}
    assert document.parse_key_policy({"Statement": [no_action]}).statements[0].actions == ()
