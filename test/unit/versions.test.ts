import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { KAFKA_VERSION } from '../../infra/kafka.js';
import { repoRoot } from '../../infra/paths.js';
import { VERSIONS } from '../../infra/versions.js';

const read = (...p: string[]) => fs.readFileSync(path.join(repoRoot, ...p), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, { image?: string; command?: string[]; build?: unknown }>;
};
const pkg = JSON.parse(read('package.json')) as { version: string };

/** The versions a docker-compose.yml and the pom name, checked against infra/versions.json. */
function versionProblems(c: typeof compose, pom: string): string[] {
  const problems: string[] = [];
  const wanted: Record<string, string> = {
    kafka: `apache/kafka:${VERSIONS.kafka}`,
    temporal: `temporalio/temporal:${VERSIONS.temporalCli}`,
  };
  for (const [service, image] of Object.entries(wanted))
    if (c.services[service]?.image !== image)
      problems.push(
        `docker-compose.yml: ${service} runs ${c.services[service]?.image}, infra/versions.json says ${image}`,
      );
  const pomKafka = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (pomKafka !== VERSIONS.kafka)
    problems.push(
      `infra/kafka/pom.xml: kafka.version ${pomKafka}, infra/versions.json says ${VERSIONS.kafka}`,
    );
  return problems;
}

describe('one source of versions (infra/versions.json)', () => {
  it('docker-compose.yml and the Kafka pom name the versions infra/ provisions', () => {
    assert.equal(KAFKA_VERSION, VERSIONS.kafka, 'infra/kafka.ts reads it');
    assert.deepEqual(versionProblems(compose, read('infra', 'kafka', 'pom.xml')), []);
  });

  it('fails when docker-compose.yml names another version (the 4.1.0 / 1.5.1 it used to name)', () => {
    const stale = structuredClone(compose);
    stale.services.kafka!.image = 'apache/kafka:4.1.0';
    stale.services.temporal!.image = 'temporalio/temporal:1.5.1';
    const problems = versionProblems(stale, read('infra', 'kafka', 'pom.xml'));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /kafka runs apache\/kafka:4\.1\.0, infra\/versions\.json says apache\/kafka:/);
    assert.match(
      versionProblems(compose, '<kafka.version>0.0.1</kafka.version>')[0]!,
      /pom\.xml: kafka\.version 0\.0\.1/,
    );
  });

  it('runs the four steps as separate services from the project image, each with its own ops port', () => {
    const image = `open-autoglm:${pkg.version}`;
    const ports = new Set<unknown>();
    for (const step of ['sense', 'decide', 'act', 'verify']) {
      const s = compose.services[step] as {
        image?: string;
        command?: string[];
        environment?: Record<string, unknown>;
      };
      assert.equal(s.image, image, step);
      assert.deepEqual(s.command, [step]);
      ports.add(s.environment?.AUTOGLM_OPS_PORT);
    }
    assert.equal(ports.size, 4, 'host network: one ops port each');
    assert.ok(
      Object.values(compose.services).some((s) => s.image === image && s.build),
      'one service builds it',
    );
    assert.match(read('Dockerfile'), /^ARG BASE=local\/debian:(\S+)$/m);
    assert.equal(/^ARG BASE=local\/debian:(\S+)$/m.exec(read('Dockerfile'))?.[1], VERSIONS.debian);
  });
});
