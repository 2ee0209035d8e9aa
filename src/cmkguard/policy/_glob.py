"""IAM wildcard matching (`*` and `?`) without backtracking, and the KMS action space.

A key policy is attacker-influenced input for a scanner of many accounts, so no policy string
ever reaches a backtracking regular expression: `"kms:************x"` took a regex engine over
30 s. Patterns are compiled to token tuples and matched by an NFA set simulation (a bitmask of
pattern positions, advanced once per text character).

**Bound.** For a pattern of `m` tokens and a text of `n` characters the simulation does `n`
steps; each step visits at most `m + 1` positions and then takes the star closure once, so the
cost is `O(n * m)` with no input that makes it worse, and `O(n + m)` for the literal and
single-star patterns policies are mostly made of (they short-circuit to `str` comparisons).
The texts matched against policy patterns are action names and ARNs (a few hundred characters
at most), so a 32 KB policy costs time linear in its size.

The same tokens drive the automata of the witness solver (`_solver.py`).
"""

from __future__ import annotations

from cmkguard.policy._actions import KMS_ACTIONS
from cmkguard.policy._memo import MEMOS

__all__ = [
    "ALL_ACTIONS",
    "CANONICAL_ACTION",
    "QMARK",
    "STAR",
    "Pattern",
    "arn_match",
    "compile_pattern",
    "expand_action",
    "glob_match",
    "has_wildcard",
    "pattern_match",
    "tokens_of",
    "wildcard_match",
]

ALL_ACTIONS: frozenset[str] = frozenset(a.lower() for a in KMS_ACTIONS)
"""The KMS action model, lower-cased (actions match case-insensitively)."""

CANONICAL_ACTION: dict[str, str] = {a.lower(): a for a in KMS_ACTIONS}
"""Lower-cased action -> its canonical spelling (`kms:decrypt` -> `kms:Decrypt`)."""

STAR = "\x00*"
"""The token of a `*` wildcard (a literal `*` character is the token `"*"`)."""
QMARK = "\x00?"
"""The token of a `?` wildcard."""


class Pattern:
    """A compiled pattern: tokens (characters, `STAR`, `QMARK`) and how they match.

    `ignore_case` compares characters case-insensitively; `arn` applies `ArnLike`'s field
    rule: a wildcard before the pattern's last field (its first five `:` separate the six ARN
    fields) never matches a `:`, while the last field's wildcards may (IAM paths contain `:`,
    and a pattern with fewer than six fields matches the rest of the ARN with its last one).
    """

    __slots__ = (
        "_moves",
        "_stars",
        "arn",
        "ignore_case",
        "no_colon",
        "text",
        "tokens",
        "universal_from",
    )

    def __init__(self, tokens: tuple[str, ...], ignore_case: bool, arn: bool, text: str) -> None:
        # Per character: (positions a `c` advances from, star positions a `c` stays at).
        self._moves: dict[str, tuple[int, int]] = {}
        self.tokens = tokens
        self.ignore_case = ignore_case
        self.arn = arn
        self.text = text
        # no_colon[j]: the wildcard at j may not match ':' (ArnLike, before the last field).
        no_colon = [False] * len(tokens)
        if arn:
            last_field_start = 0
            colons = 0
            for j, t in enumerate(tokens):
                if t == ":" and colons < 5:
                    colons += 1
                    last_field_start = j + 1
            for j in range(last_field_start):
                no_colon[j] = tokens[j] in (STAR, QMARK)
        self.no_colon = tuple(no_colon)
        self._stars = sum(1 << j for j, t in enumerate(tokens) if t == STAR)
        # universal_from: the first position from which only free stars remain (a match state
        # there accepts every continuation), len(tokens) + 1 when there is none.
        u = len(tokens)
        while u > 0 and tokens[u - 1] == STAR and not no_colon[u - 1]:
            u -= 1
        self.universal_from = u if u < len(tokens) else len(tokens) + 1

    def __repr__(self) -> str:
        return f"Pattern({self.text!r}, ignore_case={self.ignore_case}, arn={self.arn})"

    @property
    def is_literal(self) -> bool:
        """Whether the pattern has no wildcard (it matches one string, or one per case)."""
        return STAR not in self.tokens and QMARK not in self.tokens

    def closure(self, mask: int) -> int:
        """`mask` with every position reachable through stars matching the empty string (one
        shift: runs of stars are one token, so a star is never followed by another)."""
        return mask | (mask & self._stars) << 1

    def step(self, mask: int, ch: str) -> int:
        """The positions after reading `ch` from the positions in `mask` (closed).

        Bit-parallel (shift-and): one table entry per character says which positions `ch`
        advances from (itself or `?`) and at which stars it stays, so a step costs a few
        integer operations whatever the pattern's length.
        """
        moves = self._moves.get(ch)
        if moves is None:
            moves = self._moves[ch] = self._table(ch)
        advance, stay = moves
        out = (mask & advance) << 1 | (mask & stay)
        return out | (out & self._stars) << 1

    def _table(self, ch: str) -> tuple[int, int]:
        c = ch.lower() if self.ignore_case else ch
        advance = stay = 0
        for j, t in enumerate(self.tokens):
            free = not (self.no_colon[j] and c == ":")
            if t == STAR:
                if free:
                    stay |= 1 << j
            elif t == QMARK:
                if free:
                    advance |= 1 << j
            elif t == c:
                advance |= 1 << j
        return advance, stay

    def start(self) -> int:
        """The closed start state."""
        return self.closure(1)

    def accepts(self, mask: int) -> bool:
        """Whether `mask` contains the end of the pattern."""
        return bool(mask >> len(self.tokens) & 1)

    def universal(self, mask: int) -> bool:
        """Whether every continuation from `mask` is accepted."""
        return self.universal_from <= len(self.tokens) and bool(mask >> self.universal_from)

    def match(self, text: str) -> bool:
        """Whether `text` matches the whole pattern."""
        if self.is_literal:
            lit = "".join(self.tokens)
            return (text.lower() if self.ignore_case else text) == lit
        mask = self.start()
        for ch in text:
            mask = self.step(mask, ch)
            if not mask:
                return False
        return self.accepts(mask)


def tokens_of(text: str, *, wildcards: bool = True) -> tuple[str, ...]:
    """`text` as pattern tokens (`*`/`?` are wildcards when `wildcards`)."""
    if not wildcards:
        return tuple(text)
    out: list[str] = []
    for c in text:
        if c == "*":
            if out and out[-1] == STAR:
                continue  # a run of stars matches what one star matches
            out.append(STAR)
        else:
            out.append(QMARK if c == "?" else c)
    return tuple(out)


@MEMOS.cached(8192)
def compile_pattern(
    tokens: tuple[str, ...], ignore_case: bool = False, arn: bool = False, text: str = ""
) -> Pattern:
    """The compiled `Pattern` of `tokens` (lower-cased when `ignore_case`)."""
    if ignore_case:
        tokens = tuple(t if t in (STAR, QMARK) else t.lower() for t in tokens)
    return Pattern(tokens, ignore_case, arn, text or "".join(t[-1] for t in tokens))


def has_wildcard(text: str) -> bool:
    """Whether `text` contains an IAM wildcard character."""
    return "*" in text or "?" in text


def _segment_at(seg: str, text: str, i: int) -> bool:
    """Whether `seg` (`?` = any character) matches `text` at offset `i`."""
    if i + len(seg) > len(text):
        return False
    return all(c in ("?", text[i + k]) for k, c in enumerate(seg))


def _find_segment(seg: str, text: str, start: int, end: int) -> int:
    """The leftmost offset in `[start, end - len(seg)]` where `seg` matches, else -1."""
    if "?" not in seg:
        return text.find(seg, start, end)
    # Anchor on the segment's longest '?'-free piece with str.find, then check the rest.
    pieces = seg.split("?")
    anchor = max(range(len(pieces)), key=lambda k: len(pieces[k]))
    offset = sum(len(p) + 1 for p in pieces[:anchor])
    if not pieces[anchor]:
        i = start
        while i + len(seg) <= end:
            if _segment_at(seg, text, i):
                return i
            i += 1
        return -1
    i = text.find(pieces[anchor], start + offset, end)
    while i != -1:
        at = i - offset
        if at + len(seg) > end:
            return -1
        if _segment_at(seg, text, at):
            return at
        i = text.find(pieces[anchor], i + 1, end)
    return -1


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` (`*`, `?`), case-sensitively.

    The classic greedy algorithm without backtracking: the pattern is `S0*S1*...*Sk`; `S0`
    must be a prefix, `Sk` a suffix, and each middle segment is placed at its leftmost
    occurrence after the previous one (leftmost placement never loses a match, because the stars
    in between absorb whatever is skipped). Each segment is searched once from a position that
    only moves forward, so the cost is at most `O(len(text) * len(pattern))` character
    comparisons, done by `str.find` for the usual `?`-free segments.
    """
    if "*" not in pattern:
        return len(pattern) == len(text) and _segment_at(pattern, text, 0)
    segments = pattern.split("*")
    first, last = segments[0], segments[-1]
    if len(first) + len(last) > len(text):
        return False
    if not _segment_at(first, text, 0) or not _segment_at(last, text, len(text) - len(last)):
        return False
    pos, end = len(first), len(text) - len(last)
    for seg in segments[1:-1]:
        if not seg:
            continue
        found = _find_segment(seg, text, pos, end)
        if found < 0:
            return False
        pos = found + len(seg)
    return True


def glob_match(pattern: str, text: str, *, ignore_case: bool = True) -> bool:
    """Whether `text` matches the IAM glob `pattern` as a whole (see `wildcard_match`)."""
    if not has_wildcard(pattern):
        return pattern.lower() == text.lower() if ignore_case else pattern == text
    if pattern == "*":
        return True
    if ignore_case:
        return wildcard_match(pattern.lower(), text.lower())
    return wildcard_match(pattern, text)


def arn_match(pattern: str, text: str) -> bool:
    """`ArnLike`/`ArnEquals`: the colon-separated fields compared one by one.

    Both are split at their first five colons (the sixth field, the resource, keeps its own
    colons); a pattern with fewer fields matches the rest of the ARN with its last field.
    """
    pfields = pattern.split(":", 5)
    vfields = text.split(":", len(pfields) - 1)
    if len(vfields) != len(pfields):
        return False
    return all(wildcard_match(p, v) for p, v in zip(pfields, vfields, strict=True))


def pattern_match(pattern: Pattern, text: str) -> bool:
    """Whether `text` matches a compiled pattern."""
    return pattern.match(text)


@MEMOS.cached(4096)
def expand_action(pattern: str) -> frozenset[str]:
    """The lower-cased model actions an `Action` pattern matches.

    A literal `kms:` action the model does not know (a newer API) is kept as itself, so a
    statement naming it still grants something.
    """
    low = pattern.lower()
    if low in ("*", "kms:*"):
        return ALL_ACTIONS
    if not has_wildcard(low):
        if low in ALL_ACTIONS or low.startswith("kms:"):
            return frozenset((low,))
        return frozenset()
    return frozenset(a for a in ALL_ACTIONS if wildcard_match(low, a))
