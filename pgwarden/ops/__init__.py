"""Operations around the database: change control (requests, risk, votes, DORA)."""
