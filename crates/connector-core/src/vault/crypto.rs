//! AES-256-GCM encryption at rest, with key rotation.
//!
//! A sealed value is `b"c1"`, the key id's length (one byte), the key id, a
//! 96-bit random nonce, then the ciphertext with its tag. The associated data
//! is the value's logical key name, so a value copied under another key (for
//! example another user's) fails to open.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::Error;

/// The environment variable holding the keys: `id:base64key[,id:base64key...]`.
pub const KEYS_ENV: &str = "CONNECTORS_ENCRYPTION_KEYS";

const MAGIC: &[u8; 2] = b"c1";
const NONCE_LEN: usize = 12;

/// The encryption keys. The first encrypts new values; all decrypt.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Keyring {
    /// Parses `id:base64key[,id:base64key...]`; each key is 32 bytes of
    /// standard base64. Errors never include key material.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let mut keys = Vec::new();
        for (i, item) in spec.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((id, b64)) = item.split_once(':') else {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: entry {} is not `id:base64key`",
                    i + 1
                )));
            };
            let id = id.trim();
            if !valid_key_id(id) {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: entry {}: key id must be 1-64 of [A-Za-z0-9._-]",
                    i + 1
                )));
            }
            let bytes = B64.decode(b64.trim()).map_err(|_| {
                Error::config(format!("{KEYS_ENV}: key `{id}` is not valid base64"))
            })?;
            if bytes.len() != 32 {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: key `{id}` must be 32 bytes, got {}",
                    bytes.len()
                )));
            }
            if keys.iter().any(|(k, _): &(String, Aes256Gcm)| k == id) {
                return Err(Error::config(format!(
                    "{KEYS_ENV}: key id `{id}` given twice"
                )));
            }
            let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes));
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err(Error::config(format!("{KEYS_ENV}: no key given")));
        }
        Ok(Keyring { keys })
    }

    /// Reads [`KEYS_ENV`]; `Ok(None)` when it is unset or empty.
    pub fn from_env() -> Result<Option<Self>, Error> {
        match std::env::var(KEYS_ENV) {
            Ok(v) if !v.trim().is_empty() => Keyring::parse(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// A new random key with `id`, and its `id:base64` spec.
    pub fn generate(id: &str) -> Result<(Self, String), Error> {
        if !valid_key_id(id) {
            return Err(Error::config("key id must be 1-64 of [A-Za-z0-9._-]"));
        }
        let key = Aes256Gcm::generate_key(OsRng);
        let spec = format!("{id}:{}", B64.encode(key));
        Ok((Keyring::parse(&spec)?, spec))
    }

    /// Reads the key spec in `path`, or creates the file (mode 0600) with a
    /// new random key when it does not exist.
    pub fn load_or_create_file(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(spec) => Keyring::parse(spec.trim())
                .map_err(|e| Error::config(format!("key file {}: {}", path.display(), e.detail()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (ring, spec) = Keyring::generate("k1")?;
                if let Some(dir) = path.parent() {
                    create_private_dir(dir)?;
                }
                write_private(path, spec.as_bytes())?;
                Ok(ring)
            }
            Err(e) => Err(Error::store(format!(
                "reading key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// The id new values are sealed with.
    pub fn primary_id(&self) -> &str {
        self.keys.first().map(|(id, _)| id.as_str()).unwrap_or("")
    }

    /// Encrypts `plaintext`, bound to `aad`, with the primary key.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let (id, cipher) = self
            .keys
            .first()
            .ok_or_else(|| Error::internal("keyring has no key"))?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = Vec::with_capacity(3 + id.len() + NONCE_LEN + ct.len());
        out.extend_from_slice(MAGIC);
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a sealed value bound to `aad`, with whichever key sealed it.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let bad = || Error::store("stored value is not a sealed value of this version");
        if sealed.len() < 3 || &sealed[..2] != MAGIC {
            return Err(bad());
        }
        let id_len = sealed[2] as usize;
        let id = sealed.get(3..3 + id_len).ok_or_else(bad)?;
        let nonce = sealed
            .get(3 + id_len..3 + id_len + NONCE_LEN)
            .ok_or_else(bad)?;
        let ct = sealed.get(3 + id_len + NONCE_LEN..).ok_or_else(bad)?;
        let id = std::str::from_utf8(id).map_err(|_| bad())?;
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(|| {
            Error::store(format!(
                "stored value was sealed with key `{id}`, which is not among the configured keys"
            ))
        })?;
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                Error::store(
                    "stored value failed to decrypt (wrong key, or the value was moved from another key)",
                )
            })
    }
}

/// Creates `dir` and its missing parents, each readable only by its owner
/// (mode 0700 on Unix); existing directories are left as they are.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::store(format!("creating {}: {e}", dir.display())))
}

/// Writes `bytes` to a new file at `path` readable only by its owner.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Error::store(format!("creating {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::store(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let (ring, _) = Keyring::generate("k1").unwrap();
        let sealed = ring
            .seal(b"tok:{alice}:slack:default", b"secret-token")
            .unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"secret-token"));
        assert_eq!(
            ring.open(b"tok:{alice}:slack:default", &sealed).unwrap(),
            b"secret-token"
        );
        let err = ring.open(b"tok:{bob}:slack:default", &sealed).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Store);
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let (old, old_spec) = Keyring::generate("old").unwrap();
        let sealed = old.seal(b"k", b"v").unwrap();
        let (_, new_spec) = Keyring::generate("new").unwrap();
        let rotated = Keyring::parse(&format!("{new_spec},{old_spec}")).unwrap();
        assert_eq!(rotated.primary_id(), "new");
        assert_eq!(rotated.open(b"k", &sealed).unwrap(), b"v");
        let resealed = rotated.seal(b"k", b"v").unwrap();
        assert!(old.open(b"k", &resealed).is_err());
    }

    #[test]
    fn bad_specs_are_clear_and_leak_nothing() {
        for spec in ["", "nokey", "k1:!!!", "k1:AAAA", "bad id:AAAA"] {
            let e = Keyring::parse(spec).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{spec}");
        }
        let (_, spec) = Keyring::generate("k1").unwrap();
        let e = Keyring::parse(&format!("{spec},{spec}")).unwrap_err();
        let b64 = spec.split_once(':').unwrap().1;
        assert!(!e.to_string().contains(b64));
    }

    #[test]
    fn key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/vault.key");
        let a = Keyring::load_or_create_file(&p).unwrap();
        let b = Keyring::load_or_create_file(&p).unwrap();
        let sealed = a.seal(b"x", b"y").unwrap();
        assert_eq!(b.open(b"x", &sealed).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
