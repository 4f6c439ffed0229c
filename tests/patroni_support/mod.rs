//! A real Patroni cluster on 127.0.0.1: one etcd and two PostgreSQL nodes under Patroni, on
//! free ports in a temporary directory. `.ci/run` installs them (`apt-get install etcd-server
//! patroni postgresql`). Without them a test skips, saying so on stderr; under `CI` a missing
//! system fails the test.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, Patroni runs as the
//! `postgres` user (`runuser`), and the directory is handed to that user.
#![allow(dead_code)]

#[path = "../process_support/mod.rs"]
mod process_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use process_support::Supervised;
use serde_json::Value;
use switchboard::testing::{free_port, missing_system};

/// Bound of every wait, so that a broken install fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(60);

pub struct Node {
    pub name: String,
    /// The node's Patroni REST API.
    pub api_url: String,
    pub pg_port: u16,
    config: PathBuf,
    process: Option<Supervised>,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    etcd: Supervised,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

fn installed(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The PostgreSQL server programs' directory (Debian keeps them out of PATH).
fn postgres_bin() -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut dirs: Vec<PathBuf> = versions
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl Cluster {
    /// Starts etcd, then the first node (it bootstraps and leads), then the second (a replica
    /// cloned from the first); returns once the replica streams. `None`: skip the test.
    pub fn start() -> Option<Cluster> {
        let bin = postgres_bin();
        if !installed("etcd", "--version") || !installed("patroni", "--version") || bin.is_none() {
            missing_system(
                "etcd, patroni and postgresql are not installed (apt-get install -y \
                 --no-install-recommends etcd-server etcd-client patroni postgresql)",
            );
            return None;
        }
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = running_as_root();
        let (client_port, peer_port) = (free_port(), free_port());
        let etcd = Supervised::start(
            "etcd",
            &[
                format!("--data-dir={}", dir.path().join("etcd").display()),
                format!("--listen-client-urls=http://127.0.0.1:{client_port}"),
                format!("--advertise-client-urls=http://127.0.0.1:{client_port}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
            ],
            &dir.path().join("etcd.log"),
        );
        let nodes = ["node1", "node2"]
            .iter()
            .map(|name| {
                let (api_port, pg_port) = (free_port(), free_port());
                let config = dir.path().join(format!("{name}.yml"));
                let yaml = node_config(name, api_port, pg_port, client_port, dir.path(), &bin);
                std::fs::write(&config, yaml).unwrap();
                Node {
                    name: name.to_string(),
                    api_url: format!("http://127.0.0.1:{api_port}"),
                    pg_port,
                    config,
                    process: None,
                }
            })
            .collect();
        if as_postgres {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success(), "chown the cluster's directory to postgres");
        }
        let mut cluster = Cluster {
            nodes,
            etcd,
            as_postgres,
            dir,
        };
        cluster.start_node(0);
        cluster.wait_until("node1 leads", |members| {
            role_state(members, "node1") == Some(("leader".into(), "running".into()))
        });
        cluster.start_node(1);
        cluster.wait_until("node2 replicates with no lag", |members| {
            role_state(members, "node2").is_some_and(|(role, state)| {
                role == "replica" && matches!(state.as_str(), "running" | "streaming")
            }) && lag(members, "node2") == Some(0)
        });
        eprintln!(
            "patroni cluster ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Some(cluster)
    }

    /// Every node's REST API, as a source's config lists them.
    pub fn api_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.api_url.clone()).collect()
    }

    pub fn start_node(&mut self, index: usize) {
        let node = &self.nodes[index];
        let log = self.dir.path().join(format!("{}.log", node.name));
        let config = node.config.display().to_string();
        let process = match self.as_postgres {
            true => Supervised::start(
                "runuser",
                &[
                    "-u".into(),
                    "postgres".into(),
                    "--".into(),
                    "patroni".into(),
                    config,
                ],
                &log,
            ),
            false => Supervised::start("patroni", &[config], &log),
        };
        self.nodes[index].process = Some(process);
    }

    /// Stops a node's Patroni (it stops its PostgreSQL first).
    pub fn stop_node(&mut self, index: usize) {
        if let Some(mut process) = self.nodes[index].process.take() {
            process.stop();
        }
    }

    /// `/cluster` as Patroni's REST API answers it, from the first node that answers.
    pub fn members(&self) -> Value {
        for node in &self.nodes {
            let addr = node.api_url.trim_start_matches("http://");
            if let Some((200, body)) = process_support::get(addr, "/cluster") {
                return serde_json::from_str::<Value>(&body).unwrap()["members"].clone();
            }
        }
        Value::Null
    }

    /// Waits until `done` holds for `/cluster`'s members.
    pub fn wait_until(&self, what: &str, done: impl Fn(&Value) -> bool) {
        let started = Instant::now();
        loop {
            let members = self.members();
            if done(&members) {
                return;
            }
            if started.elapsed() > WAIT {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .filter_map(|n| n.process.as_ref().map(|p| p.output()))
                    .collect();
                panic!("not within {WAIT:?}: {what}; members {members}; logs {logs:#?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs SQL on a node's PostgreSQL and returns its unaligned output.
    pub fn sql(&self, index: usize, sql: &str) -> String {
        let socket_dir = self.dir.path().display().to_string();
        let port = self.nodes[index].pg_port.to_string();
        let args = [
            "-h",
            &socket_dir,
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            sql,
        ];
        let output = match self.as_postgres {
            true => Command::new("runuser")
                .args(["-u", "postgres", "--", "psql"])
                .args(args)
                .output(),
            false => Command::new("psql").args(args).output(),
        }
        .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Freezes (or thaws) a replica's WAL receiver, so that it falls behind as the leader writes:
    /// the lag a real replica gets from a slow link or a busy disk.
    pub fn hold_replication(&self, index: usize, held: bool) {
        let pid = self.sql(index, "select pid from pg_stat_wal_receiver");
        assert!(!pid.is_empty(), "node {index} receives no WAL");
        let signal = if held { "-STOP" } else { "-CONT" };
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success());
    }

    /// Writes about `rows` rows' worth of WAL on a node (the leader).
    pub fn write(&self, index: usize, rows: u32) {
        self.sql(index, "create table if not exists filler (n int)");
        self.sql(
            index,
            &format!("insert into filler select generate_series(1, {rows})"),
        );
    }
}

/// Patroni stops its PostgreSQL when it is stopped, but not when it dies or its stop is cut
/// short: any PostgreSQL still running from the cluster's directory is shut down at once, so
/// that no test leaves a server behind.
impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.stop_node(index);
        }
        for node in &self.nodes {
            let pid_file = self.dir.path().join(&node.name).join("postmaster.pid");
            let Ok(text) = std::fs::read_to_string(pid_file) else {
                continue;
            };
            if let Some(pid) = text.lines().next() {
                // SIGQUIT: PostgreSQL's immediate shutdown.
                let _ = Command::new("kill").args(["-QUIT", pid.trim()]).status();
            }
        }
    }
}

pub fn role_state(members: &Value, name: &str) -> Option<(String, String)> {
    let member = members.as_array()?.iter().find(|m| m["name"] == name)?;
    Some((
        member["role"].as_str()?.to_string(),
        member["state"].as_str()?.to_string(),
    ))
}

pub fn lag(members: &Value, name: &str) -> Option<u64> {
    let member = members.as_array()?.iter().find(|m| m["name"] == name)?;
    member["lag"].as_u64()
}

fn node_config(
    name: &str,
    api_port: u16,
    pg_port: u16,
    etcd_port: u16,
    dir: &Path,
    bin: &Option<PathBuf>,
) -> String {
    let dir = dir.display();
    let bin = bin.as_ref().unwrap().display();
    format!(
        r#"scope: switchboard-test
name: {name}
restapi:
  listen: 127.0.0.1:{api_port}
  connect_address: 127.0.0.1:{api_port}
etcd3:
  hosts: 127.0.0.1:{etcd_port}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{pg_port}
  connect_address: 127.0.0.1:{pg_port}
  data_dir: {dir}/{name}
  bin_dir: {bin}
  pgpass: {dir}/{name}.pgpass
  authentication:
    replication: {{username: replicator, password: replicator}}
    superuser: {{username: postgres, password: postgres}}
    rewind: {{username: postgres, password: postgres}}
  parameters:
    unix_socket_directories: {dir}
"#
    )
}
