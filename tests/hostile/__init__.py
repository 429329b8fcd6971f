"""Hostile input and faults: pgwarden tried as an attacker and as bad luck would."""
