"""A witness string for a set of pattern constraints: the exact core of the analyser.

Given the *format* of a request value (an account id is 12 digits, an org id `o-` then lower
letters and digits, a role's `aws:PrincipalArn` `arn:<partition>:iam::<account>:role/<path>`)
and what a condition asks of it (some patterns must match - each clause is an OR of patterns -
and some must not), `solve` returns the shortest string that satisfies all of it, or
`None` when none exists.

It explores the product of the format automaton and every pattern's NFA (each a bitmask of
pattern positions, see `_glob.Pattern`) breadth first, over an alphabet of the characters the
patterns mention plus one representative of every other class of characters (all characters a
pattern does not mention behave alike for it), so the answer is exact: `None` means that no
string at all satisfies the constraints. Dead states are pruned (a clause with no live pattern,
a forbidden pattern that already accepts every continuation). The search is bounded by
`STATE_BUDGET` product states; beyond it the constraints are reported as
`UNDECIDED` and the caller takes the safe side (docs/policy.md, "Limits").
"""

from __future__ import annotations

import itertools
import string
from collections import deque
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Final

from cmkguard.policy._glob import QMARK, STAR, Pattern

__all__ = [
    "ANY",
    "CURRENT_METER",
    "DIGITS",
    "STATE_BUDGET",
    "UNDECIDED",
    "Format",
    "Meter",
    "Slot",
    "literal_format",
    "solve",
]

PRINTABLE: Final = frozenset(chr(c) for c in range(0x20, 0x7F))
"""Printable ASCII: the characters witness strings are made of."""
ANY: Final = PRINTABLE - {" "}
"""Any printable character but the space (what free-form request values are made of)."""
DIGITS: Final = frozenset(string.digits)
LOWER_ALNUM: Final = frozenset(string.ascii_lowercase + string.digits)
UPPER_ALNUM: Final = frozenset(string.ascii_uppercase + string.digits)
NAME: Final = frozenset(string.ascii_letters + string.digits + "+=,.@_-")
"""IAM user, role and session names."""
PATH: Final = frozenset(chr(c) for c in range(0x21, 0x7F))
"""IAM paths (`/` ... `/`; any printable character, `:` included)."""

STATE_BUDGET: Final = 20_000
"""Product states explored before giving up (`UNDECIDED`)."""


class Meter:
    """The work left to one analysis, in product states explored and search nodes tried.

    Shared by every witness search of an analysis, so the whole analysis is bounded, not
    each question alone: once it runs out, every further search answers `UNDECIDED` at once
    and the analysis takes the safe side (access) and says it is not exact.
    """

    __slots__ = ("left", "spent_out")

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.spent_out = False

    def charge(self, units: int) -> bool:
        """Spend `units`; `False` when the budget is (now) exhausted."""
        self.left -= units
        if self.left < 0:
            self.spent_out = True
        return not self.spent_out


CURRENT_METER: ContextVar[Meter | None] = ContextVar("cmkguard_policy_meter", default=None)
"""The meter of the analysis running in this thread (set by the evaluator around its solves,
so the value solvers in between need not pass it along)."""


class _Undecided(str):
    __slots__ = ()


UNDECIDED: Final = _Undecided("")
"""What `solve` returns when the budget ran out (compare with `is`)."""

Slot = tuple[frozenset[str], int, int]
"""`(characters, min, max)`: a run of `min` to `max` characters from the set."""


_LOOSE_SPAN: Final = 8
"""A slot whose maximum exceeds its minimum by more than this is *loose* in the relaxed format."""


class Format:
    """A value format: a sequence of slots (a literal character is a slot of one).

    `relaxed()` is the same format with every loose slot's maximum dropped: its run counter
    then stops at the slot's minimum, so the counter no longer makes each length of a name or
    path a state of its own (a role name of 1 to 64 characters was 64 states per pattern
    position, and the product search exponential in practice).
    """

    __slots__ = (
        "_matched",
        "_moves",
        "_relaxed",
        "alphabets",
        "charsets",
        "saturating",
        "shortest",
        "slots",
    )

    def __init__(self, slots: Sequence[Slot], *, relax: bool = False) -> None:
        # The search alphabet per set of characters the patterns mention (searches repeat them).
        self.alphabets: dict[frozenset[str], list[str]] = {}
        self.shortest: str | None = None  # remembered by `_shortest`
        self._matched: dict[str, bool] = {}
        self._moves: dict[tuple[frozenset[tuple[int, int]], str], frozenset[tuple[int, int]]] = {}
        self._relaxed: Format | None = None
        self.slots = tuple(slots)
        self.charsets = tuple({s[0] for s in self.slots if len(s[0]) > 1})
        self.saturating = tuple(relax and hi - lo > _LOOSE_SPAN for _, lo, hi in self.slots)

    def relaxed(self) -> Format:
        """This format without the maximum of its loose slots (a superset of its strings)."""
        if self._relaxed is None:
            self._relaxed = Format(self.slots, relax=True)
        return self._relaxed

    def matches(self, text: str) -> bool:
        """Whether `text` is a string of this format (remembered: candidates recur)."""
        got = self._matched.get(text)
        if got is None:
            states = self.start()
            for ch in text:
                states = self.step(states, ch)
                if not states:
                    break
            got = bool(states) and self.accepts(states)
            if len(self._matched) < 4096:
                self._matched[text] = got
        return got

    def start(self) -> frozenset[tuple[int, int]]:
        return self._close({(0, 0)})

    def _close(self, states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        out = set(states)
        todo = list(states)
        while todo:
            i, n = todo.pop()
            if i < len(self.slots) and n >= self.slots[i][1] and (i + 1, 0) not in out:
                out.add((i + 1, 0))
                todo.append((i + 1, 0))
        return frozenset(out)

    def step(self, states: frozenset[tuple[int, int]], ch: str) -> frozenset[tuple[int, int]]:
        """The format states after reading `ch` (remembered: searches repeat them)."""
        got = self._moves.get((states, ch))
        if got is None:
            got = self._step(states, ch)
            if len(self._moves) < 1 << 16:
                self._moves[(states, ch)] = got
        return got

    def _step(self, states: frozenset[tuple[int, int]], ch: str) -> frozenset[tuple[int, int]]:
        nxt = set()
        for i, n in states:
            if i < len(self.slots):
                chars, lo, hi = self.slots[i]
                if ch in chars:
                    if self.saturating[i]:
                        nxt.add((i, min(n + 1, lo)))
                    elif n < hi:
                        nxt.add((i, n + 1))
        return self._close(nxt) if nxt else frozenset()

    def accepts(self, states: frozenset[tuple[int, int]]) -> bool:
        return (len(self.slots), 0) in states


def literal_format(text: str) -> Format:
    """The format of exactly `text`."""
    return Format([(frozenset((c,)), 1, 1) for c in text])


def _alphabet(fmt: Format, patterns: Sequence[Pattern]) -> list[str]:
    """The characters to try: every one a pattern or a small slot mentions (both cases when a
    pattern ignores case), `:`, and one representative per class of the others."""
    mentioned: set[str] = set()
    for p in patterns:
        for t in p.tokens:
            if len(t) == 1:
                mentioned.add(t)
                if p.ignore_case:
                    mentioned.add(t.upper())
    key = frozenset(mentioned)
    got = fmt.alphabets.get(key)
    if got is None:
        got = _alphabet_of(fmt, mentioned)
        if len(fmt.alphabets) < 1024:
            fmt.alphabets[key] = got
    return got


def _alphabet_of(fmt: Format, mentioned: set[str]) -> list[str]:
    mentioned = mentioned | {":"}
    for chars, _, _ in fmt.slots:
        if len(chars) <= 4:
            mentioned |= chars
    classes: dict[tuple[bool, ...], str] = {}
    for c in sorted(PRINTABLE - mentioned):
        sig = tuple(c in cs for cs in fmt.charsets)
        if any(sig) or not fmt.charsets:
            classes.setdefault(sig, c)
    return sorted(mentioned & PRINTABLE) + sorted(classes.values())


def solve(
    fmt: Format,
    clauses: Sequence[Sequence[Pattern]] = (),
    forbidden: Sequence[Pattern] = (),
    *,
    budget: int = STATE_BUDGET,
    meter: Meter | None = None,
) -> str | None:
    """A string of format `fmt` matching one pattern of every clause and none of `forbidden`
    (the shortest, unless `construct` built it); `None` when there is none, `UNDECIDED` when
    `budget` ran out.

    The relaxed format (loose slots without their maximum) is searched first: its strings are a
    superset, so `None` there is exact, and a witness it finds that also fits `fmt` is one.
    Only a witness breaking a slot's maximum sends the search to the exact format. Bound: the
    relaxed product has at most `(slots x (min + 1)) x prod(pattern positions)` reachable
    states per distinct mask tuple, and in practice the masks of a policy's patterns are few;
    `budget` caps it either way.
    """
    if meter is None:
        meter = CURRENT_METER.get()
    loose = fmt.relaxed()
    if any(loose.saturating):
        got = _search(loose, clauses, forbidden, budget, meter)
        if got is None or got is UNDECIDED or fmt.matches(got):
            return got
    return _search(fmt, clauses, forbidden, budget, meter)


_CONSTRUCT_FIRST: Final = 3
"""From this many clauses on (or when every forbidden pattern is literal), a witness is first
built directly (`construct`): the product search grows with every clause, the construction
only linearly."""


def _search(
    fmt: Format,
    clauses: Sequence[Sequence[Pattern]],
    forbidden: Sequence[Pattern],
    budget: int,
    meter: Meter | None = None,
) -> str | None:
    if not clauses and not forbidden:
        if meter is not None:
            meter.charge(len(fmt.slots))
        return _shortest(fmt)
    if meter is not None and meter.spent_out:
        return UNDECIDED
    if not clauses:
        # Only forbidden patterns: the string the search would try first, unless one matches it.
        shortest = _shortest(fmt)
        if meter is not None:
            meter.charge(len(shortest) * (1 + len(forbidden)) // _CONSTRUCT_COST_DIVISOR + 1)
        if not any(p.match(shortest) for p in forbidden):
            return shortest
    elif _constructed_first(clauses, forbidden):
        built, units = construct(fmt, clauses, forbidden)
        if meter is not None:
            meter.charge(units)
        if built is not None:
            return built
    got, units = _bfs(fmt, clauses, forbidden, budget, meter)
    if meter is not None:
        meter.charge(units)
    if got is UNDECIDED and clauses and not _constructed_first(clauses, forbidden):
        built, more = construct(fmt, clauses, forbidden)
        if meter is not None:
            meter.charge(more)
        if built is not None:
            return built
    return got


def _constructed_first(clauses: Sequence[Sequence[Pattern]], forbidden: Sequence[Pattern]) -> bool:
    return len(clauses) >= _CONSTRUCT_FIRST or all(p.is_literal for p in forbidden)


_COMBINATIONS: Final = 8
"""Choices of one pattern per clause `construct` tries."""


def construct(
    fmt: Format, clauses: Sequence[Sequence[Pattern]], forbidden: Sequence[Pattern]
) -> tuple[str | None, int]:
    """A witness built without searching, or `None` when this shortcut finds none (then only
    the search can decide); and its cost in work units (characters stepped).

    One pattern per clause is chosen; their literal prefixes and suffixes must agree, and the
    literal runs between their stars are merged into one shortest common supersequence (a run
    two patterns share is written once). The string `prefix + runs + suffix` then matches every
    chosen pattern, and so does any padding put between two runs (a star of each pattern lies
    there), which is how it is fitted to the format. Every candidate is checked against the
    format, the clauses and the forbidden patterns by the exact matchers, so a string this
    returns is a witness; `None` proves nothing.
    """
    units = 0
    for choice in itertools.islice(itertools.product(*clauses), _COMBINATIONS):
        literal = next((p for p in choice if p.is_literal), None)
        if literal is not None:  # the one string it matches is the only candidate
            text = "".join(literal.tokens)
            units += len(text) * (2 + len(forbidden) + len(choice))
            if _checked(fmt, text, clauses, forbidden):
                return text, units // _CONSTRUCT_COST_DIVISOR
            continue
        parts = _merged(choice)
        if parts is None:
            continue
        got, spent = _fit(fmt, parts, clauses, forbidden)
        units += spent
        if got is not None:
            return got, units // _CONSTRUCT_COST_DIVISOR
    return None, units // _CONSTRUCT_COST_DIVISOR + 1


_CONSTRUCT_COST_DIVISOR: Final = 3
"""Characters stepped by `construct` per work unit: a remembered step of one matcher costs
about a third of a product-search transition (measured on the wildcard-heavy policies)."""


def _split(p: Pattern) -> tuple[list[str], list[list[str]], list[str]] | None:
    """A pattern's literal prefix, runs between stars and suffix (`None`: no star)."""
    pieces: list[list[str]] = [[]]
    for t in p.tokens:
        if t == STAR:
            pieces.append([])
        else:
            pieces[-1].append(t)
    if len(pieces) == 1:
        return None
    return pieces[0], [r for r in pieces[1:-1] if r], pieces[-1]


def _agree(a: list[str], b: list[str]) -> list[str] | None:
    """The longer of two token runs that must start alike (`?` agrees with any character)."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    out = list(long_)
    for i, t in enumerate(short):
        if t == QMARK:
            continue
        if out[i] == QMARK:
            out[i] = t
        elif out[i] != t:
            return None
    return out


def _scs(a: list[tuple[str, ...]], b: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """A shortest common supersequence of two sequences of runs (equal runs merge)."""
    n, m = len(a), len(b)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = (
                1 + best[i + 1][j + 1] if a[i] == b[j] else max(best[i + 1][j], best[i][j + 1])
            )
    out: list[tuple[str, ...]] = []
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append(a[i])
            i += 1
            j += 1
        elif best[i + 1][j] >= best[i][j + 1]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out + a[i:] + b[j:]


def _merged(choice: Sequence[Pattern]) -> list[list[str]] | None:
    """`[prefix, run, ..., run, suffix]` matching every pattern of `choice`, or `None`."""
    prefix: list[str] = []
    suffix: list[str] = []
    runs: list[tuple[str, ...]] = []
    for p in choice:
        split = _split(p)
        if split is None:
            return None  # a literal pattern (`construct` tries its text alone)
        head, middle, tail = split
        got_head = _agree(prefix, head)
        got_tail = _agree(suffix[::-1], tail[::-1])
        if got_head is None or got_tail is None:
            return None
        prefix, suffix = got_head, got_tail[::-1]
        runs = _scs(runs, [tuple(r) for r in middle])
    return [prefix, *[list(r) for r in runs], suffix]


def _fit(
    fmt: Format,
    parts: list[list[str]],
    clauses: Sequence[Sequence[Pattern]],
    forbidden: Sequence[Pattern],
) -> tuple[str | None, int]:
    """`parts` joined, each gap padded only as much as the format needs to take the next part
    (and the end), then checked. Linear in the length of the result."""
    alphabet = _alphabet(fmt, [p for c in clauses for p in c] + list(forbidden))
    ordered = [c for c in alphabet if c.isalnum()] + [c for c in alphabet if not c.isalnum()]
    filler = ordered[0]
    texts = ["".join(filler if t == QMARK else t for t in part) for part in parts]
    loose = fmt.relaxed()
    units = 0

    def run(states: frozenset[tuple[int, int]], text: str) -> frozenset[tuple[int, int]]:
        nonlocal units
        units += len(text)
        for ch in text:
            states = loose.step(states, ch)
            if not states:
                break
        return states

    out = [texts[0]]
    states = run(loose.start(), texts[0])
    last = len(texts) - 1
    for i in range(1, len(texts)):
        nxt = run(states, texts[i])
        pads = 0
        while not nxt or (i == last and not loose.accepts(nxt)):
            pad = next((c for c in ordered if loose.step(states, c)), None)
            if pad is None or pads == _PAD_LIMIT:
                return None, units
            units += len(ordered)
            states = loose.step(states, pad)
            out.append(pad)
            pads += 1
            nxt = run(states, texts[i])
        out.append(texts[i])
        states = nxt
    text = "".join(out)
    units += len(text) * (1 + len(forbidden) + sum(len(c) for c in clauses))
    return (text if _checked(fmt, text, clauses, forbidden) else None), units


def _checked(
    fmt: Format, text: str, clauses: Sequence[Sequence[Pattern]], forbidden: Sequence[Pattern]
) -> bool:
    """Whether `text` fits `fmt`, matches a pattern of every clause and no forbidden one."""
    return (
        fmt.matches(text)
        and all(any(p.match(text) for p in c) for c in clauses)
        and not any(p.match(text) for p in forbidden)
    )


_PAD_LIMIT: Final = 130
"""Padding put in one gap at most (a role's unique id has up to 128 characters)."""


def _shortest(fmt: Format) -> str:
    """What `_bfs` finds when nothing is asked of the value, without searching: every slot at
    its minimum length, each character the first of the search alphabet the slot allows (the
    shortest string, and the first of them in the order the search tries characters)."""
    if fmt.shortest is None:
        alphabet = _alphabet(fmt, ())
        out = []
        for chars, lo, _ in fmt.slots:
            if lo:
                out.append(next(c for c in alphabet if c in chars) * lo)
        fmt.shortest = "".join(out)
    return fmt.shortest


def _bfs(
    fmt: Format,
    clauses: Sequence[Sequence[Pattern]],
    forbidden: Sequence[Pattern],
    budget: int,
    meter: Meter | None,
) -> tuple[str | None, int]:
    """`_search`'s answer and its cost in work units: product states explored times the
    transitions each costs (one per character of the alphabet and pattern, plus the format's).
    """
    clause_list = [tuple(c) for c in clauses]
    if any(not c for c in clause_list):
        return None, 0
    atoms: list[Pattern] = []
    index: dict[int, int] = {}
    for p in [p for c in clause_list for p in c] + list(forbidden):
        if id(p) not in index:
            index[id(p)] = len(atoms)
            atoms.append(p)
    clause_idx = [tuple(index[id(p)] for p in c) for c in clause_list]
    forbidden_idx = tuple(index[id(p)] for p in forbidden)
    alphabet = _alphabet(fmt, atoms)
    start = (fmt.start(), tuple(p.start() for p in atoms))
    per_state = len(alphabet) * (1 + len(atoms))
    if meter is not None:
        budget = min(budget, max(meter.left, 0) // per_state)

    def dead(state: tuple[frozenset[tuple[int, int]], tuple[int, ...]]) -> bool:
        fstates, masks = state
        if not fstates:
            return True
        if any(not any(masks[a] for a in c) for c in clause_idx):
            return True
        return any(atoms[a].universal(masks[a]) for a in forbidden_idx)

    def accepted(state: tuple[frozenset[tuple[int, int]], tuple[int, ...]]) -> bool:
        fstates, masks = state
        if not fmt.accepts(fstates):
            return False
        if any(atoms[a].accepts(masks[a]) for a in forbidden_idx):
            return False
        return all(any(atoms[a].accepts(masks[a]) for a in c) for c in clause_idx)

    if dead(start):
        return None, 1
    parent: dict[
        tuple[frozenset[tuple[int, int]], tuple[int, ...]],
        tuple[tuple[frozenset[tuple[int, int]], tuple[int, ...]], str] | None,
    ] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if accepted(state):
            chars: list[str] = []
            at = parent[state]
            while at is not None:
                chars.append(at[1])
                at = parent[at[0]]
            return "".join(reversed(chars)), len(parent) * per_state
        fstates, masks = state
        for ch in alphabet:
            nf = fmt.step(fstates, ch)
            if not nf:
                continue
            nxt = (nf, tuple(p.step(m, ch) if m else 0 for p, m in zip(atoms, masks, strict=True)))
            if nxt in parent or dead(nxt):
                continue
            parent[nxt] = (state, ch)
            if len(parent) > budget:
                return UNDECIDED, len(parent) * per_state
            queue.append(nxt)
    return None, len(parent) * per_state
