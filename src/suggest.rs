//! "Did you mean …?": the known name nearest to a misspelt one, for field
//! names, kinds and time zones.

/// The candidate most likely meant by `typed`: the same name in another case,
/// or the smallest edit distance (ignoring case) within `limit`.
pub(crate) fn closest<'c, I>(typed: &str, candidates: I, limit: usize) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    let lower = typed.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_name_within_the_limit() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("backofLimit", ["backoffLimit", "completions"], 2),
            Some("backoffLimit")
        );
        assert_eq!(
            closest("RESTARTPOLICY", ["restartPolicy"], 0),
            Some("restartPolicy")
        );
        assert_eq!(closest("zzz", ["backoffLimit"], 2), None);
    }
}
