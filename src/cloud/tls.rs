//! TLS for the broker connection: a rustls client config (ring provider) from `[mqtt]`'s CA,
//! client certificate and key files, or the system's trusted roots.
