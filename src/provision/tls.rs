//! The box's side of mutual TLS with HQ's broker: its private key (ECDSA P-256, made here and
//! never sent anywhere), the certificate signing request HQ signs, the key's fingerprint a
//! technician reads out, and checks of the PEM files HQ hands over (its CA, the signed
//! certificate and its chain to that CA). Pure: callers write the files (`provision::files`).

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData as _};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::CertificateDer;

/// The box's key and its CSR, both PEM.
pub struct KeyAndCsr {
    pub key_pem: String,
    pub csr_pem: String,
    pub fingerprint: String,
}

/// The CSR's common name: the box's MQTT client id, `storehub-{chain}-{store}-{hub}`.
pub fn common_name(chain: &str, store: &str, hub: &str) -> String {
    format!("storehub-{chain}-{store}-{hub}")
}

/// Makes a new key and a CSR for `cn` (with `hub_id` as its DNS subject alternative name, so
/// HQ's CA can check it against the store it is provisioning).
pub fn new_key_and_csr(cn: &str, hub_id: &str) -> Result<KeyAndCsr, String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot make the box's key: {e}"))?;
    csr_for(&key, cn, hub_id)
}

/// A CSR for an existing key (PEM); used again when the ids change.
pub fn csr_for_key_pem(key_pem: &str, cn: &str, hub_id: &str) -> Result<KeyAndCsr, String> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| format!("the box's key is not a PEM private key: {e}"))?;
    csr_for(&key, cn, hub_id)
}

fn csr_for(key: &KeyPair, cn: &str, hub_id: &str) -> Result<KeyAndCsr, String> {
    let mut params = CertificateParams::new(vec![hub_id.to_string()]).map_err(|e| format!("hub id {hub_id:?} cannot go into a certificate: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "storehub");
    params.distinguished_name = dn;
    let csr = params.serialize_request(key).map_err(|e| format!("cannot make the CSR: {e}"))?;
    let csr_pem = csr.pem().map_err(|e| format!("cannot encode the CSR: {e}"))?;
    Ok(KeyAndCsr { key_pem: key.serialize_pem(), csr_pem, fingerprint: fingerprint(&key.subject_public_key_info()) })
}

/// The fingerprint of a public key: SHA-256 of its SubjectPublicKeyInfo DER, the first 16 bytes
/// in hex, grouped by 2 bytes (`ab12:cd34:…`). The same as
/// `openssl pkey -pubout -outform DER -in hub.key | sha256sum` (first 32 hex digits).
pub fn fingerprint(spki_der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, spki_der);
    d.as_ref()[..16].chunks(2).map(|c| format!("{:02x}{:02x}", c[0], c[1])).collect::<Vec<_>>().join(":")
}

/// The fingerprint of a PEM private key's public half.
pub fn key_fingerprint(key_pem: &str) -> Result<String, String> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| format!("not a PEM private key: {e}"))?;
    Ok(fingerprint(&key.subject_public_key_info()))
}

/// Checks that `text` holds at least one PEM certificate and nothing that fails to decode.
pub fn check_certificates_pem(text: &str) -> Result<usize, String> {
    let mut n = 0;
    for (i, c) in CertificateDer::pem_slice_iter(text.as_bytes()).enumerate() {
        c.map_err(|e| format!("certificate {} is not valid PEM: {e}", i + 1))?;
        n += 1;
    }
    if n == 0 {
        return Err("expected PEM certificates (-----BEGIN CERTIFICATE-----), found none".into());
    }
    Ok(n)
}

/// Checks that the first certificate in `cert_pem` (any that follow are its intermediates)
/// chains to a CA certificate in `ca_pem`, is valid at `now` and may authenticate a client: what
/// HQ's broker will check at the first connection, so a wrong certificate is refused when it is
/// installed, not found in a reconnect loop. The message says what to ask HQ for.
pub fn check_client_chain(cert_pem: &str, ca_pem: &str, now: std::time::SystemTime) -> Result<(), String> {
    use rustls::{CertificateError, Error};
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| format!("not valid PEM: {e}"))?;
    let (leaf, intermediates) = certs.split_first().ok_or("expected PEM certificates (-----BEGIN CERTIFICATE-----), found none")?;
    let mut roots = rustls::RootCertStore::empty();
    for (i, ca) in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).enumerate() {
        let ca = ca.map_err(|e| format!("HQ's CA file: certificate {} is not valid PEM: {e}", i + 1))?;
        roots.add(ca).map_err(|e| format!("HQ's CA file: certificate {} is not a usable CA certificate: {e}", i + 1))?;
    }
    if roots.is_empty() {
        return Err("HQ's CA file holds no certificate".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(std::sync::Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("cannot check against HQ's CA: {e}"))?;
    let since_epoch = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let at = rustls_pki_types::UnixTime::since_unix_epoch(since_epoch);
    match verifier.verify_client_cert(leaf, intermediates, at) {
        Ok(_) => Ok(()),
        Err(Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature)) => {
            Err("it is not signed by HQ's CA; ask HQ to sign this box's CSR with the CA it installed, or to send the intermediate certificates with it".into())
        }
        Err(Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. })) => {
            Err("it has expired; ask HQ for a new one (if it should be valid, check the box's clock: `storehub clock status`)".into())
        }
        Err(Error::InvalidCertificate(CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. })) => {
            Err("it is not valid yet; check the box's clock (`storehub clock status`, `timedatectl`)".into())
        }
        Err(Error::InvalidCertificate(CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. })) => {
            Err("it is not a client certificate (its extended key usage leaves out clientAuth); ask HQ to sign the CSR for client authentication".into())
        }
        Err(e) => Err(format!("HQ's CA does not accept it: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA (self-signed) and its key.
    fn ca(name: &str) -> (rcgen::Certificate, KeyPair, CertificateParams) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        (cert, key, params)
    }

    /// A box certificate for a new key, signed by the CA, valid 2026-01-01 to 2027-01-01.
    fn leaf(ca_params: &CertificateParams, ca_key: &KeyPair, eku: Vec<rcgen::ExtendedKeyUsagePurpose>) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["hub-1".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2027, 1, 1);
        params.extended_key_usages = eku;
        let issuer = rcgen::Issuer::from_params(ca_params, ca_key);
        params.signed_by(&key, &issuer).unwrap().pem()
    }

    fn at(s: &str) -> std::time::SystemTime {
        let t: chrono::DateTime<chrono::Utc> = s.parse().unwrap();
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.timestamp() as u64)
    }

    #[test]
    fn a_client_certificate_must_chain_to_hqs_ca_and_be_valid_now() {
        let (hq, hq_key, hq_params) = ca("HQ CA");
        let (_, other_key, other_params) = ca("Someone else's CA");
        let client = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let good = leaf(&hq_params, &hq_key, client.clone());
        let now = at("2026-11-27T04:00:00Z");
        assert_eq!(check_client_chain(&good, &hq.pem(), now), Ok(()));
        let foreign = leaf(&other_params, &other_key, client);
        assert!(check_client_chain(&foreign, &hq.pem(), now).unwrap_err().contains("not signed by HQ's CA"));
        assert!(check_client_chain(&good, &hq.pem(), at("2027-02-01T00:00:00Z")).unwrap_err().contains("expired"));
        assert!(check_client_chain(&good, &hq.pem(), at("2025-12-31T00:00:00Z")).unwrap_err().contains("not valid yet"));
        let server_only = leaf(&hq_params, &hq_key, vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth]);
        assert!(check_client_chain(&server_only, &hq.pem(), now).unwrap_err().contains("clientAuth"));
        assert!(check_client_chain("hello", &hq.pem(), now).unwrap_err().contains("found none"));
        assert!(check_client_chain(&good, "", now).unwrap_err().contains("no certificate"));
    }

    #[test]
    fn the_fingerprint_is_the_first_16_bytes_of_sha256_in_groups() {
        // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad.
        assert_eq!(fingerprint(b"abc"), "ba78:16bf:8f01:cfea:4141:40de:5dae:2223");
    }

    #[test]
    fn a_csr_is_pem_and_its_key_gives_the_same_fingerprint() {
        let k = new_key_and_csr("storehub-huamei-sh-1-hub-1", "hub-1").unwrap();
        assert!(k.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        assert_eq!(key_fingerprint(&k.key_pem).unwrap(), k.fingerprint);
        assert!(check_certificates_pem(&k.csr_pem).is_err(), "a CSR is not a certificate");
        assert!(check_certificates_pem("hello").unwrap_err().contains("found none"));
    }
}
