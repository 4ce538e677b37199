"""The one check that the person acting holds a permission (ims.errors.NotAllowed if not)."""

from __future__ import annotations

from ims.errors import NotAllowed


def require(actor, permission: str, what: str, *, person_only: bool = False) -> None:
    """A person acting must hold the permission; IMS itself (actor None) always may,
    unless the act is a person's decision only (person_only)."""
    if actor is None and not person_only:
        return
    if actor is None or not actor.has_perm(permission):
        raise NotAllowed(f"you may not {what}", extra={"permission": permission})


def person(actor):
    """The person acting, or None where IMS itself (or an anonymous request) acts: what a
    `created_by` / `actor` column keeps."""
    return actor if actor is not None and actor.is_authenticated else None
