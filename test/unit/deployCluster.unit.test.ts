import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';

// The clustered setups, checked statically as the single-server ones are (no container engine here).
const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('given docker-compose.yml with docker-compose.cluster.yml over it', async () => {
  const base = parse(await read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const cluster = parse(await read('docker-compose.cluster.yml'), { merge: true }) as { services: Record<string, any> };
  // Compose merges an override's mappings into the base service's, key by key.
  const merged = (name: string) => ({ ...base.services[name], ...cluster.services[name], environment: { ...base.services[name]?.environment, ...cluster.services[name]?.environment } });

  it('runs three NATS servers in one JetStream cluster, each routed to the other two', () => {
    const nodes = ['nats', 'nats-2', 'nats-3'];
    for (const node of nodes) {
      const args = cluster.services[node].command.join(' ');
      expect(args).toContain('-js');
      expect(args).toMatch(/--sync always/);
      expect(args).toMatch(/--cluster_name orders/);
      const routes = /--routes (\S+)/.exec(args)![1]!.split(',');
      expect(routes.map((route) => route.replace(/^nats:\/\/|:6222$/g, '')).sort()).toEqual(nodes.filter((other) => other !== node));
    }
  });

  it('runs six Redis nodes in cluster mode and joins them once, with a replica each', () => {
    const nodes = Object.keys(cluster.services).filter((name) => /^redis(-\d)?$/.test(name));
    expect(nodes).toHaveLength(6);
    for (const node of nodes) expect(cluster.services[node].command.join(' ')).toContain(`--cluster-enabled yes --cluster-announce-hostname ${node} `);
    const init = cluster.services['redis-cluster-init'].command.join(' ');
    expect(init).toMatch(/--cluster create( redis(-\d)?:6379){6} --cluster-replicas 1/);
    for (const node of nodes) expect(cluster.services['redis-cluster-init'].depends_on[node].condition).toBe('service_healthy');
  });

  it('gives every role a configuration the service accepts: three NATS servers at R3 and the Redis Cluster', () => {
    for (const role of ['command', 'query', 'worker']) {
      const env = { ...merged(role).environment, JWT_SECRET: 'a-secret-of-enough-length' };
      const config = loadConfig(env);
      expect(config.NATS_URL!.split(',')).toHaveLength(3);
      expect(config.NATS_REPLICAS).toBe(3);
      expect(config.REDIS_URL).toBeUndefined();
      expect(config.redis).toHaveLength(6);
      expect(merged(role).depends_on['redis-cluster-init'].condition).toBe('service_completed_successfully');
    }
  });
});

describe('given the clustered Kubernetes overlay', async () => {
  const kustomization = parse(await read('deploy/k8s/clustered/kustomization.yaml')) as { resources: string[]; patches: { patch: string }[] };
  const documents = (
    await Promise.all(kustomization.resources.filter((file) => file !== '../').map(async (file) => parseAllDocuments(await read(`deploy/k8s/clustered/${file}`)).map((doc) => doc.toJS())))
  ).flat();
  const statefulSet = (name: string) => documents.find((doc) => doc.kind === 'StatefulSet' && doc.metadata.name === name);

  it('adds a 3-node NATS and a 6-node Redis Cluster to the base, each behind a headless service and a disruption budget', () => {
    expect(kustomization.resources).toContain('../');
    expect(statefulSet('nats')?.spec.replicas).toBe(3);
    expect(statefulSet('redis')?.spec.replicas).toBe(6);
    for (const name of ['nats', 'redis']) {
      expect(documents.find((doc) => doc.kind === 'Service' && doc.metadata.name === name)?.spec.clusterIP).toBe('None');
      expect(documents.find((doc) => doc.kind === 'PodDisruptionBudget' && doc.metadata.name === name)?.spec.maxUnavailable).toBe(1);
    }
    const natsConf = documents.find((doc) => doc.kind === 'ConfigMap' && doc.metadata.name === 'nats-config').data['nats.conf'] as string;
    expect(natsConf).toMatch(/jetstream \{ store_dir: \/data, sync_interval: always \}/);
    expect(natsConf.match(/nats:\/\/nats-\d\.nats\.orders\.svc:6222/g)).toHaveLength(3);
    expect(documents.find((doc) => doc.kind === 'Job')?.spec.template.spec.containers[0].args.join(' ')).toMatch(/--cluster-replicas 1/);
  });

  it('points the roles at every node, with REDIS_CLUSTER_URLS instead of REDIS_URL', async () => {
    const [base] = parseAllDocuments(await read('deploy/k8s/config.yaml')).map((doc) => doc.toJS());
    const data = { ...base.data } as Record<string, string>;
    for (const op of parse(kustomization.patches[0]!.patch) as { op: string; path: string; value?: string }[]) {
      const key = op.path.replace('/data/', '');
      if (op.op === 'remove') delete data[key];
      else data[key] = op.value!;
    }
    const config = loadConfig({ ...data, JWT_SECRET: 'a-secret-of-enough-length' });
    expect(config.NATS_URL!.split(',')).toHaveLength(3);
    expect(config.NATS_REPLICAS).toBe(3);
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.redis).toHaveLength(6);
  });
});
