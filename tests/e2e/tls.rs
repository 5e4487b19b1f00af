//! TLS and password sources: the server requires TLS (hostssl only), the relay verifies
//! its certificate (`sslmode=verify-full`) and reads the password from a file.

use outbox_relay_tests::*;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn streams_over_verified_tls_with_the_password_from_a_file() {
    let db = TestDb::start(Setup::default()).await;
    let data = db.cluster.root().join("data");
    // A private CA and a server certificate for 127.0.0.1 signed by it.
    let ca = db.path("ca.pem");
    let ca_key = db.path("ca.key");
    let csr = db.path("server.csr");
    let ext = db.path("san.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    let openssl = |args: &[&std::ffi::OsStr]| {
        let status = Command::new("openssl")
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    openssl(&[
        &os("req"),
        &os("-x509"),
        &os("-newkey"),
        &os("rsa:2048"),
        &os("-nodes"),
        &os("-days"),
        &os("2"),
        &os("-subj"),
        &os("/CN=outbox-relay test CA"),
        &os("-keyout"),
        ca_key.as_os_str(),
        &os("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        &os("req"),
        &os("-newkey"),
        &os("rsa:2048"),
        &os("-nodes"),
        &os("-subj"),
        &os("/CN=127.0.0.1"),
        &os("-keyout"),
        data.join("server.key").as_os_str(),
        &os("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        &os("x509"),
        &os("-req"),
        &os("-in"),
        csr.as_os_str(),
        &os("-CA"),
        ca.as_os_str(),
        &os("-CAkey"),
        ca_key.as_os_str(),
        &os("-CAcreateserial"),
        &os("-days"),
        &os("2"),
        &os("-extfile"),
        ext.as_os_str(),
        &os("-out"),
        data.join("server.crt").as_os_str(),
    ]);
    Command::new("chown")
        .args(["postgres:postgres"])
        .arg(data.join("server.key"))
        .arg(data.join("server.crt"))
        .status()
        .ok();
    Command::new("chmod")
        .arg("600")
        .arg(data.join("server.key"))
        .status()
        .unwrap();
    // Only TLS connections are accepted from now on.
    let hba = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap();
    let hba: String = hba
        .lines()
        .map(|l| {
            if l.starts_with("host ") {
                l.replacen("host ", "hostssl ", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(data.join("pg_hba.conf"), hba + "\n").unwrap();
    db.admin
        .batch_execute("ALTER SYSTEM SET ssl = on")
        .await
        .unwrap();
    db.admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // the postmaster reloads asynchronously

    let out = db.path("events.jsonl");
    let password_file = db.path("password");
    std::fs::write(&password_file, format!("{RELAY_PASSWORD}\n")).unwrap();
    let sinks = format!(
        "[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
        out.display()
    );
    let write_config = |name: &str, sslmode: &str| {
        let path = db.path(&format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "[source]\nurl = \"postgres://outbox_relay@127.0.0.1:{}/portal?sslmode={sslmode}&sslrootcert={}\"\n\
                 password_file = \"{}\"\nstatus_interval = \"200ms\"\n\n{sinks}",
                db.cluster.port(),
                ca.display(),
                password_file.display()
            ),
        )
        .unwrap();
        path
    };
    // Without TLS the server refuses: one clear error, non-zero exit.
    let (code, _o, stderr) = run_to_end(&[
        "run",
        "--config",
        write_config("plain", "disable").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no pg_hba.conf entry") || stderr.contains("SSL off"),
        "{stderr}"
    );
    assert!(!stderr.contains(RELAY_PASSWORD), "password not logged");

    // verify-full needs a host name to match; an IP address is refused at once, clearly.
    let (code, _o, stderr) = run_to_end(&[
        "run",
        "--config",
        write_config("ip", "verify-full").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("TLS") && stderr.contains("IP address"),
        "{stderr}"
    );

    let mut relay = RelayProcess::run(&write_config("tls", "verify-ca"), &db.path("relay.log"));
    db.insert_events(5, 2, 0).await;
    wait_until(Duration::from_secs(60), "events over TLS", || {
        let exited = relay.exited();
        let n = read_jsonl(&out).len();
        async move {
            assert!(exited.is_none(), "the relay exited");
            n >= 5
        }
    })
    .await;
    let ssl: bool = db
        .admin
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_replication r ON r.pid = s.pid",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the replication connection uses TLS");
}
