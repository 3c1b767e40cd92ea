//! The texts a 422 Invalid response produces: the Status `message` the API server writes
//! (apimachinery `errors.NewInvalid`) and what kubectl prints from the Status causes.

use crate::field::{FieldError, aggregate_message};

/// `The DaemonSet "x" is invalid: <aggregate>`: kubectl's lead-in with the one-line aggregate
/// (`a` for one error, `[a, b]` for several, duplicates dropped). For a single error this is
/// exactly what kubectl prints; for several kubectl prints [`kubectl_message`] instead.
pub fn invalid_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let lead = format!("The {kind} {} is invalid", crate::field::go_quote(name));
    if errs.is_empty() { lead } else { format!("{lead}: {}", aggregate_message(errs)) }
}

/// The `message` of the Status an API server returns, as `errors.NewInvalid` formats it with the
/// group-qualified kind: `DaemonSet.apps "x" is invalid: [a, b]`.
pub fn status_message(qualified_kind: &str, name: &str, errs: &[FieldError]) -> String {
    let lead = format!("{qualified_kind} {} is invalid", crate::field::go_quote(name));
    if errs.is_empty() { lead } else { format!("{lead}: {}", aggregate_message(errs)) }
}

/// What kubectl prints for a 422 built from these errors (`cmdutil.CheckErr`): one line for a
/// single cause, otherwise a header and one `* cause` line each, duplicates dropped. Each line
/// ends with a newline, as kubectl writes it.
pub fn kubectl_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let lead = format!("The {kind} {} is invalid", crate::field::go_quote(name));
    let mut seen = std::collections::HashSet::new();
    let causes: Vec<String> = errs.iter().map(|e| e.to_string()).filter(|m| seen.insert(m.clone())).collect();
    match causes.as_slice() {
        [] => format!("{lead}\n"),
        [one] => format!("{lead}: {one}\n"),
        many => {
            let mut out = format!("{lead}: \n");
            for cause in many {
                out.push_str(&format!("* {cause}\n"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::FieldPath;

    fn errs() -> Vec<FieldError> {
        vec![
            FieldError::required(&FieldPath::new("spec").child("selector"), ""),
            FieldError::required(
                &FieldPath::new("spec").child("template").child("spec").child("containers"),
                "",
            ),
        ]
    }

    #[test]
    fn one_error_reads_like_kubectl() {
        let one = &errs()[..1];
        assert_eq!(
            invalid_message("DaemonSet", "x", one),
            r#"The DaemonSet "x" is invalid: spec.selector: Required value"#
        );
        assert_eq!(
            kubectl_message("DaemonSet", "x", one),
            "The DaemonSet \"x\" is invalid: spec.selector: Required value\n"
        );
    }

    #[test]
    fn several_errors_are_bracketed_in_one_line() {
        assert_eq!(
            invalid_message("DaemonSet", "x", &errs()),
            r#"The DaemonSet "x" is invalid: [spec.selector: Required value, spec.template.spec.containers: Required value]"#
        );
    }

    #[test]
    fn status_message_uses_the_qualified_kind_like_new_invalid() {
        assert_eq!(
            status_message("DaemonSet.apps", "x", &errs()),
            r#"DaemonSet.apps "x" is invalid: [spec.selector: Required value, spec.template.spec.containers: Required value]"#
        );
    }

    #[test]
    fn kubectl_lists_several_causes_one_per_line() {
        let mut list = errs();
        list.push(list[0].clone());
        assert_eq!(
            kubectl_message("DaemonSet", "x", &list),
            "The DaemonSet \"x\" is invalid: \n* spec.selector: Required value\n* spec.template.spec.containers: Required value\n"
        );
    }
}
