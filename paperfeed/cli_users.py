"""`paperfeed users ...`: moderator rights and suspensions from the command line, so an
operator never needs to open the database (docs/community.md)."""

from __future__ import annotations

from typing import Callable

import click

from paperfeed.errors import NotFound
from paperfeed.store import open_store
from paperfeed.store.community import CommunityStore, User


def _with_user(ctx: click.Context, email: str, change: Callable[[CommunityStore, int], None] | None = None) -> None:
    """Apply `change` (if any) to the account with `email`, then print the account."""
    store = open_store(ctx.find_root().obj["settings"].database_url)
    try:
        store.migrate()
        community = store.community
        user = community.user_by_email(email)
        if user is None:
            raise NotFound(f"No account with email {email.strip()[:200]!r}.",
                           hint="The person signs in once (magic link) to create it; check the spelling.")
        if change is not None:
            change(community, user.id)
        click.echo(_describe(community.get_user(user.id)))
    finally:
        store.close()


def _describe(user: User | None) -> str:
    if user is None:  # deleted between the two reads
        return "the account is gone"
    roles = [name for name, on in (("moderator", user.is_moderator), ("suspended", user.suspended)) if on]
    return f"{user.email} (id {user.id}, {user.display_name!r}): {', '.join(roles) or 'regular user'}"


@click.group()
def users() -> None:
    """Moderators and suspensions (accounts are created by signing in)."""


@users.command("grant-moderator")
@click.argument("email")
@click.pass_context
def grant_moderator(ctx: click.Context, email: str) -> None:
    """Let this user hide comments and suspend users."""
    _with_user(ctx, email, lambda c, uid: c.set_moderator(uid, True))


@users.command("revoke-moderator")
@click.argument("email")
@click.pass_context
def revoke_moderator(ctx: click.Context, email: str) -> None:
    """Take moderator rights away."""
    _with_user(ctx, email, lambda c, uid: c.set_moderator(uid, False))


@users.command("suspend")
@click.argument("email")
@click.pass_context
def suspend(ctx: click.Context, email: str) -> None:
    """Sign the user out everywhere and refuse their sign-ins, votes and posts."""
    _with_user(ctx, email, lambda c, uid: c.set_suspended(uid, True))


@users.command("unsuspend")
@click.argument("email")
@click.pass_context
def unsuspend(ctx: click.Context, email: str) -> None:
    """Lift a suspension."""
    _with_user(ctx, email, lambda c, uid: c.set_suspended(uid, False))


@users.command("show")
@click.argument("email")
@click.pass_context
def show(ctx: click.Context, email: str) -> None:
    """Print the account's id, display name and roles."""
    _with_user(ctx, email)
