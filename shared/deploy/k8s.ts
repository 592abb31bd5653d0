/**
 * Kubernetes manifests for a topology: one worker per pod (`--replicas 1`), KEDA scaling pods on consumer
 * lag with the topology's own lag policy, so the local supervisor, systemd and Kubernetes scale alike.
 */
import { basename } from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../errors/index.ts";
import type { ResolvedTopology } from "../topology/types.ts";
import { deploymentName, kafkaTarget, scalingBounds, stopTimeoutSeconds } from "./scaling.ts";
import { topologyText } from "./env-vars.ts";
import { configMapKey, referencedFiles } from "./referenced-files.ts";
import { readFileSync } from "node:fs";

export interface K8sOptions {
  image?: string;
  namespace?: string;
  partitions?: number;
  /** CPU / memory per worker pod. */
  resources?: { requests: { cpu: string; memory: string }; limits: { cpu?: string; memory: string } };
}

const SECURITY_PROPERTY = /^(security\.protocol|sasl\.|ssl\.)/;

/** Renders every manifest of the deployment; returns file name → YAML text. */
export function renderK8s(t: ResolvedTopology, opts: K8sOptions = {}): Map<string, string> {
  const kafka = kafkaTarget(t);
  if (!kafka) {
    throw new ConfigError("CONFIG_INVALID", `--emit k8s needs a kafka source: topology "${t.name}" uses the in-process mock cluster, which only exists inside one process`);
  }
  const name = deploymentName(t);
  const ns = opts.namespace;
  const meta = (n: string) => ({ name: n, ...(ns ? { namespace: ns } : {}), labels: { ...selector(name), "app.kubernetes.io/component": "worker" } });
  const bounds = scalingBounds(t, opts.partitions);
  const file = basename(t.file);
  const port = t.http.port;
  const resources = opts.resources ?? { requests: { cpu: "1", memory: "512Mi" }, limits: { memory: "2Gi" } };
  const secretName = `${name}-env`;
  const files = new Map<string, string>();

  // The topology and every file it refers to (lookups, modules), mounted with the same relative layout.
  const extra = referencedFiles(t);
  const data: Record<string, string> = { [file]: topologyText(t.file) };
  for (const f of extra) data[configMapKey(f.relativePath)] = readFileSync(f.path, "utf8");
  const items = [{ key: file, path: file }, ...extra.map((f) => ({ key: configMapKey(f.relativePath), path: f.relativePath }))];
  files.set("configmap.yaml", stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: meta(`${name}-topology`), data }));

  const probe = (path: string, period: number, failures: number) => ({
    httpGet: { path, port: "metrics" },
    periodSeconds: period,
    failureThreshold: failures,
    timeoutSeconds: 3,
  });
  files.set(
    "deployment.yaml",
    stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(name),
      spec: {
        replicas: bounds.min,
        selector: { matchLabels: selector(name) },
        // One pod at a time: every replacement is a consumer-group rebalance.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels: { ...selector(name), "app.kubernetes.io/component": "worker" },
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" },
          },
          spec: {
            // The drain (finish in-flight batches, commit, leave the group) must finish before SIGKILL.
            terminationGracePeriodSeconds: stopTimeoutSeconds(t),
            securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "worker",
                image: opts.image ?? "topofleet:latest",
                args: [`/etc/topofleet/${file}`, "--replicas", "1"],
                env: [{ name: "TOPOFLEET_DATA_DIR", value: "/var/lib/topofleet" }],
                envFrom: [{ secretRef: { name: secretName, optional: true } }],
                ports: [{ name: "metrics", containerPort: port, protocol: "TCP" }],
                startupProbe: probe("/healthz", 2, 30),
                livenessProbe: probe("/healthz", 10, 3),
                readinessProbe: probe("/readyz", 5, 2),
                resources,
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                volumeMounts: [
                  { name: "topology", mountPath: "/etc/topofleet", readOnly: true },
                  { name: "data", mountPath: "/var/lib/topofleet" },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "topology", configMap: { name: `${name}-topology`, items } },
              { name: "data", emptyDir: {} },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    }),
  );

  files.set(
    "service.yaml",
    stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: { ...meta(`${name}-metrics`), annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(port) } },
      spec: { selector: selector(name), ports: [{ name: "metrics", port, targetPort: "metrics", protocol: "TCP" }] },
    }),
  );

  files.set(
    "pdb.yaml",
    stringify({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: meta(name), spec: { maxUnavailable: 1, selector: { matchLabels: selector(name) } } }),
  );

  const secured = t.source.kind === "kafka" && Object.keys(t.source.properties).some((k) => SECURITY_PROPERTY.test(k));
  const trigger: Record<string, unknown> = {
    type: "kafka",
    metadata: {
      bootstrapServers: kafka.brokers,
      consumerGroup: kafka.group,
      topic: kafka.topic,
      lagThreshold: String(bounds.lagPerReplica),
      offsetResetPolicy: t.source.start,
      // More pods than partitions would sit idle: KEDA caps at the partition count too.
      allowIdleConsumers: "false",
    },
    ...(secured ? { authenticationRef: { name: `${name}-kafka-auth` } } : {}),
  };
  files.set(
    "scaledobject.yaml",
    stringify({
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: meta(name),
      spec: {
        scaleTargetRef: { name },
        minReplicaCount: bounds.min,
        maxReplicaCount: bounds.max,
        pollingInterval: 15,
        cooldownPeriod: 300,
        // Hysteresis like the local supervisor: scale up quickly, scale down only after lag stays low.
        advanced: {
          horizontalPodAutoscalerConfig: {
            behavior: {
              scaleUp: { stabilizationWindowSeconds: 30, policies: [{ type: "Pods", value: 2, periodSeconds: 30 }] },
              scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Pods", value: 1, periodSeconds: 120 }] },
            },
          },
        },
        triggers: [trigger],
      },
    }),
  );

  if (secured) {
    files.set(
      "triggerauthentication.yaml",
      stringify({
        apiVersion: "keda.sh/v1alpha1",
        kind: "TriggerAuthentication",
        metadata: meta(`${name}-kafka-auth`),
        spec: {
          // KEDA reads the same secret the workers get; keys: sasl, username, password, tls, ca, cert, key.
          secretTargetRef: ["sasl", "username", "password", "tls"].map((p) => ({ parameter: p, name: secretName, key: `KEDA_KAFKA_${p.toUpperCase()}` })),
        },
      }),
    );
  }
  return files;
}

function selector(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": "topofleet", "app.kubernetes.io/instance": name };
}
