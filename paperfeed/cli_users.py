"""`paperfeed users ...`: moderator rights and suspensions from the command line, so an
operator never needs to open the database (docs/community.md)."""

from __future__ import annotations

import click

from paperfeed.errors import NotFound
from paperfeed.store import open_store
from paperfeed.store.community import User


def _with_user(ctx: click.Context, email: str, change: str) -> None:
    """Apply `change` ("moderator" / "suspended" with a flag) to the account with `email`."""
    store = open_store(ctx.find_root().obj["settings"].database_url)
    try:
        store.migrate()
        community = store.community
        user = community.user_by_email(email)
        if user is None:
            raise NotFound(f"No account with email {email.strip()[:200]!r}.",
                           hint="The person signs in once (magic link) to create it; check the spelling.")
        what, flag = change.split(":")
        if what == "moderator":
            community.set_moderator(user.id, flag == "on")
        else:
            community.set_suspended(user.id, flag == "on")
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
    _with_user(ctx, email, "moderator:on")


@users.command("revoke-moderator")
@click.argument("email")
@click.pass_context
def revoke_moderator(ctx: click.Context, email: str) -> None:
    """Take moderator rights away."""
    _with_user(ctx, email, "moderator:off")


@users.command("suspend")
@click.argument("email")
@click.pass_context
def suspend(ctx: click.Context, email: str) -> None:
    """Sign the user out everywhere and refuse their sign-ins, votes and posts."""
    _with_user(ctx, email, "suspended:on")


@users.command("unsuspend")
@click.argument("email")
@click.pass_context
def unsuspend(ctx: click.Context, email: str) -> None:
    """Lift a suspension."""
    _with_user(ctx, email, "suspended:off")


@users.command("show")
@click.argument("email")
@click.pass_context
def show(ctx: click.Context, email: str) -> None:
    """Print the account's id, display name and roles."""
    store = open_store(ctx.find_root().obj["settings"].database_url)
    try:
        store.migrate()
        user = store.community.user_by_email(email)
        if user is None:
            raise NotFound(f"No account with email {email.strip()[:200]!r}.", hint="Check the spelling.")
        click.echo(_describe(user))
    finally:
        store.close()
