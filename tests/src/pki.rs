//! What a production broker needs, made for one test: a CA, a certificate it
//! signed for `localhost` and 127.0.0.1, and a Mosquitto password file.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::unique_name;

/// A fresh directory with `ca.pem`, `server.pem`, `server.key` and
/// `passwords`; removed when dropped.
pub struct Pki {
    dir: PathBuf,
}

/// A fresh P-256 key, unencrypted, for `openssl req`.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

impl Pki {
    /// Makes the certificates, and a password file with `users` (name, password).
    pub fn make(users: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("pki"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let pki = Self { dir };
        let ca = [
            "-days",
            "2",
            "-subj",
            "/CN=vangnet test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ];
        pki.run("openssl", &[&["req", "-x509"][..], &NEW_KEY, &ca].concat());
        pki.issue(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        );
        for (index, (user, password)) in users.iter().enumerate() {
            let create: &[&str] = if index == 0 { &["-c"] } else { &[] };
            let args = [&["-b"][..], create, &["passwords", user, password]].concat();
            pki.run("mosquitto_passwd", &args);
        }
        // Mosquitto started as root reads its files as the `mosquitto` user.
        pki.run("chmod", &["0644", "server.key", "passwords"]);
        pki
    }

    /// Makes `{name}.pem` and `{name}.key`: a client certificate for `name`, signed by the CA.
    pub fn client(&self, name: &str) -> (String, String) {
        self.issue(name, name, "extendedKeyUsage=clientAuth");
        (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        )
    }

    /// Makes `{file}.key` and `{file}.pem`: a key and a certificate for the
    /// common name `cn` with the X.509 v3 `extension`, signed by the CA.
    fn issue(&self, file: &str, cn: &str, extension: &str) {
        let (key, csr, cert, ext) = (
            format!("{file}.key"),
            format!("{file}.csr"),
            format!("{file}.pem"),
            format!("{file}.ext"),
        );
        let subject = format!("/CN={cn}");
        let request = ["-subj", subject.as_str(), "-keyout", &key, "-out", &csr];
        self.run("openssl", &[&["req"][..], &NEW_KEY, &request].concat());
        self.write(&ext, &format!("{extension}\n"));
        self.run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        );
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Writes `text` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        path
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("ca.pem")).unwrap_or_else(|e| panic!("reading the CA: {e}"))
    }

    fn run(&self, program: &str, args: &[&str]) {
        let status = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(status.success(), "{program} {args:?}");
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
