"""A reference evaluator for key policies, independent of cmkguard's analyser (test-only oracle).

It reads the policy JSON itself (`_document`), models one request to the key as z3 terms
(`_request`), writes each statement's match (principal, action, resource, conditions) as a
formula (`_conditions`, `_evaluate`), and asks z3 the questions `cmkguard.analyze_key_policy`
answers: is there a request that some Allow admits and no Deny removes, for an unbounded caller
(`public`), for a caller of a given account or organization (`accounts`, `orgs`), for a given
principal and action (`principals_allowed`)? This is the SMT technique behind IAM Access
Analyzer; the analyser instead enumerates representative callers and solves keys one by one, so
the two meet only in the contract (key-policy-semantics.md, "Revision 2").
"""

from tests.policy.reference._conditions import Unsupported
from tests.policy.reference._evaluate import ReferenceAnswers, reference_answers

__all__ = ["ReferenceAnswers", "Unsupported", "reference_answers"]
