//! TLS for every sink client: one rustls stack, one crypto provider (ring), one way of
//! loading a custom CA and a client certificate.
//!
//! Both ring and aws-lc-rs may be compiled into the binary (the PostgreSQL TLS stack
//! brings aws-lc-rs), and rustls refuses to guess between two providers: the binary
//! calls [`install_crypto_provider`] before any TLS connection is made.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Install ring as the process-wide rustls provider unless one is set already.
pub fn install_crypto_provider() {
    use rustls::crypto::{ring, CryptoProvider};
    if CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then set.
        let _ = ring::default_provider().install_default();
    }
}

/// A rustls client configuration: the web PKI roots, or only the CAs of `ca_file`;
/// with `client` (certificate chain, key) for mutual TLS. Errors name the file.
pub fn client_config(
    ca_file: Option<&Path>,
    client: Option<(&Path, &Path)>,
) -> Result<rustls::ClientConfig, String> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA file {}: {e}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(Arc::new(roots));
    match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read client certificate {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read client key {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}
