/**
 * systemd units for running a topology on VMs: a template unit (one worker process per instance, each a
 * consumer-group member with `--replicas 1`) and a target that starts N instances. Scaling on a VM is
 * `systemctl start <name>@{N+1..M}`; the lag policy's bounds are written into the target's comments.
 */
import { basename } from "node:path";
import type { ResolvedTopology } from "../topology/types.ts";
import { deploymentName, scalingBounds, stopTimeoutSeconds } from "./scaling.ts";
import { referencedEnvVars, topologyText } from "./env-vars.ts";

export interface SystemdOptions {
  /** Where the app is installed on the VM. */
  appDir?: string;
  /** Absolute path of the bun binary on the VM. */
  bunPath?: string;
  /** Where the topology file is installed on the VM. */
  configDir?: string;
  /** Unix user the workers run as. */
  user?: string;
  partitions?: number;
}

/** Renders the template unit, the target and an env-file example; returns file name → content. */
export function renderSystemd(t: ResolvedTopology, opts: SystemdOptions = {}): Map<string, string> {
  const name = deploymentName(t);
  const appDir = opts.appDir ?? "/opt/topofleet";
  const bun = opts.bunPath ?? "/usr/local/bin/bun";
  const configDir = opts.configDir ?? "/etc/topofleet";
  const user = opts.user ?? "topofleet";
  const topologyPath = `${configDir}/${basename(t.file)}`;
  const envFile = `${configDir}/${name}.env`;
  const bounds = scalingBounds(t, opts.partitions);
  const files = new Map<string, string>();

  files.set(
    `${name}@.service`,
    `# topofleet worker for topology "${t.name}"; one instance = one worker process = one consumer-group member.
# Install: copy to /etc/systemd/system/, then \`systemctl daemon-reload && systemctl enable --now ${name}.target\`.
[Unit]
Description=topofleet ${t.name} worker %i
Documentation=file://${appDir}/README.md
After=network-online.target
Wants=network-online.target
PartOf=${name}.target
# Give up (and leave the unit failed, for alerting) after 10 crashes in 5 minutes: a crash loop needs a human.
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=simple
User=${user}
Group=${user}
WorkingDirectory=${appDir}
# Secrets (DATABASE_URL, REDIS_URL, SASL passwords) live only here, mode 0600, never in the topology file.
EnvironmentFile=-${envFile}
Environment=NODE_ENV=production
# Each instance serves metrics on http.port + instance number, so instances on one VM don't collide.
Environment=TOPOFLEET_HTTP_PORT_OFFSET=%i
# The instance's static consumer-group identity: a restarted unit takes its partitions back without a rebalance.
Environment=TOPOFLEET_INSTANCE=%H-%i
Environment=TOPOFLEET_DATA_DIR=/var/lib/${name}/%i
ExecStart=${bun} ${appDir}/workers/topology.ts ${topologyPath} --replicas 1
# Restart on crashes with growing delays: 2 s, then up to 60 s (RestartSteps/RestartMaxDelaySec need
# systemd >= 254; older versions ignore them and keep the fixed RestartSec).
Restart=on-failure
RestartSec=2
RestartSteps=5
RestartMaxDelaySec=60
# SIGTERM starts a graceful drain (finish in-flight batches, commit offsets, leave the group); the timeout
# is the topology's shutdown deadline (${t.shutdown.deadlineMs} ms) plus a margin, so systemd never
# SIGKILLs a worker that is still committing.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=${stopTimeoutSeconds(t)}
# Hardening. MemoryDenyWriteExecute is deliberately absent: Bun's JIT needs writable+executable pages.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
StateDirectory=${name}
ReadWritePaths=/var/lib/${name}
LimitNOFILE=65536
TasksMax=512

[Install]
WantedBy=${name}.target
`,
  );

  const instances = Array.from({ length: bounds.min }, (_, i) => `${name}@${i + 1}.service`).join(" ");
  files.set(
    `${name}.target`,
    `# Starts ${bounds.min} worker(s) of topology "${t.name}" (replicas.min).
# Scale by hand within the lag policy: min ${bounds.min}, max ${bounds.max}, one replica per ${bounds.lagPerReplica} messages of lag${
      bounds.cappedFrom !== null ? ` (max capped from ${bounds.cappedFrom} to the topic's ${bounds.max} partitions)` : ""
    }.
#   systemctl start ${name}@{${bounds.min + 1}..${bounds.max}}.service    # scale out
#   systemctl stop  ${name}@${bounds.max}.service                        # scale in (graceful drain)
[Unit]
Description=topofleet ${t.name} fleet
Wants=${instances}

[Install]
WantedBy=multi-user.target
`,
  );

  const vars = referencedEnvVars(topologyText(t.file));
  files.set(
    `${name}.env.example`,
    `# Copy to ${envFile} (chmod 600, owner root) and fill in. Variables the topology references:\n${vars.map((v) => `${v}=`).join("\n")}\n`,
  );
  return files;
}
