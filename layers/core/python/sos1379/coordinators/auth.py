"""Staff authentication: JWT bearer tokens and the role ladder counselor < coordinator < lead.

In AWS the tokens come from the CoordinatorUserPool (Cognito): RS256, verified against the pool's
JWKS and issuer, the app client checked (``client_id`` of an access token or ``aud`` of an ID
token), the role taken from the ``cognito:groups`` claim (the highest staff group wins). API
Gateway's Cognito authorizer checks the same token first; the code checks it again because the
local stack and the tests have no API Gateway, and because defence in depth is cheap here.

Locally there is no Cognito: the development issuer ``sos1379-local-dev`` signs HS256 tokens with
a secret that only the local stack has (``COORDINATOR_DEV_JWT_SECRET``, filled by the local stack,
empty in AWS). ``sos1379 token --role coordinator --sub alice`` prints one. A dev token is refused
whenever no dev secret is configured, so it can never open a deployed API.

Missing or invalid token: Unauthorized (401). Valid token without a staff group, or a role below
the one an action needs: Forbidden (403)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from ..errors import Forbidden, Unauthorized
from ..events import Actor
from ..settings import DEV_ISSUER, get_settings

ROLES = ("counselor", "coordinator", "lead")
_RANK = {role: i for i, role in enumerate(ROLES)}
DEV_AUDIENCE = "sos1379-staff"
MIN_DEV_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Staff:
    sub: str        # a stable, human-readable staff id (Cognito username; dev: --sub)
    role: str

    @property
    def actor(self) -> Actor:
        return Actor(kind=self.role, id=self.sub)

    def at_least(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


def require(staff: Staff, role: str) -> Staff:
    if not staff.at_least(role):
        raise Forbidden(f"This action needs the {role} role", f"{role} 권한이 필요합니다")
    return staff


def _role_from_groups(groups) -> str:
    if isinstance(groups, str):
        groups = [groups]
    known = [g for g in (groups or []) if g in _RANK]
    if not known:
        raise Forbidden("No staff role", "직원 권한이 없습니다")
    return max(known, key=_RANK.__getitem__)


@lru_cache(maxsize=4)
def _jwks_client(url: str):
    import jwt

    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Bearer token required", "인증 토큰이 필요합니다")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Bearer token required", "인증 토큰이 필요합니다")
    return token.strip()


def authenticate(authorization: str | None) -> Staff:
    """The staff member behind an ``Authorization: Bearer <jwt>`` header."""
    claims = verify(authorization)
    sub = claims.get("username") or claims.get("cognito:username") or claims["sub"]
    return Staff(sub=str(sub), role=_role_from_groups(claims.get("cognito:groups")))


INSTITUTE_CLAIM = "custom:institute"


def authenticate_institute(authorization: str | None) -> tuple[str, str]:
    """``(institute code, user id)`` of an institute staff member's token: a pool user whose
    ``custom:institute`` attribute names an institute that receives referrals (ID tokens carry
    custom attributes; access tokens do not). Any other valid token, a coordinator's included,
    is Unauthorized here: it does not speak for an institute."""
    from ..directory import referral_codes

    claims = verify(authorization)
    code = str(claims.get(INSTITUTE_CLAIM) or "").upper()
    if code not in referral_codes():
        raise Unauthorized("Not an institute user's token", "기관 사용자 토큰이 아닙니다")
    sub = claims.get("username") or claims.get("cognito:username") or claims["sub"]
    return code, str(sub)


def verify(authorization: str | None) -> dict:
    """The verified claims of a bearer token (Cognito RS256, or the local dev issuer's HS256)."""
    import jwt

    token = _bearer(authorization)
    settings = get_settings().coordinators
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") == "HS256":
            secret = settings.dev_jwt_secret
            if len(secret) < MIN_DEV_SECRET_LENGTH:
                raise Unauthorized("Development tokens are not accepted here", "개발용 토큰은 사용할 수 없습니다")
            claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                                options={"require": ["exp", "iat", "sub", "iss"]})
        elif header.get("alg") == "RS256" and settings.jwt_issuer:
            issuer = settings.jwt_issuer.rstrip("/")
            key = _jwks_client(settings.jwks_url or f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer,
                                options={"verify_aud": False, "require": ["exp", "iat", "sub", "iss"]})
            if claims.get("token_use") not in ("access", "id"):
                raise Unauthorized("Not an access or ID token", "인증 토큰이 올바르지 않습니다")
            client = claims.get("client_id") if claims.get("token_use") == "access" else claims.get("aud")
            # the API's client and the staff console's client (comma-separated)
            audiences = {a.strip() for a in settings.jwt_audience.split(",") if a.strip()}
            if audiences and client not in audiences:
                raise Unauthorized("Token issued for another client", "다른 앱에 발급된 토큰입니다")
        else:
            raise Unauthorized("Unsupported token", "지원하지 않는 토큰입니다")
    except jwt.PyJWTError:
        raise Unauthorized("Invalid or expired token", "토큰이 올바르지 않거나 만료되었습니다") from None
    return claims


def mint_dev_token(secret: str, sub: str, role: str, *, ttl_seconds: int = 8 * 3600, now: float | None = None) -> str:
    """A development token for the local stack (same claim names as Cognito's)."""
    import jwt

    if role not in _RANK:
        raise ValueError(f"role must be one of {ROLES}")
    if len(secret) < MIN_DEV_SECRET_LENGTH:
        raise ValueError("the development secret is too short")
    issued = int(now if now is not None else time.time())
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": sub, "username": sub, "token_use": "access",
              "cognito:groups": [role], "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_dev_institute_token(secret: str, sub: str, institute: str, *, ttl_seconds: int = 8 * 3600,
                             now: float | None = None) -> str:
    """A development token of an institute user (the ``custom:institute`` claim of a pool user)."""
    import jwt

    if len(secret) < MIN_DEV_SECRET_LENGTH:
        raise ValueError("the development secret is too short")
    issued = int(now if now is not None else time.time())
    claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": sub, "username": sub, "token_use": "id",
              INSTITUTE_CLAIM: institute, "cognito:groups": ["institute"], "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
