import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { emit, deploymentName } from "../../shared/deploy/index.ts";
import { ConfigError } from "../../shared/errors/index.ts";
import { loadTopology } from "../../shared/topology/index.ts";
import { INGEST, PLANTED, REPO, loadIngest } from "./support.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

describe("--emit k8s", async () => {
  const t = await loadIngest();
  const name = deploymentName(t);
  const dir = tempDir("k8s").dir;
  emit("k8s", t, dir, { partitions: 6, image: "registry.example/topofleet:1" });
  const docs = new Map(readdirSync(dir).map((f) => [f, parse(readFileSync(join(dir, f), "utf8"))]));
  const dep = docs.get("deployment.yaml");
  const pod = dep.spec.template.spec;
  const worker = pod.containers[0];

  test("every manifest has apiVersion, kind and metadata.name", () => {
    const kinds = [...docs.values()].map((d) => `${d.apiVersion} ${d.kind}`).sort();
    expect(kinds).toEqual(["apps/v1 Deployment", "keda.sh/v1alpha1 ScaledObject", "policy/v1 PodDisruptionBudget", "v1 ConfigMap", "v1 Service"].sort());
    for (const d of docs.values()) expect(d.metadata.name).toStartWith(name);
  });

  test("probes: liveness /healthz, readiness /readyz on the metrics port", () => {
    expect(worker.livenessProbe.httpGet.path).toBe("/healthz");
    expect(worker.readinessProbe.httpGet.path).toBe("/readyz");
    expect(worker.livenessProbe.httpGet.port).toBe("metrics");
    expect(worker.ports.find((p: { name: string }) => p.name === "metrics").containerPort).toBe(t.http.port);
  });

  test("grace period above the shutdown deadline; resources; one worker per pod; non-root", () => {
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(t.shutdown.deadlineMs);
    expect(worker.resources.requests.cpu).toBeDefined();
    expect(worker.resources.limits.memory).toBeDefined();
    expect(worker.args).toContain("--replicas");
    expect(worker.args[worker.args.indexOf("--replicas") + 1]).toBe("1");
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(worker.envFrom[0].secretRef.name).toBeDefined();
  });

  test("selectors agree across Deployment, Service, PDB; ScaledObject targets the Deployment", () => {
    const sel = dep.spec.selector.matchLabels;
    expect(dep.spec.template.metadata.labels).toMatchObject(sel);
    expect(docs.get("service.yaml").spec.selector).toEqual(sel);
    expect(docs.get("pdb.yaml").spec.selector.matchLabels).toEqual(sel);
    expect(docs.get("scaledobject.yaml").spec.scaleTargetRef.name).toBe(dep.metadata.name);
    expect(docs.get("service.yaml").spec.ports[0].targetPort).toBe("metrics");
  });

  test("the ConfigMap carries the topology file verbatim and the Deployment mounts it", () => {
    const cm = docs.get("configmap.yaml");
    expect(cm.data["ingest.yaml"]).toBe(readFileSync(INGEST, "utf8"));
    const vol = pod.volumes.find((v: { configMap?: { name: string } }) => v.configMap);
    expect(vol.configMap.name).toBe(cm.metadata.name);
    expect(worker.args[0]).toBe("/etc/topofleet/ingest.yaml");
  });

  test("files the topology refers to ship in the ConfigMap at the same relative path", () => {
    const cm = docs.get("configmap.yaml");
    const lookup = readFileSync(join(REPO, "topologies", "lookups", "tenants.json"), "utf8");
    const item = pod.volumes.find((v: { configMap?: unknown }) => v.configMap).configMap.items.find((i: { path: string }) => i.path === "lookups/tenants.json");
    expect(item).toBeDefined();
    expect(cm.data[item.key]).toBe(lookup);
  });

  test("KEDA kafka trigger uses the topology's lag policy, max capped at the partition count", () => {
    const so = docs.get("scaledobject.yaml").spec;
    const trig = so.triggers[0];
    expect(trig.type).toBe("kafka");
    expect(trig.metadata.bootstrapServers).toBe("k1:9092,k2:9092");
    expect(trig.metadata.consumerGroup).toBe((t.source as { group: string }).group);
    expect(trig.metadata.topic).toBe(t.source.topics[0]);
    expect(trig.metadata.lagThreshold).toBe(String(t.concurrency.replicas.lagPerReplica));
    expect(so.minReplicaCount).toBe(t.concurrency.replicas.min);
    expect(so.maxReplicaCount).toBe(Math.min(t.concurrency.replicas.max, 6));
    expect(so.maxReplicaCount).toBeLessThanOrEqual(6);
  });

  test("no secret in any manifest", () => {
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), "utf8")).not.toContain(PLANTED);
  });

  test("a mock-source topology cannot be emitted for Kubernetes", async () => {
    const demo = await loadTopology(join(REPO, "topologies", "demo.yaml"));
    expect(() => emit("k8s", demo, tempDir("k8s-demo").dir)).toThrow(ConfigError);
  });
});
