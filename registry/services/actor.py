"""Who is acting, passed explicitly to every service that changes data."""

from __future__ import annotations

from dataclasses import dataclass, replace

from registry.models.types import Role


@dataclass(frozen=True)
class Actor:
    """The person or process behind a change, and the channel it came through."""

    label: str
    channel: str  # web, api, cli, import, seed
    user_id: int | None = None
    org_id: int | None = None
    role: Role | None = None
    country_iso3: str | None = None
    import_batch_id: int | None = None

    def via(self, channel: str, import_batch_id: int | None = None) -> Actor:
        return replace(self, channel=channel, import_batch_id=import_batch_id)


SYSTEM = Actor(label="system", channel="cli", role=Role.ADMIN)
SEED = Actor(label="demo seed", channel="seed", role=Role.ADMIN)
