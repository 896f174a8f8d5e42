import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

// This machine has no container engine, so the compose file, Dockerfile and manifests are checked
// statically: they must still be right for a user who has Docker or a cluster.
const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('given docker-compose.yml', async () => {
  const compose = parse(await read('docker-compose.yml'), { merge: true }) as { services: Record<string, any> };
  const { services } = compose;

  it('runs Postgres, NATS with JetStream fsyncing every write, Redis and the three roles', () => {
    expect(Object.keys(services).sort()).toEqual(['command', 'nats', 'postgres', 'query', 'redis', 'worker']);
    const natsCommand = services.nats.command.join(' ');
    expect(natsCommand).toContain('-js');
    expect(natsCommand).toMatch(/--sync always/);
    expect(services.command.environment.ROLE).toBe('command');
    expect(services.query.environment.ROLE).toBe('query');
    expect(services.worker.environment.ROLE.split(',').sort()).toEqual(['projector', 'relay']);
  });

  it('gives every service a health check and starts the roles only after their dependencies are healthy', () => {
    for (const [name, service] of Object.entries(services)) expect(service.healthcheck?.test, name).toBeDefined();
    expect(services.command.depends_on.postgres.condition).toBe('service_healthy');
    expect(services.worker.depends_on.nats.condition).toBe('service_healthy');
    expect(services.query.depends_on.redis.condition).toBe('service_healthy');
  });

  it('points the roles at the compose services and requires a JWT secret', () => {
    for (const role of ['command', 'query', 'worker']) {
      const env = services[role].environment;
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(env.NATS_URL).toBe('nats://nats:4222');
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?/);
      expect(env.NODE_ENV).toBe('production');
    }
  });
});

describe('given the Dockerfile', async () => {
  const dockerfile = await read('Dockerfile');

  it('builds in one stage and runs from a second, as a non-root user, with production dependencies only', () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];
    expect(stages.map((stage) => stage[2])).toEqual(['build', 'runtime']);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/COPY --from=build/);
  });

  it('compiles to dist/ in the build stage and runs the compiled JavaScript, with no TypeScript loader', () => {
    const [build, runtime] = dockerfile.split(/^FROM\s+\S+\s+AS\s+runtime$/m) as [string, string];
    expect(build).toMatch(/^RUN .*npm run build/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).not.toMatch(/COPY --from=build \/app\/src/);
    // The migrations the command role applies at start are read from prisma/ at run time.
    expect(runtime).toMatch(/^COPY prisma \.\/prisma$/m);
    const cmd = /^CMD\s+(\[.*\])$/m.exec(runtime);
    expect(JSON.parse(cmd![1]!)).toEqual(['node', 'dist/main.js']);
    expect(runtime).not.toMatch(/tsx/);
  });

  it('builds what package.json starts: npm start runs dist/main.js after a build', async () => {
    const { scripts } = JSON.parse(await read('package.json')) as { scripts: Record<string, string> };
    expect(scripts.start).toBe('node dist/main.js');
    expect(scripts.prestart).toBe('npm run build');
    const tsconfig = await read('tsconfig.build.json');
    expect(tsconfig).toMatch(/"outDir": "dist"/);
  });
});

describe('given the Kubernetes manifests', async () => {
  const kustomization = parse(await read('deploy/k8s/kustomization.yaml')) as { resources: string[] };
  const documents = (
    await Promise.all(kustomization.resources.map(async (file) => parseAllDocuments(await read(`deploy/k8s/${file}`)).map((doc) => doc.toJS())))
  ).flat();
  const ofKind = (kind: string) => documents.filter((doc) => doc.kind === kind);
  const deployment = (name: string) => ofKind('Deployment').find((doc) => doc.metadata.name === `orders-${name}`);

  it('parses every listed file', () => {
    expect(documents.length).toBeGreaterThan(5);
    for (const doc of documents) expect(doc.apiVersion && doc.kind && doc.metadata?.name).toBeTruthy();
  });

  it('runs 3 command replicas, 5 query replicas and projectors, each with its role', () => {
    expect(deployment('command')?.spec.replicas).toBe(3);
    expect(deployment('query')?.spec.replicas).toBe(5);
    expect(deployment('projector')?.spec.replicas).toBeGreaterThanOrEqual(1);
    const role = (name: string) => deployment(name)!.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROLE').value;
    expect([role('command'), role('query'), role('projector')]).toEqual(['command', 'query', 'relay,projector']);
  });

  it('gives every deployment probes on /readyz and /healthz, resources, config and a disruption budget', () => {
    for (const dep of ofKind('Deployment')) {
      const container = dep.spec.template.spec.containers[0];
      expect(container.readinessProbe.httpGet.path, dep.metadata.name).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path, dep.metadata.name).toBe('/healthz');
      expect(container.resources.requests.cpu && container.resources.limits.memory, dep.metadata.name).toBeTruthy();
      expect(container.envFrom.map((source: any) => Object.keys(source)[0]).sort()).toEqual(['configMapRef', 'secretRef']);
      expect(dep.spec.selector.matchLabels).toEqual(dep.spec.template.metadata.labels);
      const budget = ofKind('PodDisruptionBudget').find((pdb) => pdb.metadata.name === dep.metadata.name);
      expect(budget?.spec.selector.matchLabels, dep.metadata.name).toEqual(dep.spec.selector.matchLabels);
    }
  });

  it('exposes the command and query services and keeps the stream at 3 JetStream replicas', () => {
    const services = ofKind('Service').map((svc) => svc.metadata.name).sort();
    expect(services).toEqual(['orders-command', 'orders-query']);
    const config = ofKind('ConfigMap')[0];
    expect(config.data.NATS_REPLICAS).toBe('3');
  });
});
