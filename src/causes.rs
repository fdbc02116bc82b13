//! An error with its causes written on one line, for a status
//! description, a log line or a run's reason: `what: why: deeper why`.

/// `error` and each of its sources, joined by `": "`; a cause whose text
/// the line already holds (an error that repeats its source) is not
/// written twice.
pub(crate) fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("{what}")]
    struct Layer {
        what: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    #[test]
    fn causes_follow_once_each() {
        let inner = Layer {
            what: "disk full",
            source: None,
        };
        let middle = Layer {
            what: "writing the store: disk full",
            source: Some(Box::new(inner)),
        };
        let outer = Layer {
            what: "recording Job default/pi",
            source: Some(Box::new(middle)),
        };
        assert_eq!(
            one_line(&outer),
            "recording Job default/pi: writing the store: disk full"
        );
    }
}
