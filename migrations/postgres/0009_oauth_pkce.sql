-- The PKCE code verifier of a connection being started (RFC 7636), kept until its callback
-- comes back (possibly to another process: the daemon) and cleared once it is used.
ALTER TABLE oauth_states ADD COLUMN pkce_verifier TEXT;
