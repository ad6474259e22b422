import type { Decision } from '../common/contracts.js';

/** Facts shown in a remediation's details: those the decision recorded, at most this many. */
const MAX_FACTS = 12;

/**
 * One line for the Temporal UI's workflow list: what is done to what, and why.
 * e.g. "scale_out checkout/pod-1 — rule cpu-saturation-scale-out, incident cpu_saturation (0.93)"
 */
export function remediationSummary(d: Decision): string {
  const incident = d.incident ? `, incident ${d.incident.class} (${d.incident.confidence.toFixed(2)})` : '';
  const mode = d.mode === 'shadow' ? ' [shadow]' : d.approval === 'required' ? ' [needs approval]' : '';
  return `${d.action} ${d.entity} — rule ${d.rule}${incident}${mode}`;
}

/**
 * The workflow's details (Temporal markdown): entity, action and its arguments, rule, the facts
 * that triggered it with their values, the incident class and confidence, and how it is verified.
 * Built from the decision only: no secrets (actuator credentials never reach a decision).
 */
export function remediationDetails(d: Decision): string {
  const facts = Object.entries(d.facts)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
    .slice(0, MAX_FACTS)
    .map(([k, v]) => `\`${k}\` = ${typeof v === 'number' ? round(v) : JSON.stringify(v)}`);
  const lines = [
    `**${d.action}** on **${d.entity}** by rule **${d.rule}** (${d.mode}, approval ${d.approval}, cooldown ${d.cooldown})`,
    `- args: \`${JSON.stringify(d.args)}\` via the ${d.actuator.type} actuator`,
    `- triggered by: ${facts.length > 0 ? facts.join(', ') : '(no recorded facts)'}`,
    `- incident: ${d.incident ? `${d.incident.class}, confidence ${d.incident.confidence.toFixed(2)} (model ${d.incident.modelVersion})${d.incident.reason ? `; abstained: ${d.incident.reason}` : ''}` : 'no classifier (rules only)'}`,
    `- verified when the verify conditions hold for ${d.verify.stableFor} within ${d.verify.within}` +
      (d.onVerifyFailure ? `; else ${d.onVerifyFailure.action}` : '') +
      (d.escalate ? `, then ${d.escalate.action}` : ''),
    `- window ${new Date(d.window.start).toISOString()} – ${new Date(d.window.end).toISOString()}, decision ${d.decisionId}`,
  ];
  if (d.runbooks && d.runbooks.length > 0) {
    lines.push(`- runbooks: ${d.runbooks.map((r) => `[${r.title}](${r.link})`).join(', ')}`);
  }
  return lines.join('\n');
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}
