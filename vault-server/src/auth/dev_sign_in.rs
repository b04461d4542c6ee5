//! The development sign-in's one-time codes.
//!
//! `POST /dev/token` mints a token for any user of any family, so it must answer only
//! the developer at this machine's keyboard: the caller must be a loopback TCP peer
//! (checked by the route) and must show the code `vault serve` printed on its terminal.
//! Each code signs in once; the next one is printed (and written to
//! `<data_dir>/dev-sign-in-code`, readable only by whoever can read the data
//! directory, which holds the issuer's key anyway) as soon as it is used.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::keyfile::write_private;

/// Crockford's base32 without look-alikes: codes are read off a terminal and typed.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 12 symbols of 5 bits: 60 bits, guessed at `auth_failures_per_minute` per address.
const SYMBOLS: usize = 12;

/// The current one-time code.
pub(crate) struct DevSignIn {
    code: Mutex<Zeroizing<String>>,
    file: PathBuf,
}

impl std::fmt::Debug for DevSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevSignIn").finish_non_exhaustive()
    }
}

impl DevSignIn {
    const FILE: &'static str = "dev-sign-in-code";

    /// A first code, announced on standard error and in the data directory.
    pub(crate) fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let this = Self { code: Mutex::new(Zeroizing::new(String::new())), file: data_dir.join(Self::FILE) };
        this.rotate()?;
        Ok(this)
    }

    /// Uses up `offered` if it is the current code (and announces the next one).
    pub(crate) fn redeem(&self, offered: &str) -> anyhow::Result<bool> {
        let offered = normalise(offered);
        let matches = {
            let code = self.code.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            offered.len() == code.len() && bool::from(offered.as_bytes().ct_eq(code.as_bytes()))
        };
        if matches {
            self.rotate()?;
        }
        Ok(matches)
    }

    fn rotate(&self) -> anyhow::Result<()> {
        let fresh = generate();
        // Written aside and renamed over the old code: never readable half-written.
        let tmp = self.file.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, format!("{}\n", *fresh).as_bytes())?;
        std::fs::rename(&tmp, &self.file)?;
        // The terminal that runs `vault serve` (and `scripts/run`) shows it.
        eprintln!("vault: development sign-in code: {} (one sign-in; a new code follows each use)", *fresh);
        *self.code.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }
}

fn generate() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; SYMBOLS]);
    OsRng.fill_bytes(bytes.as_mut());
    let mut code = Zeroizing::new(String::with_capacity(SYMBOLS + 2));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    code
}

/// What a person may type for a code: any case, with or without dashes and spaces,
/// and the letters Crockford's alphabet reads as digits.
fn normalise(typed: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(SYMBOLS + 2));
    for c in typed.chars().filter(|c| c.is_ascii_alphanumeric()) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        };
        if out.len() % 5 == 4 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_signs_in_once_and_the_next_is_written_down() {
        let dir = tempfile::tempdir().unwrap();
        let codes = DevSignIn::start(dir.path()).unwrap();
        let first = std::fs::read_to_string(dir.path().join("dev-sign-in-code")).unwrap().trim().to_owned();
        assert_eq!(first.len(), 14, "{first}");
        assert!(!codes.redeem("0000-0000-0000").unwrap());
        assert!(codes.redeem(&first.to_lowercase().replace('-', " ")).unwrap(), "typed loosely");
        assert!(!codes.redeem(&first).unwrap(), "used up");
        let second = std::fs::read_to_string(dir.path().join("dev-sign-in-code")).unwrap().trim().to_owned();
        assert_ne!(first, second);
        assert!(codes.redeem(&second).unwrap());
        assert!(!codes.redeem("").unwrap());
    }
}
