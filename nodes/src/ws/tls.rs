//! TLS for `wss://` connections: rustls (ring) trusting the system's roots plus the
//! certificates of an optional CA file.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A client config trusting the system's roots and every certificate in `ca_file` (PEM).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped; the CA file may be all that is needed.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let shown = path.display();
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("CA file {shown}: {e}"))? {
            let cert = cert.map_err(|e| format!("CA file {shown}: {e}"))?;
            roots.add(cert).map_err(|e| format!("CA file {shown}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("CA file {shown} holds no PEM certificate"));
        }
    }
    // ring, not aws-lc-rs: it builds with the C compiler alone (no cmake). rustls deprecates
    // its provider only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
