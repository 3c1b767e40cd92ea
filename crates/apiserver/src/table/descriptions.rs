//! Column descriptions: the API field documentation upstream copies from `SwaggerDoc()`.
//!
//! Taken from the OpenAPI descriptions of the same fields (k8s-openapi 0.29, Kubernetes 1.37), which
//! are generated from the same Go comments as upstream's `SwaggerDoc()` maps.

/// `ObjectMeta.name`.
pub(super) const OBJECT_META_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// `ObjectMeta.creationTimestamp`.
pub(super) const OBJECT_META_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// `PodStatus.podIP`.
pub(super) const POD_STATUS_POD_IP: &str =
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";

/// `PodStatus.nominatedNodeName`.
pub(super) const POD_STATUS_NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";

/// `PodSpec.nodeName`.
pub(super) const POD_SPEC_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";

/// `PodSpec.readinessGates`.
pub(super) const POD_SPEC_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";

/// `PodSpec.nodeSelector`.
pub(super) const POD_SPEC_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";

/// `DaemonSetStatus.desiredNumberScheduled`.
pub(super) const DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";

/// `DaemonSetStatus.currentNumberScheduled`.
pub(super) const DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";

/// `DaemonSetStatus.numberReady`.
pub(super) const DAEMON_SET_STATUS_NUMBER_READY: &str = "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.";

/// `DaemonSetStatus.updatedNumberScheduled`.
pub(super) const DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED: &str =
    "The total number of nodes that are running updated daemon pod";

/// `DaemonSetStatus.numberAvailable`.
pub(super) const DAEMON_SET_STATUS_NUMBER_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";

/// `DaemonSetSpec.selector`.
pub(super) const DAEMON_SET_SPEC_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

/// `NodeSystemInfo.kubeletVersion`.
pub(super) const NODE_SYSTEM_INFO_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";

/// `NodeSystemInfo.osImage`.
pub(super) const NODE_SYSTEM_INFO_OS_IMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";

/// `NodeSystemInfo.kernelVersion`.
pub(super) const NODE_SYSTEM_INFO_KERNEL_VERSION: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";

/// `NodeSystemInfo.containerRuntimeVersion`.
pub(super) const NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION: &str =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";

/// `NodeStatus.addresses`.
pub(super) const NODE_STATUS_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

/// `Event.lastTimestamp`.
pub(super) const EVENT_LAST_TIMESTAMP: &str =
    "The time at which the most recent occurrence of this event was recorded.";

/// `Event.type`.
pub(super) const EVENT_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";

/// `Event.reason`.
pub(super) const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";

/// `Event.involvedObject`.
pub(super) const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";

/// `Event.source`.
pub(super) const EVENT_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";

/// `Event.message`.
pub(super) const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";

/// `Event.firstTimestamp`.
pub(super) const EVENT_FIRST_TIMESTAMP: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";

/// `Event.count`.
pub(super) const EVENT_COUNT: &str = "The number of times this event has occurred.";

/// `ObjectReference.fieldPath`.
pub(super) const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";

/// `Secret.type`.
pub(super) const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";

/// `Secret.data`.
pub(super) const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";

/// `ConfigMap.data`.
pub(super) const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";

/// `ServiceAccount.secrets`.
pub(super) const SERVICE_ACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";

/// `ControllerRevision.revision`.
pub(super) const CONTROLLER_REVISION_REVISION: &str =
    "Revision indicates the revision of the state represented by Data.";

/// Pod "Ready" column, written by hand upstream.
pub(super) const POD_READY: &str = "The aggregate readiness state of this pod for accepting traffic.";

/// Pod "Status" column, written by hand upstream.
pub(super) const POD_STATUS: &str = "The aggregate status of the containers in this pod.";

/// Pod "Restarts" column, written by hand upstream.
pub(super) const POD_RESTARTS: &str = "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.";

/// "Containers" column of workload printers, written by hand upstream.
pub(super) const TEMPLATE_CONTAINERS: &str = "Names of each container in the template.";

/// "Images" column of workload printers, written by hand upstream.
pub(super) const TEMPLATE_IMAGES: &str = "Images referenced by each container in the template.";

/// Node "Status" column, written by hand upstream.
pub(super) const NODE_STATUS: &str = "The status of the node";

/// Node "Roles" column, written by hand upstream.
pub(super) const NODE_ROLES: &str = "The roles of the node";

/// Namespace "Status" column, written by hand upstream.
pub(super) const NAMESPACE_STATUS: &str = "The status of the namespace";

/// ControllerRevision "Controller" column, written by hand upstream.
pub(super) const CONTROLLER_REVISION_CONTROLLER: &str = "Controller of the object";
