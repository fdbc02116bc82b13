//! Helpers shared by the integration tests. Each test crate uses only part
//! of them.
#![allow(dead_code)]

pub mod alertmanager;
pub mod browser;
pub mod crash_scene;
pub mod cron_gen;
pub mod engines;
pub mod fake_forge;
pub mod git_servers;
pub mod gitea;
pub mod http;
pub mod jobs_repo;
pub mod kube_cluster;
pub mod pod_gen;
pub mod rng;
pub mod robfig;
pub mod scripts;
pub mod served;
pub mod values_table;
pub mod yaml_json;
