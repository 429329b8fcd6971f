"""Fix texts: the exact statement or setting, adapted to the server and platform."""

from __future__ import annotations

from psycopg import sql

SETTING_PLACES = {
    "rds": "the DB parameter group (RDS/Aurora)",
    "cloudsql": "the Cloud SQL database flags",
    "azure": "the Azure server parameters",
    "neon": "the Neon project settings (or ask Neon support)",
}
MANAGED_NOTE = (
    "on managed services set it in the RDS parameter group, Cloud SQL database flags "
    "or Azure server parameters instead"
)


def ident(name: str) -> str:
    """``name`` quoted as an SQL identifier, for statements shown to the user."""
    return sql.Identifier(name).as_string(None)


def grant(role: str, to: str) -> str:
    return f"GRANT {role} TO {ident(to)};"


def alter_system(settings: dict[str, str], platform: str | None, restart: bool) -> str:
    """``ALTER SYSTEM SET …`` and how to apply it, or the managed service setting."""
    names = ", ".join(settings)
    then = " and restart the server" if restart else ""
    if platform in SETTING_PLACES:
        return f"set {names} in {SETTING_PLACES[platform]}{then}"
    statements = " ".join(
        f"ALTER SYSTEM SET {name} = {value};" for name, value in settings.items()
    )
    apply = "then restart the server" if restart else "SELECT pg_reload_conf();"
    return f"{statements} {apply} ({MANAGED_NOTE})"


def preload(library: str, platform: str | None) -> str:
    where = SETTING_PLACES.get(platform or "", "postgresql.conf")
    return (
        f"add {library} to shared_preload_libraries in {where} and restart the server"
        + ("" if platform else f" ({MANAGED_NOTE})")
    )


def create_extension(name: str) -> str:
    """``CREATE EXTENSION name;`` (extension names here are plain lower case)."""
    return f"CREATE EXTENSION {name};"


def install_contrib(name: str, major: int) -> str:
    return (
        f"install the PostgreSQL {major} contrib modules (Debian/Ubuntu: part of "
        f"postgresql-{major}; RHEL: postgresql{major}-contrib), then "
        + create_extension(name)
    )


def install_hypopg(major: int) -> str:
    return (
        f"apt-get install postgresql-{major}-hypopg (RHEL: dnf install "
        f"hypopg_{major}), then {create_extension('hypopg')} (managed services offer "
        "it only where pg_available_extensions lists it)"
    )
