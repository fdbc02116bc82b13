//! One sticky comment per pull request: found by a hidden marker, edited
//! on every push instead of adding another.
//!
//! GitHub: issue comments (`/repos/O/R/issues/N/comments`, edited through
//! `/repos/O/R/issues/comments/ID`); GitLab: merge-request notes
//! (`/projects/ID/merge_requests/IID/notes`); Gitea/Forgejo: issue comments
//! like GitHub's.

use serde_json::{Value, json};

use super::{Forge, Kind};

/// What posting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// A new comment.
    Created {
        /// Its id.
        id: u64,
    },
    /// The existing comment, edited.
    Updated {
        /// Its id.
        id: u64,
    },
    /// The existing comment already says this.
    Unchanged {
        /// Its id.
        id: u64,
    },
}

/// Pages of comments read at most while looking for the marker.
const MAX_PAGES: u32 = 50;
/// Comments per page asked for: GitHub and GitLab give up to 100; Gitea
/// caps a page at its `MAX_RESPONSE_ITEMS`, 50 unless configured.
fn per_page(kind: Kind) -> usize {
    match kind {
        Kind::GitHub | Kind::GitLab => 100,
        Kind::Gitea => 50,
    }
}

impl Forge {
    /// Creates or edits the comment on pull request `pr` whose body
    /// contains `marker`, so that it reads `body` (which must contain the
    /// marker, or the next post will not find it).
    pub fn upsert_comment(&self, pr: u64, marker: &str, body: &str) -> Result<Posted, String> {
        if !body.contains(marker) {
            return Err("the comment body must carry its marker".into());
        }
        let existing = self.find_comment(pr, marker)?;
        let payload = json!({ "body": body });
        match existing {
            Some((id, old)) if old == body => Ok(Posted::Unchanged { id }),
            Some((id, _)) => {
                let (method, url) = match self.kind {
                    Kind::GitHub | Kind::Gitea => (
                        "PATCH",
                        format!("{}/repos/{}/issues/comments/{id}", self.api, self.project),
                    ),
                    Kind::GitLab => ("PUT", format!("{}/{id}", self.discussion_url(pr))),
                };
                self.call(method, &url, Some(&payload))?;
                Ok(Posted::Updated { id })
            }
            None => {
                let created = self.call("POST", &self.discussion_url(pr), Some(&payload))?;
                let id = created["id"].as_u64().ok_or_else(|| {
                    format!(
                        "POST {}: the forge's answer has no comment id",
                        self.discussion_url(pr)
                    )
                })?;
                Ok(Posted::Created { id })
            }
        }
    }

    /// Where a pull request's comments are listed and created.
    fn discussion_url(&self, pr: u64) -> String {
        match self.kind {
            Kind::GitHub | Kind::Gitea => {
                format!("{}/repos/{}/issues/{pr}/comments", self.api, self.project)
            }
            Kind::GitLab => format!(
                "{}/projects/{}/merge_requests/{pr}/notes",
                self.api,
                self.gitlab_project()
            ),
        }
    }

    /// The first comment carrying `marker`: its id and body.
    ///
    /// Pages are read until one is short, empty, or brings no comment not
    /// seen before: Gitea (1.26) does not page a pull request's comments at
    /// all and answers every page with all of them, which must end the
    /// search rather than repeat it up to [`MAX_PAGES`] times.
    fn find_comment(&self, pr: u64, marker: &str) -> Result<Option<(u64, String)>, String> {
        let base = self.discussion_url(pr);
        let size = per_page(self.kind);
        let mut seen = std::collections::HashSet::new();
        for page in 1..=MAX_PAGES {
            let url = match self.kind {
                Kind::GitHub => format!("{base}?per_page={size}&page={page}"),
                Kind::GitLab => {
                    format!("{base}?per_page={size}&page={page}&sort=asc&order_by=created_at")
                }
                Kind::Gitea => format!("{base}?limit={size}&page={page}"),
            };
            let listed = self.call("GET", &url, None)?;
            let Some(comments) = listed.as_array() else {
                return Err(format!("GET {url}: expected a list of comments"));
            };
            let mut new = 0;
            for c in comments {
                let Some(id) = c["id"].as_u64() else { continue };
                if !seen.insert(id) {
                    continue;
                }
                new += 1;
                if let Some(text) = c["body"].as_str()
                    && text.contains(marker)
                {
                    return Ok(Some((id, text.to_string())));
                }
            }
            if comments.len() < size || new == 0 {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// One JSON request; the error names the method, the URL and what the
    /// status code usually means, never the token.
    fn call(&self, method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
        let response = match body {
            None => {
                let mut request = self.agent.get(url);
                for (name, value) in &self.auth() {
                    request = request.header(*name, value);
                }
                request.call()
            }
            Some(body) => {
                let mut request = match method {
                    "PATCH" => self.agent.patch(url),
                    "PUT" => self.agent.put(url),
                    _ => self.agent.post(url),
                }
                .content_type("application/json");
                for (name, value) in &self.auth() {
                    request = request.header(*name, value);
                }
                request.send(body.to_string())
            }
        };
        let mut response = response.map_err(|e| format!("{method} {url}: {e}"))?;
        let code = response.status().as_u16();
        if !(200..300).contains(&code) {
            let hint = match code {
                401 => ": the token is missing, wrong or expired",
                403 => ": the token may lack permission to comment on pull requests",
                404 => ": no such repository or pull request, or the token cannot see it",
                413 | 422 => ": the forge refused the comment (too long?)",
                429 => ": rate limited; try again later",
                _ => "",
            };
            return Err(format!("{method} {url}: HTTP {code}{hint}"));
        }
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{method} {url}: the answer is not JSON: {e}"))
    }
}
