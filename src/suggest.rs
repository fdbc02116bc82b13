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

/// Edit distance counting an insertion, a deletion, a substitution or a swap
/// of two neighbouring characters as one edit (optimal string alignment), so
/// that `Jbo` is one edit from `Job`.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_name_within_the_limit() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("Jbo", "Job"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
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
