import fs from 'node:fs';
import { z } from 'zod';
import { ConfigError, type Config } from '../common/config.js';
import { createActuatorRegistry, type ActuatorRegistry } from './actuator.js';
import { commandActuator } from './command.js';
import { headerProblems, httpActuator } from './http.js';

/** Shortest HMAC key accepted: a short key makes the signature guessable. */
const MIN_HMAC_KEY_BYTES = 16;

const headersFileSchema = z.record(z.string(), z.record(z.string(), z.string()));

type ActuatorSettings = Pick<
  Config,
  | 'httpActuatorUrl'
  | 'httpActuatorTimeout'
  | 'httpAllowedOrigins'
  | 'httpHeadersFile'
  | 'actuatorHmacKeyFile'
  | 'actuatorMaxResponseBytes'
  | 'commandDir'
  | 'commandTimeout'
  | 'commandUser'
>;

/**
 * The actuators this deployment may use, built from config: the act worker calls them, decide
 * checks every rule's actuator against them at load. Secrets (per-origin headers, the HMAC key)
 * are read from files here and never logged. Throws one ConfigError listing every problem.
 */
export function actuatorsFromConfig(config: ActuatorSettings): ActuatorRegistry {
  const { registry, problems } = readActuators(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return registry;
}

/**
 * The actuators' files read and checked, with every problem, and a registry built from what was
 * valid (a refused headers file or key left out). With problems, that registry is only for
 * checking rules against the allowlist and the command folder beside the listed problems (decide's
 * start); never call it: actuatorsFromConfig refuses.
 */
export function readActuators(config: ActuatorSettings): {
  readonly registry: ActuatorRegistry;
  readonly problems: readonly string[];
  /** The command folder is refused (its problem is listed): a rule's command cannot be checked. */
  readonly commandDirRefused: boolean;
} {
  const problems: string[] = [];
  const read = (file: string, envName: string): string | undefined => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(`${envName}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };

  let headersByOrigin: Record<string, Record<string, string>> | undefined;
  if (config.httpHeadersFile) {
    const text = read(config.httpHeadersFile, 'AUTOGLM_HTTP_HEADERS_FILE');
    if (text !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        problems.push(
          `AUTOGLM_HTTP_HEADERS_FILE=${config.httpHeadersFile}: not valid JSON; fix the syntax: one object mapping origins to header objects, e.g. {"https://ops.example.com": {"authorization": "Bearer …"}}`,
        );
      }
      const parsed = headersFileSchema.safeParse(json);
      if (json !== undefined && !parsed.success)
        problems.push(
          `AUTOGLM_HTTP_HEADERS_FILE=${config.httpHeadersFile}: must map origins to header objects, e.g. {"https://ops.example.com": {"authorization": "Bearer …"}}`,
        );
      else if (parsed.success) {
        // Its origins and headers now, beside the other files' problems (httpActuator checks them again).
        const bad = headerProblems(parsed.data, `AUTOGLM_HTTP_HEADERS_FILE=${config.httpHeadersFile}`);
        problems.push(...bad);
        if (bad.length === 0) headersByOrigin = parsed.data;
      }
    }
  }

  let hmacKey: Buffer | undefined;
  if (config.actuatorHmacKeyFile) {
    const text = read(config.actuatorHmacKeyFile, 'AUTOGLM_ACTUATOR_HMAC_KEY_FILE');
    if (text !== undefined) {
      const checked = hmacKeyOf(text, config.actuatorHmacKeyFile);
      if (checked.problem) problems.push(checked.problem);
      else hmacKey = checked.key;
    }
  }

  const commandDirRefused =
    config.commandDir !== '' && !fs.statSync(config.commandDir, { throwIfNoEntry: false })?.isDirectory();
  if (commandDirRefused)
    problems.push(
      `AUTOGLM_COMMAND_DIR=${config.commandDir}: not a directory; set it to the folder that holds the allowlisted command actuators, or leave it empty to run no commands`,
    );

  const registry = createActuatorRegistry([
    httpActuator({
      defaultUrl: config.httpActuatorUrl,
      timeoutMs: config.httpActuatorTimeout,
      allowedOrigins: config.httpAllowedOrigins,
      maxResponseBytes: config.actuatorMaxResponseBytes,
      ...(hmacKey ? { hmacKey } : {}),
      ...(headersByOrigin ? { headersByOrigin } : {}),
    }),
    commandActuator({
      dir: config.commandDir,
      timeoutMs: config.commandTimeout,
      maxOutputBytes: config.actuatorMaxResponseBytes,
      ...(config.commandUser ? { runAs: runAsOf(config.commandUser) } : {}),
    }),
  ]);
  return { registry, problems, commandDirRefused };
}

/**
 * The HMAC key in a key file's text (trimmed), and what is wrong with it: a key shorter than
 * MIN_HMAC_KEY_BYTES makes the signature guessable. For the act step and the fleet's control API.
 */
export function hmacKeyOf(text: string, file: string): { key: Buffer; problem?: string } {
  const key = Buffer.from(text.trim(), 'utf8');
  return key.length >= MIN_HMAC_KEY_BYTES
    ? { key }
    : {
        key,
        problem: `AUTOGLM_ACTUATOR_HMAC_KEY_FILE=${file}: the key must be at least ${MIN_HMAC_KEY_BYTES} bytes (for example: openssl rand -hex 32)`,
      };
}

/** `uid:gid` (checked by the config schema) as numbers. */
function runAsOf(user: string): { uid: number; gid: number } {
  const [uid, gid] = user.split(':').map(Number);
  return { uid: uid!, gid: gid! };
}
