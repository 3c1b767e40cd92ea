//! Probes and lifecycle hooks (core validation's `validateProbe`, `validateHandler`,
//! `validateLifecycle`), and the port-number-or-name rule they share with container ports.

use k8s_openapi::api::core::v1::{
    ExecAction, GRPCAction, HTTPGetAction, Lifecycle, LifecycleHandler, Probe, SleepAction, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::meta::validate_nonnegative;
use crate::validation::names::regex_error;
use crate::validation::render;

/// Which probe is being validated; each has one extra rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Restarts the container; `successThreshold` must be 1.
    Liveness,
    /// Gates traffic; may not set its own termination grace period.
    Readiness,
    /// Gates the other probes; `successThreshold` must be 1.
    Startup,
}

/// The handlers a probe or hook may carry (`commonHandler` upstream).
struct Handler<'a> {
    exec: Option<&'a ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a TCPSocketAction>,
    grpc: Option<&'a GRPCAction>,
    sleep: Option<&'a SleepAction>,
}

/// `validateLivenessProbe` / `validateReadinessProbe` / `validateStartupProbe`.
pub fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace_period: Option<i64>,
    path: &FieldPath,
) -> ErrorList {
    let Some(probe) = probe else {
        return Vec::new();
    };
    let handler = Handler {
        exec: probe.exec.as_ref(),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref(),
        grpc: probe.grpc.as_ref(),
        sleep: None,
    };
    let mut errs = validate_handler(&handler, grace_period, path);
    let numbers = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in numbers {
        errs.extend(validate_nonnegative(i64::from(value.unwrap_or(0)), &path.child(field)));
    }
    if let Some(grace) = probe.termination_grace_period_seconds.filter(|g| *g <= 0) {
        errs.push(FieldError::invalid(
            &path.child("terminationGracePeriodSeconds"),
            BadValue::Int(grace),
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let success = probe.success_threshold.unwrap_or(0);
            if success != 1 {
                errs.push(FieldError::invalid(
                    &path.child("successThreshold"),
                    BadValue::Int(i64::from(success)),
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if probe.termination_grace_period_seconds.is_some() {
                errs.push(FieldError::invalid(
                    &path.child("terminationGracePeriodSeconds"),
                    render::optional_int(probe.termination_grace_period_seconds),
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
    errs
}

/// `validateLifecycle`: each hook needs exactly one handler.
pub fn validate_lifecycle(lifecycle: &Lifecycle, grace_period: Option<i64>, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for (field, hook) in [("postStart", &lifecycle.post_start), ("preStop", &lifecycle.pre_stop)] {
        if let Some(h) = hook {
            errs.extend(validate_handler(&lifecycle_handler(h), grace_period, &path.child(field)));
        }
    }
    errs
}

fn lifecycle_handler(h: &LifecycleHandler) -> Handler<'_> {
    Handler {
        exec: h.exec.as_ref(),
        http_get: h.http_get.as_ref(),
        tcp_socket: h.tcp_socket.as_ref(),
        grpc: None,
        sleep: h.sleep.as_ref(),
    }
}

fn validate_handler(h: &Handler<'_>, grace_period: Option<i64>, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let mut count = 0;
    let mut take = |field: &str, present: bool, errs: &mut ErrorList| -> bool {
        if !present {
            return false;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(&path.child(field), "may not specify more than 1 handler type"));
            return false;
        }
        count += 1;
        true
    };
    if take("exec", h.exec.is_some(), &mut errs)
        && let Some(exec) = h.exec
        && exec.command.as_deref().unwrap_or_default().is_empty()
    {
        errs.push(FieldError::required(&path.child("exec").child("command"), ""));
    }
    if take("httpGet", h.http_get.is_some(), &mut errs)
        && let Some(http) = h.http_get
    {
        errs.extend(validate_http_get(http, &path.child("httpGet")));
    }
    if take("tcpSocket", h.tcp_socket.is_some(), &mut errs)
        && let Some(tcp) = h.tcp_socket
    {
        errs.extend(validate_port_num_or_name(&tcp.port, &path.child("tcpSocket").child("port")));
    }
    if take("grpc", h.grpc.is_some(), &mut errs)
        && let Some(grpc) = h.grpc
    {
        errs.extend(validate_port_num_or_name(
            &IntOrString::Int(grpc.port),
            &path.child("grpc").child("port"),
        ));
    }
    if take("sleep", h.sleep.is_some(), &mut errs)
        && let (Some(sleep), Some(grace)) = (h.sleep, grace_period)
        && (sleep.seconds < 0 || sleep.seconds > grace)
    {
        errs.push(FieldError::invalid(
            &path.child("sleep"),
            BadValue::Int(sleep.seconds),
            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
        ));
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_http_get(http: &HTTPGetAction, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if http.path.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&path.child("path"), ""));
    }
    errs.extend(validate_port_num_or_name(&http.port, &path.child("port")));
    let scheme = http.scheme.as_deref().unwrap_or_default();
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(FieldError::not_supported(
            &path.child("scheme"),
            render::named_string(scheme),
            &["HTTP", "HTTPS"],
        ));
    }
    for header in http.http_headers.iter().flatten() {
        let valid =
            !header.name.is_empty() && header.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            errs.push(FieldError::invalid(
                &path.child("httpHeaders"),
                BadValue::Str(header.name.clone()),
                regex_error(
                    "a valid HTTP header must consist of alphanumeric characters or '-'",
                    "[-A-Za-z0-9]+",
                    &["X-Header-Name"],
                ),
            ));
        }
    }
    errs
}

/// `ValidatePortNumOrName`: a number in 1..=65535 or an IANA service name.
pub fn validate_port_num_or_name(port: &IntOrString, path: &FieldPath) -> ErrorList {
    match port {
        IntOrString::Int(n) => is_valid_port_num(i64::from(*n))
            .into_iter()
            .map(|m| FieldError::invalid(path, BadValue::Int(i64::from(*n)), m))
            .collect(),
        IntOrString::String(name) => is_valid_port_name(name)
            .into_iter()
            .map(|m| FieldError::invalid(path, BadValue::Str(name.clone()), m))
            .collect(),
    }
}

/// `IsValidPortNum`.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// `IsValidPortName` (IANA_SVC_NAME): at most 15 of `[-a-z0-9]`, a letter, no `--`, no edge dash.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn http_probe(port: IntOrString) -> Probe {
        Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".into()),
                port,
                scheme: Some("HTTP".into()),
                ..Default::default()
            }),
            timeout_seconds: Some(1),
            period_seconds: Some(10),
            success_threshold: Some(1),
            failure_threshold: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn probe_without_handler_must_specify_one() {
        let probe = Probe { success_threshold: Some(1), ..Default::default() };
        assert_eq!(
            messages(validate_probe(
                Some(&probe),
                ProbeKind::Liveness,
                Some(30),
                &FieldPath::new("livenessProbe")
            )),
            ["livenessProbe: Required value: must specify a handler type"]
        );
    }

    #[test]
    fn liveness_success_threshold_must_be_one() {
        let mut probe = http_probe(IntOrString::Int(8080));
        probe.success_threshold = Some(2);
        assert_eq!(
            messages(validate_probe(Some(&probe), ProbeKind::Liveness, Some(30), &FieldPath::new("p"))),
            ["p.successThreshold: Invalid value: 2: must be 1"]
        );
        assert!(
            validate_probe(Some(&probe), ProbeKind::Readiness, Some(30), &FieldPath::new("p")).is_empty()
        );
    }

    #[test]
    fn probe_ports_must_be_numbers_in_range_or_service_names() {
        let probe = http_probe(IntOrString::Int(0));
        assert_eq!(
            messages(validate_probe(Some(&probe), ProbeKind::Readiness, Some(30), &FieldPath::new("p"))),
            ["p.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"]
        );
        let probe = http_probe(IntOrString::String("Metrics".into()));
        assert_eq!(
            messages(validate_probe(Some(&probe), ProbeKind::Readiness, Some(30), &FieldPath::new("p"))),
            [
                r#"p.httpGet.port: Invalid value: "Metrics": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"#
            ]
        );
    }

    #[test]
    fn two_handlers_forbid_the_second() {
        let mut probe = http_probe(IntOrString::Int(80));
        probe.tcp_socket = Some(TCPSocketAction { port: IntOrString::Int(80), host: None });
        assert_eq!(
            messages(validate_probe(Some(&probe), ProbeKind::Readiness, Some(30), &FieldPath::new("p"))),
            ["p.tcpSocket: Forbidden: may not specify more than 1 handler type"]
        );
    }

    #[test]
    fn negative_probe_numbers_are_invalid() {
        let mut probe = http_probe(IntOrString::Int(80));
        probe.period_seconds = Some(-1);
        assert_eq!(
            messages(validate_probe(Some(&probe), ProbeKind::Readiness, Some(30), &FieldPath::new("p"))),
            ["p.periodSeconds: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn pre_stop_sleep_must_fit_in_the_grace_period() {
        let lifecycle = Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction { seconds: 60 }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            messages(validate_lifecycle(&lifecycle, Some(30), &FieldPath::new("lifecycle"))),
            [
                "lifecycle.preStop.sleep: Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)"
            ]
        );
    }

    #[test]
    fn port_names_follow_iana_rules() {
        assert!(is_valid_port_name("metrics").is_empty());
        assert!(is_valid_port_name("http-2").is_empty());
        assert_eq!(is_valid_port_name("8080"), ["must contain at least one letter (a-z)"]);
        assert_eq!(
            is_valid_port_name("-a--b-"),
            ["must not contain consecutive hyphens", "must not begin or end with a hyphen"]
        );
        assert_eq!(is_valid_port_name("a-very-long-port-name").len(), 1);
    }
}
