import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { containersOf, render, type K8sObject } from '../../deploy/k8s/render.js';
import { RULES_CONFIGMAP_FILE, rulesConfigMapYaml } from '../../deploy/k8s/rules-configmap.js';
import { repoRoot } from '../../infra/paths.js';
import { CONFIG_ENV_NAMES, ConfigError, loadConfig } from '../../services/common/config.js';
import { KAFKA_SECURITY_ENV } from '../../services/common/kafka-security.js';
import { TEMPORAL_SECURITY_ENV } from '../../services/common/temporal-security.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';

const K8S = path.join(repoRoot, 'deploy', 'k8s');
const FOLDERS = ['base', 'overlays/dev', 'overlays/prod'] as const;
const STEPS = ['sense', 'decide', 'act', 'verify'] as const;

/** The model class (Kubernetes API or KEDA schema) of each kind the manifests may hold. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
};

/** Every variable the steps read: loadConfig's and the Kafka and Temporal security parsers'. */
const KNOWN_ENV = new Set([
  ...CONFIG_ENV_NAMES,
  ...Object.values(KAFKA_SECURITY_ENV),
  ...Object.values(TEMPORAL_SECURITY_ENV),
]);

/* Loose shapes of what the checks read; validate() has checked the real shapes. */
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number };
  projected?: {
    sources: Array<{ configMap?: { name: string; items?: Array<{ key: string; path: string }> } }>;
  };
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: Volume[];
}
const podOf = (d: K8sObject) =>
  (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const specOf = <T>(o: K8sObject) => (o as unknown as { spec: T }).spec;
const dataOf = (o: K8sObject) => (o as unknown as { data?: Record<string, string> }).data ?? {};
const find = (objects: readonly K8sObject[], kind: string, name: string) => {
  const hit = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(hit, `${kind} ${name} is rendered`);
  return hit;
};

/** The environment a container gets: its envFrom ConfigMaps' data, then its own env entries. */
function envOf(objects: readonly K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    assert.ok(from.configMapRef, `${c.name}: envFrom only from ConfigMaps (secrets are files)`);
    Object.assign(env, dataOf(find(objects, 'ConfigMap', from.configMapRef.name)));
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? '';
  return env;
}

/**
 * What a Deployment lacks to be run as these steps are: probes on /healthz and /readyz at the ops
 * port, CPU and memory requests and limits, a non-root user, a read-only root file system, no
 * privilege escalation and no capabilities. One line per problem, naming the container and field.
 */
function deploymentProblems(d: K8sObject, opsPort: number): string[] {
  const pod = podOf(d);
  const problems: string[] = [];
  for (const c of pod.containers) {
    const at = `${d.metadata.name}/${c.name}`;
    const port = (p: Probe | undefined) =>
      typeof p?.httpGet?.port === 'number'
        ? p.httpGet.port
        : c.ports?.find((x) => x.name === p?.httpGet?.port)?.containerPort;
    for (const [field, wanted] of [
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      const probe = c[field];
      if (probe?.httpGet?.path !== wanted) problems.push(`${at}: ${field} must GET ${wanted}`);
      else if (port(probe) !== opsPort) problems.push(`${at}: ${field} must use the ops port ${opsPort}`);
    }
    for (const kind of ['requests', 'limits'] as const)
      for (const r of ['cpu', 'memory'])
        if (!c.resources?.[kind]?.[r]) problems.push(`${at}: resources.${kind}.${r} is missing`);
    const sc = c.securityContext ?? {};
    if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot))
      problems.push(`${at}: runAsNonRoot must be true (pod or container)`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation must be false`);
    if (sc.privileged === true) problems.push(`${at}: must not be privileged`);
    if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities.drop must hold ALL`);
  }
  return problems;
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  const rendered = Object.fromEntries(FOLDERS.map((f) => [f, render(path.join(K8S, f))]));

  it('every object of base and each overlay validates against the Kubernetes API and KEDA schemas', () => {
    for (const folder of FOLDERS) {
      const kinds = new Set<string>();
      for (const o of rendered[folder]!) {
        const key = `${o.apiVersion}/${o.kind}`;
        const Model = MODELS[key];
        assert.ok(Model, `${folder}: ${key} has no model here; add its class to MODELS`);
        assert.doesNotThrow(
          () => new Model(o as never).validate(),
          `${folder}: ${o.kind}/${o.metadata.name}`,
        );
        kinds.add(o.kind);
      }
      for (const kind of ['Deployment', 'PodDisruptionBudget', 'ScaledObject', 'NetworkPolicy', 'ConfigMap'])
        assert.ok(kinds.has(kind), `${folder} renders a ${kind}`);
    }
  });

  it('the schema check fails on a malformed object (a replica count as text)', () => {
    const d = structuredClone(find(rendered.base!, 'Deployment', 'autoglm-sense'));
    specOf<{ replicas: unknown }>(d).replicas = 'two';
    assert.throws(() => new Deployment(d as never).validate(), /replicas must be integer/);
  });

  it('runs the four steps as Deployments with probes, limits and the non-root settings, each with a PDB and a ScaledObject', () => {
    for (const folder of FOLDERS) {
      const objects = rendered[folder]!;
      for (const step of STEPS) {
        const d = find(objects, 'Deployment', `autoglm-${step}`);
        const [c] = podOf(d).containers;
        assert.deepEqual(c!.args, [step], `${folder}: ${step} runs its own step`);
        const env = envOf(objects, c!);
        assert.equal(
          env.AUTOGLM_OPS_HOST,
          '0.0.0.0',
          `${folder}: ${step}'s ops server is reachable by kubelet`,
        );
        assert.deepEqual(deploymentProblems(d, Number(env.AUTOGLM_OPS_PORT)), [], folder);
        assert.equal(
          specOf<{ replicas?: number }>(d).replicas,
          undefined,
          `${folder}: ${step}: KEDA owns replicas`,
        );
        const labels = specOf<{ selector: { matchLabels: Record<string, string> } }>(d).selector.matchLabels;
        const pdb = find(objects, 'PodDisruptionBudget', `autoglm-${step}`);
        assert.deepEqual(specOf<{ selector: { matchLabels: object } }>(pdb).selector.matchLabels, labels);
        const so = specOf<{ scaleTargetRef: { name: string } }>(
          find(objects, 'ScaledObject', `autoglm-${step}`),
        );
        assert.equal(so.scaleTargetRef.name, `autoglm-${step}`);
      }
      assert.equal(objects.filter((o) => o.kind === 'Deployment').length, STEPS.length, folder);
    }
  });

  it('the Deployment check fails on a copy that lacks a probe, a limit or a non-root setting', () => {
    const d = find(rendered.base!, 'Deployment', 'autoglm-decide');
    assert.deepEqual(deploymentProblems(d, 9400), []);
    const mutations: Array<[string, (pod: PodSpec, c: Container) => void, RegExp]> = [
      ['no liveness probe', (_, c) => delete c.livenessProbe, /livenessProbe must GET \/healthz/],
      [
        'readiness on /healthz',
        (_, c) => (c.readinessProbe!.httpGet!.path = '/healthz'),
        /readinessProbe must GET \/readyz/,
      ],
      [
        'probe on another port',
        (_, c) => (c.livenessProbe!.httpGet!.port = 8080),
        /livenessProbe must use the ops port/,
      ],
      [
        'no memory limit',
        (_, c) => delete c.resources!.limits!.memory,
        /resources\.limits\.memory is missing/,
      ],
      ['no limits at all', (_, c) => delete c.resources!.limits, /resources\.limits\.cpu is missing/],
      ['no cpu request', (_, c) => delete c.resources!.requests!.cpu, /resources\.requests\.cpu is missing/],
      ['runs as root', (pod) => delete pod.securityContext!.runAsNonRoot, /runAsNonRoot must be true/],
      [
        'writable root',
        (_, c) => (c.securityContext!.readOnlyRootFilesystem = false),
        /readOnlyRootFilesystem/,
      ],
      [
        'escalation',
        (_, c) => delete c.securityContext!.allowPrivilegeEscalation,
        /allowPrivilegeEscalation/,
      ],
      ['caps kept', (_, c) => (c.securityContext!.capabilities = {}), /capabilities\.drop must hold ALL/],
    ];
    for (const [what, mutate, expected] of mutations) {
      const copy = structuredClone(d);
      mutate(podOf(copy), podOf(copy).containers[0]!);
      const problems = deploymentProblems(copy, 9400);
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${what}: ${problems.join('; ') || 'no problem found'}`,
      );
    }
  });

  it('sets only environment variables the config knows, and the plain ones parse', () => {
    for (const folder of FOLDERS) {
      const objects = rendered[folder]!;
      for (const c of containersOf(objects) as unknown as Container[]) {
        const env = envOf(objects, c);
        const unknown = Object.keys(env).filter((name) => !KNOWN_ENV.has(name));
        assert.deepEqual(unknown, [], `${folder}/${c.name}: variables no parser reads`);
        if (folder !== 'overlays/prod') assert.doesNotThrow(() => loadConfig(env), `${folder}/${c.name}`);
      }
    }
    // The same check catches a misspelt variable.
    const objects = structuredClone(rendered['overlays/dev']!);
    const c = podOf(find(objects, 'Deployment', 'autoglm-act')).containers[0]!;
    c.env!.push({ name: 'AUTOGLM_HTTP_ALLOWED_ORIGIN', value: 'http://x:1' });
    assert.deepEqual(
      Object.keys(envOf(objects, c)).filter((name) => !KNOWN_ENV.has(name)),
      ['AUTOGLM_HTTP_ALLOWED_ORIGIN'],
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_OPS_HOST: 'pod.local' }),
      (err: unknown) =>
        err instanceof ConfigError && /AUTOGLM_OPS_HOST="pod.local": must be an IP/.test(err.message),
    );
  });

  it('gives every *_FILE variable a file under a mounted Secret its group may read', () => {
    for (const folder of FOLDERS) {
      const objects = rendered[folder]!;
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        const pod = podOf(d);
        for (const c of pod.containers) {
          const secretMounts = (c.volumeMounts ?? []).filter((m) =>
            pod.volumes?.find((v) => v.name === m.name && v.secret),
          );
          for (const [name, file] of Object.entries(envOf(objects, c)).filter(([n]) => n.endsWith('_FILE'))) {
            assert.ok(
              secretMounts.some((m) => file.startsWith(`${m.mountPath}/`)),
              `${folder}/${c.name}: ${name}=${file} is under no mounted Secret`,
            );
          }
        }
        for (const v of pod.volumes ?? [])
          if (v.secret)
            assert.equal(v.secret.defaultMode, 0o440, `${folder}/${d.metadata.name}: ${v.name} mode`);
      }
    }
  });

  it('scales sense and decide on their consumer groups (no more pods than partitions), act and verify on their task queues', () => {
    for (const folder of FOLDERS) {
      const objects = rendered[folder]!;
      const env = dataOf(find(objects, 'ConfigMap', 'autoglm-env'));
      type Spec = {
        maxReplicaCount: number;
        triggers: Array<{ type: string; metadata: Record<string, string> }>;
      };
      for (const step of ['sense', 'decide'] as const) {
        const so = specOf<Spec>(find(objects, 'ScaledObject', `autoglm-${step}`));
        const [t] = so.triggers;
        assert.equal(t!.type, 'kafka');
        assert.equal(t!.metadata.consumerGroup, `${env.AUTOGLM_GROUP_PREFIX}-${step}`);
        assert.equal(t!.metadata.bootstrapServers, env.KAFKA_BROKERS, `${folder}: ${step}`);
        assert.ok(
          so.maxReplicaCount <= Number(env.AUTOGLM_TOPIC_PARTITIONS),
          `${folder}: ${step} max ≤ partitions`,
        );
      }
      assert.equal(
        specOf<Spec>(find(objects, 'ScaledObject', 'autoglm-decide')).triggers[0]!.metadata.topic,
        `${env.AUTOGLM_TOPIC_PREFIX}.observations`,
      );
      for (const [step, queue] of [
        ['act', env.AUTOGLM_ACT_TASK_QUEUE],
        ['verify', env.AUTOGLM_VERIFY_TASK_QUEUE],
      ] as const) {
        const [t] = specOf<Spec>(find(objects, 'ScaledObject', `autoglm-${step}`)).triggers;
        assert.equal(t!.type, 'temporal');
        assert.equal(t!.metadata.taskQueue, queue);
        assert.equal(t!.metadata.endpoint, env.TEMPORAL_ADDRESS);
        assert.equal(t!.metadata.namespace, env.TEMPORAL_NAMESPACE);
      }
    }
  });

  it('allows egress only to DNS, Kafka, Temporal and the allowlisted actuator origins', () => {
    type Peer = { namespaceSelector?: unknown; podSelector?: unknown; ipBlock?: unknown };
    type Rule = { to?: Peer[]; ports?: Array<{ port: number; protocol: string }> };
    type Policy = {
      podSelector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ values: string[] }> };
      policyTypes: string[];
      egress?: Rule[];
    };
    for (const folder of FOLDERS) {
      const objects = rendered[folder]!;
      const env = dataOf(find(objects, 'ConfigMap', 'autoglm-env'));
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
      const deny = specOf<Policy>(find(objects, 'NetworkPolicy', 'autoglm-default-deny'));
      assert.deepEqual(deny.policyTypes, ['Ingress', 'Egress']);
      assert.equal(deny.egress, undefined, 'the default policy allows nothing');
      const appliesTo = (p: Policy, step: string) =>
        p.podSelector.matchLabels?.['app.kubernetes.io/part-of'] === 'autoglm' ||
        p.podSelector.matchLabels?.['app.kubernetes.io/component'] === step ||
        (p.podSelector.matchExpressions?.[0]?.values.includes(step) ?? false);
      const egressPorts = (step: string) =>
        policies
          .map((o) => specOf<Policy>(o))
          .filter((p) => appliesTo(p, step))
          .flatMap((p) => p.egress ?? [])
          .flatMap((r) => {
            assert.ok(r.to && r.to.length > 0, `${folder}: an egress rule without "to" would allow any host`);
            return (r.ports ?? []).map((x) => x.port);
          });
      const portOf = (hostPort: string) => Number(hostPort.split(':').pop());
      const kafka = portOf(env.KAFKA_BROKERS!.split(',')[0]!);
      const temporal = portOf(env.TEMPORAL_ADDRESS!);
      const actuator = find(objects, 'NetworkPolicy', 'autoglm-actuators');
      const listed = (actuator.metadata.annotations?.['autoglm.io/allowed-origins'] ?? '').split(',');
      const origins = env.AUTOGLM_HTTP_ALLOWED_ORIGINS!.split(',').map((o) => o.trim());
      assert.deepEqual(listed.sort(), [...origins].sort(), `${folder}: the policy lists the allowlist`);
      assert.ok(origins.includes(new URL(env.AUTOGLM_HTTP_ACTUATOR_URL!).origin));
      const originPorts = origins.map((o) => {
        const u = new URL(o);
        return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      });
      const expected: Record<string, number[]> = {
        sense: [53, kafka],
        decide: [53, kafka, temporal],
        act: [53, kafka, temporal, ...originPorts],
        verify: [53, kafka, temporal],
      };
      for (const step of STEPS) {
        assert.deepEqual(
          [...new Set(egressPorts(step))].sort((a, b) => a - b),
          [...new Set(expected[step])].sort((a, b) => a - b),
          `${folder}: ${step}'s egress ports`,
        );
      }
    }
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'manifests-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('carries the rules and their context as ConfigMaps made from rules/, mounted where decide reads them', async () => {
    assert.equal(
      fs.readFileSync(RULES_CONFIGMAP_FILE, 'utf8'),
      rulesConfigMapYaml(),
      'deploy/k8s/base/rules-configmap.yaml is out of date: run npx tsx deploy/k8s/rules-configmap.ts',
    );
    const objects = rendered['overlays/prod']!;
    const decide = find(objects, 'Deployment', 'autoglm-decide');
    const pod = podOf(decide);
    const rulesDir = envOf(objects, pod.containers[0]!).AUTOGLM_RULES_DIR!;
    const mount = pod.containers[0]!.volumeMounts!.find((m) => m.mountPath === rulesDir);
    assert.ok(mount, `a volume is mounted at AUTOGLM_RULES_DIR (${rulesDir})`);
    const sources = pod.volumes!.find((v) => v.name === mount.name)!.projected!.sources;
    // Lay the projected volume out as kubelet would, and load it as decide does.
    for (const { configMap } of sources) {
      const data = dataOf(find(objects, 'ConfigMap', configMap!.name));
      const items = configMap!.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      assert.deepEqual(
        items.map((i) => i.key).sort(),
        Object.keys(data).sort(),
        `every key of ${configMap!.name} is projected (add an item for a new context file)`,
      );
      for (const { key, path: rel } of items) {
        fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
        fs.writeFileSync(path.join(tmp, rel), data[key]!);
      }
    }
    const loaded = await loadRuleSet(tmp);
    assert.deepEqual(loaded.problems, []);
    const shipped = await loadRuleSet(path.join(repoRoot, 'rules'));
    assert.equal(loaded.ruleSet?.hash, shipped.ruleSet?.hash, 'the mounted set is the shipped set');
  });
});
