/** A tool the infra needs is missing; `hint` says what to install. */
export class PrerequisiteError extends Error {
  constructor(
    readonly tool: string,
    readonly hint: string,
  ) {
    super(`${tool} is required but was not found. ${hint}`);
    this.name = 'PrerequisiteError';
  }
}

/** Provisioning (download/build) of a component failed; `logPath` holds the tool's output. */
export class ProvisionError extends Error {
  constructor(
    readonly component: string,
    message: string,
    readonly logPath?: string,
  ) {
    super(`${component}: ${message}${logPath ? ` (see ${logPath})` : ''}`);
    this.name = 'ProvisionError';
  }
}

/** A component did not become healthy in time; `logPath` is where to look. */
export class HealthTimeoutError extends Error {
  constructor(
    readonly component: string,
    readonly endpoint: string,
    readonly timeoutMs: number,
    readonly logPath: string,
    readonly lastError?: string,
  ) {
    super(
      `${component} did not answer at ${endpoint} within ${Math.round(timeoutMs / 1000)}s` +
        `${lastError ? ` (last error: ${lastError})` : ''}; see its log: ${logPath}`,
    );
    this.name = 'HealthTimeoutError';
  }
}

/** An endpoint given in the environment does not answer; autoglm never starts those itself. */
export class UnreachableError extends Error {
  constructor(
    readonly component: string,
    readonly endpoint: string,
    readonly envVar: string,
  ) {
    super(
      `${component} does not answer at ${endpoint} (from ${envVar}): start it, ` +
        `or unset ${envVar} to let autoglm provision and run one locally`,
    );
    this.name = 'UnreachableError';
  }
}
