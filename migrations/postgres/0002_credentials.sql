-- OAuth tokens of connectors (QuickBooks, Salesforce), encrypted with RELANCE_SECRET_KEY
-- (ChaCha20-Poly1305; `secret` is base64 of nonce || ciphertext). One row per connector:
-- replacing it is what retires the previous refresh token. The lease serialises refreshes
-- across processes.
CREATE TABLE credentials (
    connector_id    TEXT PRIMARY KEY,
    secret          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    needs_reconnect TEXT,
    lease_holder    TEXT,
    lease_until     TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- CSRF states of connections in progress (`relance connect`), stored hashed.
CREATE TABLE oauth_states (
    state_hash   TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ,
    account      TEXT
);
