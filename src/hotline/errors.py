"""The one error hierarchy of hotline.

Every error carries a stable machine ``code`` and a human message that says what, where and
what was expected. Adapters (HTTP, WebSocket, CLI, federation) map codes to their own
vocabulary in one table each (``api/errors.py`` maps to HTTP status); the core never knows
about HTTP.

::

    HotlineError
    ├── InputError                  malformed or invalid input            (400 / 422)
    │   ├── BadRequest              malformed body, unknown field, wrong type (400)
    │   ├── Invalid                 well-formed but invalid value (422)
    │   ├── BadPrecedence           (422)
    │   ├── BadClassification       (422)
    │   ├── NotReleasable           rel_to wider than the channel, or releasability breach (422)
    │   ├── BadSignature            a signature that does not verify (422)
    │   └── TooLarge                body over the configured limit (413)
    ├── AuthError                   no, bad, expired or revoked credentials (401)
    ├── Forbidden                   authenticated but not allowed (403)
    │   ├── NotAMember              official is not a member of the channel
    │   └── NotCleared              official's clearance or nation does not allow it
    ├── WorkflowError               a command illegal in the current state (409)
    │   └── IllegalTransition
    ├── StoreError
    │   ├── NotFound                (404)
    │   └── Conflict                (409)
    ├── FederationError
    │   ├── PeerUnreachable
    │   ├── OutOfOrder
    │   ├── Replayed
    │   └── WrongOrigin
    └── ConfigError                 compact file or settings (names file, line, field)
"""

from __future__ import annotations


class HotlineError(Exception):
    """Base of every hotline error: a stable ``code`` and a human ``message``."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InputError(HotlineError):
    code = "invalid"


class BadRequest(InputError):
    code = "bad_request"


class Invalid(InputError):
    code = "invalid"


class BadPrecedence(InputError):
    code = "bad_precedence"


class BadClassification(InputError):
    code = "bad_classification"


class NotReleasable(InputError):
    code = "not_releasable"


class BadSignature(InputError):
    code = "bad_signature"


class TooLarge(InputError):
    code = "too_large"


class AuthError(HotlineError):
    code = "unauthorized"


class Forbidden(HotlineError):
    code = "forbidden"


class NotAMember(Forbidden):
    code = "not_a_member"


class NotCleared(Forbidden):
    code = "not_cleared"


class WorkflowError(HotlineError):
    code = "workflow"


class IllegalTransition(WorkflowError):
    code = "illegal_transition"


class ConsultationClosed(WorkflowError):
    code = "consultation_closed"


class StoreError(HotlineError):
    code = "store"


class NotFound(StoreError):
    code = "not_found"


class Conflict(StoreError):
    code = "conflict"


class FederationError(HotlineError):
    code = "federation"


class PeerUnreachable(FederationError):
    code = "peer_unreachable"


class OutOfOrder(FederationError):
    code = "out_of_order"


class Replayed(FederationError):
    code = "replayed"


class WrongOrigin(FederationError):
    code = "wrong_origin"


class ConfigError(HotlineError):
    code = "config"
