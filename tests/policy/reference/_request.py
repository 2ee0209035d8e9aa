"""One symbolic request to the key, as z3 terms (the contract's "Revision 2": the request context).

Every question the reference answers is "is there a value of these terms that satisfies ...":
z3 chooses the caller (its kind, partition, account, role name and path, session, unique id,
organization, service name), the action, and every condition key's presence and value, within
the formats the contract gives. Nothing here enumerates callers: that is the analyser's method,
and the point of the reference is to get there another way.

Modelling choices where the contract is silent (each mirrors a documented analyser choice, so a
disagreement points at a real difference, not at a modelling one):
- callers live in the key's partition or one the policy writes in an ARN;
- service principals carry no identity keys (`aws:PrincipalAccount`, `kms:CallerAccount`,
  `aws:PrincipalArn`...): docs/policy.md "Known limits";
- maximum lengths of names and paths are not modelled (z3 loops over long bounds are slow and
  no generated policy depends on them);
- a multivalued key has at most `SLOTS` elements.
"""

from __future__ import annotations

from typing import Any

import z3

__all__ = ["DECLARED", "KINDS", "SLOTS", "Request", "glob_re"]

KINDS = ("root", "user", "role", "federated-user", "service")
SLOTS = 2
_STR = z3.StringSort()
ANY_CHAR = z3.AllChar(z3.ReSort(_STR))
ANY = z3.Star(ANY_CHAR)
DIGIT = z3.Range("0", "9")
LOWER_ALNUM = z3.Union(z3.Range("a", "z"), DIGIT)
UPPER_ALNUM = z3.Union(z3.Range("A", "Z"), DIGIT)
# IAM names: letters, digits and + = , . @ _ -
NAME_CHAR = z3.Union(z3.Range("a", "z"), z3.Range("A", "Z"), DIGIT, *(z3.Re(c) for c in "+=,.@_-"))
PRINTABLE = z3.Range("!", "~")
MULTIVALUED = frozenset(
    {
        "aws:principalorgpaths",
        "aws:calledvia",
        "aws:tagkeys",
        "aws:principalservicenameslist",
        "kms:encryptioncontextkeys",
        "kms:grantoperations",
    }
)
ALWAYS_BOOL = frozenset({"aws:securetransport", "aws:viaawsservice"})
MAYBE_BOOL = frozenset(
    {
        "aws:multifactorauthpresent",
        "kms:grantisforawsresource",
        "kms:bypasspolicylockoutsafetycheck",
        "kms:reencryptonsamekey",
        "kms:multiregion",
    }
)
_SOURCE = frozenset({"aws:sourceaccount", "aws:sourcearn", "aws:sourceowner"})


# The names of every request term (`_solve.names` reads a formula's terms from its text).
DECLARED: set[str] = set()


def _var(sort: Any, name: str) -> Any:
    DECLARED.add(name)
    return sort(name)


def glob_re(text: str) -> z3.ReRef:
    """`text` as a glob: `*` any run (`:` and `/` included), `?` one character."""
    parts: list[z3.ReRef] = []
    for c in text:
        parts.append(ANY if c == "*" else ANY_CHAR if c == "?" else z3.Re(c))
    return _concat(parts)


def _concat(parts: list[z3.ReRef]) -> z3.ReRef:
    if not parts:
        return z3.Re("")
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _s(text: str) -> z3.SeqRef:
    return z3.StringVal(text)


class Request:
    """The symbolic request: caller terms, action, and condition keys created on demand.

    `key(name)` is `(present, value)` for a single-valued key and `(present, slots)` for a
    multivalued one, slots being `(used, value)` pairs; `world` are the constraints every
    request meets (formats, presence rules).
    """

    def __init__(
        self, key_partition: str, key_account: str, org_id: str | None, now: float
    ) -> None:
        self.key_partition = key_partition
        self.key_account = key_account
        self.kind = _var(z3.Int, "kind")
        self.partition = _var(z3.String, "partition")
        self.account = _var(z3.String, "account")
        self.path = _var(z3.String, "path")
        self.name = _var(z3.String, "name")
        self.session = _var(z3.String, "session")
        self.uid_tail = _var(z3.String, "uid_tail")
        self.in_org = _var(z3.Bool, "in_org")
        self.org = _var(z3.String, "org")
        self.service = _var(z3.String, "service")
        self.action = _var(z3.String, "action")
        self.time = _var(z3.Real, "current_time")
        self.now = now
        self.world: list[z3.BoolRef] = []
        self._keys: dict[str, tuple[z3.BoolRef, object]] = {}
        self._arn: z3.SeqRef | None = None
        self._userid = self._type = z3.StringVal("")
        self._build(org_id)

    def is_kind(self, kind: str) -> z3.BoolRef:
        return self.kind == KINDS.index(kind)

    @property
    def is_iam(self) -> z3.BoolRef:
        return z3.Not(self.is_kind("service"))

    def arn(self) -> z3.SeqRef:
        """`aws:PrincipalArn` of an IAM caller: a role session's is its role's ARN."""
        self._identity()
        return self._arn

    def userid(self) -> z3.SeqRef:
        """`aws:userid`: the account for root, `AIDA...` for users, `AROA...:session`."""
        self._identity()
        return self._userid

    def principal_type(self) -> z3.SeqRef:
        self._identity()
        return self._type

    def _identity(self) -> None:
        """The caller's ARN, unique id and type, per kind (one implication each: z3's string
        solver handles these far better than nested if-then-else terms). Added to the world
        only once a formula uses them: they tie every caller term together, which slows z3
        down on the many policies that never look at them."""
        if self._arn is not None:
            return
        sv = z3.StringVal
        iam = z3.Concat(sv("arn:"), self.partition, sv(":iam::"), self.account, sv(":"))
        sts = z3.Concat(sv("arn:"), self.partition, sv(":sts::"), self.account, sv(":"))
        self._arn = _var(z3.String, "principal_arn")
        self._userid = _var(z3.String, "userid")
        self._type = _var(z3.String, "principal_type")
        rows = {
            "root": (z3.Concat(iam, sv("root")), self.account, "Account"),
            "user": (
                z3.Concat(iam, sv("user"), self.path, self.name),
                z3.Concat(sv("AIDA"), self.uid_tail),
                "User",
            ),
            "role": (
                z3.Concat(iam, sv("role"), self.path, self.name),
                z3.Concat(sv("AROA"), self.uid_tail, sv(":"), self.session),
                "AssumedRole",
            ),
            "federated-user": (
                z3.Concat(sts, sv("federated-user/"), self.name),
                z3.Concat(self.account, sv(":"), self.name),
                "FederatedUser",
            ),
        }
        for kind, (arn, userid, type_) in rows.items():
            self.world.append(
                z3.Implies(
                    self.is_kind(kind),
                    z3.And(self._arn == arn, self._userid == userid, self._type == sv(type_)),
                )
            )

    def _build(self, org_id: str | None) -> None:
        w = self.world
        w.append(z3.And(self.kind >= 0, self.kind < len(KINDS)))
        # Lengths as arithmetic, not regex loops: z3 decides those far faster.
        w.append(z3.And(z3.Length(self.account) == 12, z3.InRe(self.account, z3.Star(DIGIT))))
        # A path is "/" or "/.../" (printable characters, ':' included: IAM allows it).
        w.append(
            z3.InRe(
                self.path,
                z3.Union(z3.Re("/"), z3.Concat(z3.Re("/"), z3.Star(PRINTABLE), z3.Re("/"))),
            )
        )
        w.append(z3.InRe(self.name, z3.Plus(NAME_CHAR)))
        w.append(z3.InRe(self.session, z3.Concat(NAME_CHAR, z3.Plus(NAME_CHAR))))
        w.append(
            z3.And(z3.Length(self.uid_tail) >= 16, z3.InRe(self.uid_tail, z3.Star(UPPER_ALNUM)))
        )
        w.append(z3.InRe(self.org, z3.Concat(z3.Re("o-"), z3.Plus(LOWER_ALNUM))))
        w.append(
            z3.InRe(
                self.service,
                z3.Concat(
                    z3.Plus(z3.Union(LOWER_ALNUM, z3.Re("-"), z3.Re("."))), z3.Re(".amazonaws.com")
                ),
            )
        )
        w.append(z3.Implies(self.is_kind("service"), z3.Not(self.in_org)))
        # The action: kms:<letters>, lower case (actions are matched ignoring case).
        w.append(z3.InRe(self.action, z3.Concat(z3.Re("kms:"), z3.Plus(z3.Range("a", "z")))))
        w.append(self.time >= self.now)
        own = z3.And(
            self.is_iam,
            self.partition == _s(self.key_partition),
            self.account == _s(self.key_account),
        )
        if org_id is not None:
            w.append(z3.Implies(own, z3.And(self.in_org, self.org == _s(org_id))))

    def allow_partitions(self, partitions: set[str]) -> None:
        """Callers live in one of `partitions` (the key's and those the policy names)."""
        self.world.append(z3.Or(*(self.partition == _s(p) for p in sorted(partitions))))

    def key(self, name: str) -> tuple[z3.BoolRef, object]:
        """The presence and value (or slots) of condition key `name` (lower case)."""
        got = self._keys.get(name)
        if got is None:
            got = self._keys[name] = self._make_key(name)
        return got

    def _make_key(self, name: str) -> tuple[z3.BoolRef, object]:
        iam = self.is_iam
        fixed = {
            "aws:principalaccount": (iam, self.account),
            "kms:calleraccount": (iam, self.account),
            "aws:principalarn": (iam, self.arn()) if name == "aws:principalarn" else None,
            "aws:userid": (iam, self.userid()) if name == "aws:userid" else None,
            "aws:principaltype": (iam, self.principal_type())
            if name == "aws:principaltype"
            else None,
            "aws:username": (self.is_kind("user"), self.name),
            "aws:principalorgid": (self.in_org, self.org),
            "aws:principalservicename": (self.is_kind("service"), self.service),
            "aws:principalisawsservice": (
                z3.BoolVal(True),
                z3.If(self.is_kind("service"), _s("true"), _s("false")),
            ),
            "aws:resourceaccount": (z3.BoolVal(True), _s(self.key_account)),
        }
        got = fixed.get(name)
        if got is not None:
            return got
        if name == "aws:principalorgpaths":
            return self._org_paths()
        present = _var(z3.Bool, f"has[{name}]")
        if name in MULTIVALUED:
            return self._slots(name, present)
        value = _var(z3.String, f"val[{name}]")
        w = self.world
        if name in ALWAYS_BOOL or name in MAYBE_BOOL:
            w.append(z3.Or(value == _s("true"), value == _s("false")))
            if name in ALWAYS_BOOL:
                w.append(present)
        elif name in _SOURCE:
            w.append(z3.Implies(present, self.is_kind("service")))  # only services carry them
            if name != "aws:sourcearn":
                w.append(z3.And(z3.Length(value) == 12, z3.InRe(value, z3.Star(DIGIT))))
        elif name in ("kms:viaservice", "aws:calledviafirst", "aws:calledvialast"):
            w.append(
                z3.InRe(
                    value,
                    z3.Concat(
                        z3.Plus(z3.Union(LOWER_ALNUM, z3.Re("-"), z3.Re("."))),
                        z3.Re(".amazonaws.com"),
                    ),
                )
            )
        elif name in ("aws:sourcevpc", "aws:sourcevpce"):
            head = "vpce-" if name.endswith("vpce") else "vpc-"
            w.append(z3.InRe(value, z3.Concat(z3.Re(head), z3.Plus(LOWER_ALNUM))))
        return present, value

    def _slots(
        self, name: str, present: z3.BoolRef
    ) -> tuple[z3.BoolRef, list[tuple[z3.BoolRef, z3.SeqRef]]]:
        slots = [
            (_var(z3.Bool, f"used[{name}][{i}]"), _var(z3.String, f"val[{name}][{i}]"))
            for i in range(SLOTS)
        ]
        self.world.append(present == z3.Or(*(u for u, _ in slots)))
        return present, slots

    def _org_paths(self) -> tuple[z3.BoolRef, list[tuple[z3.BoolRef, z3.SeqRef]]]:
        """Present exactly for callers in an organization, every path under its id."""
        present, slots = self._slots("aws:principalorgpaths", self.in_org)
        head = z3.Concat(self.org, _s("/"))
        for used, value in slots:
            self.world.append(z3.Implies(used, z3.PrefixOf(head, value)))
        return present, slots
