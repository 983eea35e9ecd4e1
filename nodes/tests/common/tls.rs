//! A TLS acceptor for 127.0.0.1 with a self-signed certificate made by the test (rcgen).

use std::sync::Arc;

/// The acceptor, and its certificate as PEM (what a `ca_file` holds).
pub fn self_signed_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = key.cert.pem();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![key.cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.key_pair.serialize_der().into()),
        )
        .unwrap();
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem)
}
