//! Targets: where desired objects are applied and runs happen. The local
//! executor ([`local`]) runs them on this machine; a Kubernetes target follows.

pub mod local;
