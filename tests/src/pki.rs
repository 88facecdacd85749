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

impl Pki {
    /// Makes the certificates, and a password file with `users` (name, password).
    pub fn make(users: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("pki"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let pki = Self { dir };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
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
        pki.run("openssl", &[&["req", "-x509"][..], &ec, &ca].concat());
        let csr = [
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        pki.run("openssl", &[&["req"][..], &ec, &csr].concat());
        pki.write("san.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        pki.run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ],
        );
        for (index, (user, password)) in users.iter().enumerate() {
            let create = if index == 0 { "-c" } else { "-b" };
            let args: &[&str] = if index == 0 {
                &["-b", create, "passwords", user, password]
            } else {
                &[create, "passwords", user, password]
            };
            pki.run("mosquitto_passwd", args);
        }
        // Mosquitto started as root reads its files as the `mosquitto` user.
        pki.run("chmod", &["0644", "server.key", "passwords"]);
        pki
    }

    /// Makes `{name}.pem` and `{name}.key`: a client certificate for `name`, signed by the CA.
    pub fn client(&self, name: &str) -> (String, String) {
        let (cert, key, csr) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
        );
        let subject = format!("/CN={name}");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        self.run(
            "openssl",
            &[
                &["req"][..],
                &ec,
                &["-subj", &subject, "-keyout", &key, "-out", &csr],
            ]
            .concat(),
        );
        self.write("client.ext", "extendedKeyUsage=clientAuth\n");
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
                "client.ext",
                "-out",
                &cert,
            ],
        );
        (self.path(&cert), self.path(&key))
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
