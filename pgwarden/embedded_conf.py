"""Server configuration of the embedded PostgreSQL, written at every start."""

from __future__ import annotations

LOG_DIRECTORY = "log"


def governance_conf(
    port: int, major: int, overrides: dict[str, str] | None = None
) -> str:
    """``pgwarden.conf``: statistics, timing and a slow-statement log, loopback only.

    ``overrides`` are raw ``postgresql.conf`` values (quoted where PostgreSQL wants it).
    """
    destination = "jsonlog" if major >= 15 else "csvlog"
    lines = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": "''",
        "password_encryption": "'scram-sha-256'",
        "max_connections": "200",
        "wal_level": "'replica'",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "shared_preload_libraries": "'pg_stat_statements,auto_explain'",
        "pg_stat_statements.max": "10000",
        "pg_stat_statements.track": "'all'",
        "pg_stat_statements.save": "on",
        "auto_explain.log_min_duration": "-1",
        "track_io_timing": "on",
        "track_functions": "'pl'",
        "track_activity_query_size": "4096",
        "compute_query_id": "on",
        "logging_collector": "on",
        "log_destination": f"'{destination}'",
        "log_directory": f"'{LOG_DIRECTORY}'",
        "log_filename": "'postgresql-%Y-%m-%d.log'",
        "log_rotation_age": "'1d'",
        "log_rotation_size": "'64MB'",
        "log_min_duration_statement": "'100ms'",
        "log_autovacuum_min_duration": "'1s'",
        "log_lock_waits": "on",
        "log_temp_files": "'10MB'",
        "log_checkpoints": "on",
    }
    lines.update(overrides or {})
    body = "".join(f"{key} = {value}\n" for key, value in lines.items())
    return (
        "# Written by pgwarden at every start; edit postgresql.conf instead.\n" + body
    )


def hba_conf() -> str:
    """Loopback TCP with SCRAM only (streaming replicas too); no Unix socket."""
    return (
        "# Written by pgwarden at every start.\n"
        "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
        "host    all       all   127.0.0.1/32  scram-sha-256\n"
        "host    all       all   ::1/128       scram-sha-256\n"
        "host    replication all 127.0.0.1/32  scram-sha-256\n"
    )
