import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { localInfra } from '../infra/infra.js';
import { envLines, secureInfra } from '../infra/secure.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

/** `autoglm infra up|down|status|logs [component] [--follow]`. */
export async function infraCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  const withAt = rest.indexOf('--with');
  const withWhat = withAt >= 0 ? rest[withAt + 1] : undefined;
  if (withAt >= 0 && withWhat !== 'prometheus') {
    say('--with: only "prometheus" (Prometheus and Alertmanager from their Debian packages) can be added');
    return 2;
  }
  // Without --with, status and down still take Prometheus and Alertmanager when they run.
  const infra = localInfra(process.env, { withPrometheus: withWhat === 'prometheus' });
  switch (sub) {
    case 'up': {
      const started = Date.now();
      const e = await infra.up(say);
      if (rest.includes('--secure')) {
        // The plaintext broker and Temporal stay as they are; the secured ones come beside them.
        const s = await secureInfra(process.env, e.temporalAddress).up(say);
        say(`secured infra up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        say('# Kafka over SASL_SSL (SCRAM-SHA-512) and Temporal over mTLS:');
        process.stdout.write(`${envLines(s.scram)}\n`);
        say(`# or Kafka over mTLS (client certificate):\n${envLines(s.mtls).replace(/^/gm, '#   ')}`);
        return 0;
      }
      say(`infra up in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      process.stdout.write(`KAFKA_BROKERS=${e.kafkaBrokers}\nTEMPORAL_ADDRESS=${e.temporalAddress}\n`);
      if (e.temporalUi) process.stdout.write(`TEMPORAL_UI=${e.temporalUi}\n`);
      if (e.prometheusUrl)
        process.stdout.write(
          `PROMETHEUS_URL=${e.prometheusUrl}\nALERTMANAGER_URL=${e.alertmanagerUrl}\nAUTOGLM_INGEST_TOKENS_DIR=${e.ingestTokensDir}\nAUTOGLM_INGEST_MAPPINGS_DIR=${e.ingestMappingsDir}\n`,
        );
      return 0;
    }
    case 'down':
      if (rest.includes('--secure')) await secureInfra().down(say);
      else await infra.down(say);
      return 0;
    case 'status': {
      const rows = [
        ...(await infra.status()),
        ...(rest.includes('--secure') ? await secureInfra().status() : []),
      ];
      const json = rest.includes('--json');
      if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else {
        for (const r of rows) {
          const mem = r.residentMiB !== undefined ? `  rss=${r.residentMiB}MiB` : '';
          process.stdout.write(
            `${r.name.padEnd(12)} ${r.state.padEnd(8)} ${r.endpoint}${r.external ? ' (external)' : ''}\n          version=${r.version}${r.pid ? `  pid=${r.pid}` : ''}${mem}\n          log=${r.logPath}\n`,
          );
        }
      }
      return rows.every((r) => r.state === 'running') ? 0 : 3;
    }
    case 'logs': {
      const follow = rest.includes('--follow') || rest.includes('-f');
      const names = rest.filter((a) => !a.startsWith('-'));
      const paths = Object.entries(infra.logPaths()).filter(
        ([name]) => names.length === 0 || names.includes(name),
      );
      if (paths.length === 0) {
        say(`no logs yet under ${infra.home}/logs (run: autoglm infra up)`);
        return 1;
      }
      if (follow) {
        const child = spawn('tail', ['-n', '50', '-F', ...paths.map(([, p]) => p)], { stdio: 'inherit' });
        return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 0)));
      }
      for (const [name, p] of paths) {
        const lines = fs.readFileSync(p, 'utf8').split('\n');
        process.stdout.write(`==> ${name}: ${p} <==\n${lines.slice(-50).join('\n')}\n`);
      }
      return 0;
    }
    default:
      say(
        'usage: autoglm infra up [--secure] [--with prometheus] | down [--secure] | status [--json] [--secure] [--with prometheus] | logs [kafka|temporal|prometheus|alertmanager] [--follow]',
      );
      return 2;
  }
}
