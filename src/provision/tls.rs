//! The box's side of mutual TLS with HQ's broker: its private key (ECDSA P-256, made here and
//! never sent anywhere), the certificate signing request HQ signs, the key's fingerprint a
//! technician reads out, and checks of the PEM files HQ hands over (its CA, the signed
//! certificate). Pure: callers write the files (`provision::files`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
