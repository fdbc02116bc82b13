//! Finding programs on a search path, as `execvp` finds them: the local
//! executor's containers, bubblewrap, and the rendering engines.

use std::path::{Path, PathBuf};

/// The search path of an environment that sets none (the default of
/// container runtimes).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `program` is on `path` (a `PATH` value; [`DEFAULT_PATH`] when
/// None): the first executable file of that name. None for a name with a
/// slash (used as it is) or one not found.
pub(crate) fn find(program: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return None;
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Where `program` is on this process's own `PATH`.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    find(program, std::env::var("PATH").ok().as_deref())
}

/// The variable that names bubblewrap, for the local executor's sandbox
/// and the rendering engines' alike.
pub const BWRAP_ENV: &str = "JOBCD_BWRAP";

/// bubblewrap: the program `JOBCD_BWRAP` names, else `bwrap` on `PATH`.
pub(crate) fn bwrap() -> Option<PathBuf> {
    std::env::var_os(BWRAP_ENV)
        .map(PathBuf::from)
        .or_else(|| on_path("bwrap"))
}
