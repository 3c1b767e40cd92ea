//! A shared watch against the in-process API server: every subscriber sees every event in order,
//! they share one cache, and one subscriber leaving holds up no other.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support_infra;

use std::sync::Arc;
use std::time::Duration;

use everynode_controllers::informer::SharedWatch;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;
use support_infra::{cluster, pod};

/// The names of the pods in the next `n` `Apply` events, skipping the initial list's events.
async fn applied(
    events: &mut (impl futures::Stream<Item = Result<Event<Pod>, kube::runtime::watcher::Error>> + Unpin),
    n: usize,
) -> Vec<String> {
    let mut names = Vec::new();
    while names.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .expect("no errors are passed on");
        if let Event::Apply(pod) = event {
            names.push(pod.metadata.name.unwrap_or_default());
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_sees_every_pod_event_and_they_share_one_cache() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_pod(pod("before")).await?;
    let mut shared = SharedWatch::<Pod>::new(c.pods());
    let mut first = shared.subscribe();
    let mut second = shared.subscribe();
    let leaving = shared.subscribe();
    drop(leaving);
    tokio::spawn(shared.run());

    for watch in [&mut first, &mut second] {
        let mut listed = Vec::new();
        loop {
            match watch.events.next().await.expect("events").expect("no error") {
                Event::InitApply(pod) => listed.push(pod.metadata.name.unwrap_or_default()),
                Event::InitDone => break,
                _ => {}
            }
        }
        assert_eq!(listed, ["before"], "the initial list");
    }
    for name in ["a", "b", "c"] {
        c.create_pod(pod(name)).await?;
    }
    assert_eq!(applied(&mut first.events, 3).await, ["a", "b", "c"]);
    assert_eq!(applied(&mut second.events, 3).await, ["a", "b", "c"]);
    let key = ObjectRef::new("b").within("default");
    let (one, other) = (first.store.get(&key).expect("cached"), second.store.get(&key).expect("cached"));
    assert!(Arc::ptr_eq(&one, &other), "one cache, one copy of each pod");
    Ok(())
}
