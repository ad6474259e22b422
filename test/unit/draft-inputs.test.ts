/**
 * `autoglm rules draft` on bad input and through its CLI: an empty sentence, another language,
 * an unknown metric or service (the nearest known names suggested), a threshold whose unit
 * matters and is missing; quantities in English and Chinese; nothing written while a question is
 * open, a written draft that `rules check` and `rules test` accept, and --force.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { draftCommand } from '../../cli/draft-command.js';
import { rulesCommand } from '../../cli/rules-commands.js';
import { repoRoot } from '../../infra/paths.js';
import { Drafter } from '../../services/draft/drafter.js';
import { durationsIn, numberValue } from '../../services/draft/quantities.js';

const rulesDir = path.join(repoRoot, 'rules');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'draft-inputs-'));
let drafter: Drafter;
before(async () => {
  drafter = await Drafter.load({ rulesDir });
});
after(async () => {
  await drafter.release();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const questionsOf = async (sentence: string) => (await drafter.draft(sentence)).questions;
const capture = () => {
  const lines: string[] = [];
  return { lines, io: { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) } };
};

describe('rules draft: bad input', () => {
  it('refuses an empty sentence with an example', async () => {
    for (const s of ['', '   ']) {
      const d = await drafter.draft(s);
      assert.match(d.error ?? '', /empty sentence.*for example/);
      assert.equal(d.rule, undefined);
    }
  });

  it('refuses a sentence in a language it does not read', async () => {
    for (const s of [
      'redémarrer payments quand la mémoire dépasse 90% pendant 5 minutes',
      'payments のメモリが 90% を超えたら再起動する',
      'перезапустить payments, когда память выше 90%',
      'starte payments neu wenn der Speicher lange voll bleibt und niemand reagiert',
    ]) {
      const d = await drafter.draft(s);
      assert.match(d.error ?? '', /English or Chinese/, s);
      assert.equal(d.rule, undefined);
    }
  });

  it('refuses a sentence over the length limit and asks the action under the confidence floor (both knobs)', async () => {
    const strict = await Drafter.load({ rulesDir, maxSentenceChars: 40, minIntentConfidence: 0.9999 });
    try {
      const long = await strict.draft('Restart payments when memory stays above 90% for 5 minutes.');
      assert.match(long.error ?? '', /at most 40 \(AUTOGLM_DRAFT_MAX_SENTENCE_CHARS\)/);
      const unsure = await strict.draft('Restart payments when memory > 90%');
      assert.match(unsure.questions[0]?.question ?? '', /^Which action: restart \(\d+%\) or/);
      assert.equal(unsure.questions[0]?.slot, 'intent');
    } finally {
      await strict.release();
    }
  });

  it('refuses a missing intent model with the command that makes one', async () => {
    await assert.rejects(
      Drafter.load({ rulesDir, modelDir: path.join(tmp, 'no-model') }),
      /intent model: no such model folder.*autoglm rules draft --train/,
    );
  });

  it('asks about an unknown metric, naming the known ones', async () => {
    for (const s of [
      'Scale out checkout when queue depth is above 500.',
      'checkout 队列长度超过 500 时扩容',
    ]) {
      const q = (await questionsOf(s)).find((x) => x.slot === 'metric');
      assert.ok(q, s);
      assert.match(q.question, /cpu, mem, disk, latency, errors/);
    }
  });

  it('asks about an unknown service with the nearest catalog name', async () => {
    const typo = (await questionsOf('Scale out paymnts when CPU is above 85%.')).find(
      (x) => x.slot === 'entity',
    );
    assert.match(
      typo?.question ?? '',
      /Unknown service "paymnts" \(did you mean "payments"\?\).*checkout, payments, search, batch/,
    );
    const zh = (await questionsOf('inventory 的错误率超过每秒 5 个时回滚')).find((x) => x.slot === 'entity');
    assert.match(zh?.question ?? '', /Unknown service "inventory"/);
    const none = (await questionsOf('Scale out when CPU goes above 90%.')).find((x) => x.slot === 'entity');
    assert.match(none?.question ?? '', /Which entities/);
  });

  it('asks for the unit of a threshold whose unit matters, and refuses a wrong one', async () => {
    const latency = (await questionsOf('Page the owner of search when latency is over 800.')).find(
      (x) => x.slot === 'threshold',
    );
    assert.match(latency?.question ?? '', /milliseconds or seconds\? Write "800ms" or "800s"/);
    const errors = (await questionsOf('payments 错误率超过 5 个时回滚')).find((x) => x.slot === 'threshold');
    assert.match(errors?.question ?? '', /per second or per minute/);
    const percent = (await questionsOf('Restart payments when memory is above 300 ms.')).find(
      (x) => x.slot === 'threshold',
    );
    assert.match(percent?.question ?? '', /percent/);
    // CPU is a percentage: a bare number needs no unit.
    const cpu = await drafter.draft('Scale out checkout when CPU is above 90.');
    assert.equal(cpu.slots?.threshold?.value, 90);
    assert.deepEqual(cpu.questions, []);
  });

  it('normalizes units and durations in English and Chinese', async () => {
    assert.equal(numberValue('五'), 5);
    assert.equal(numberValue('十五'), 15);
    assert.equal(numberValue('twenty five'), 25);
    assert.deepEqual(
      durationsIn('for five minutes, 五分钟, 半小时, 90 seconds, an hour').map((d) => d.ms),
      [300_000, 300_000, 1_800_000, 90_000, 3_600_000],
    );
    const d = await drafter.draft('Roll back payments when errors exceed 300 per minute after a deploy.');
    assert.equal(d.slots?.threshold?.value, 5);
    const zh = await drafter.draft('search 的 p95 延迟超过 1.5 秒持续五分钟时通知负责人');
    assert.equal(zh.slots?.threshold?.value, 1500);
    assert.equal(zh.slots?.for?.value, '5m');
    assert.equal(zh.slots?.stat?.value, 'p95');
  });
});

describe('rules draft: the command', () => {
  it('writes nothing while a question is open, and --force cannot fill a required slot', async () => {
    const out = path.join(tmp, 'open');
    const { lines, io } = capture();
    assert.equal(await draftCommand(['Restart payments when memory is high.', '--out', out], io), 1);
    assert.ok(lines.some((l) => l.startsWith('? threshold:')));
    assert.ok(lines.some((l) => l.startsWith('nothing written')));
    assert.equal(
      await draftCommand(['Restart payments when memory is high.', '--out', out, '--force'], capture().io),
      1,
    );
    assert.equal(fs.existsSync(out), false);
  });

  it('writes a complete draft that rules check and rules test accept unchanged, and explains it', async () => {
    const out = path.join(tmp, 'complete');
    fs.cpSync(path.join(rulesDir, 'context'), path.join(out, 'context'), { recursive: true });
    const { lines, io } = capture();
    const sentence =
      'scale out checkout when cpu stays far above its normal for 5 minutes, unless it is in maintenance; if it is not back within 10 minutes, scale back in and page the owner';
    // A rules folder of its own (the catalog, no other rule): the starter CPU rule would fire on its case too.
    assert.equal(
      await draftCommand([sentence, '--out', out, '--rules', out, '--explain'], io),
      0,
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /intent: +scale out \(scale_out\), p = 0\.9/.test(l)),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => /threshold +4\.5 .*← "far above its normal"/.test(l)));
    assert.ok(lines.some((l) => /compensation +scale_in .*← "scale back in"/.test(l)));
    const rule = JSON.parse(fs.readFileSync(path.join(out, 'checkout-cpu-deviation-scale-out.json'), 'utf8'));
    assert.equal(rule.event.params.for, '5m');
    assert.equal(rule.event.params.verify.within, '10m');
    assert.equal(rule.event.params.onVerifyFailure.action, 'scale_in');
    assert.equal(rule.event.params.escalate.args.owner, '{{owner}}');
    assert.equal(await rulesCommand(['check', out], capture().io), 0);
    const tested = capture();
    assert.equal(await rulesCommand(['test', out], tested.io), 0, tested.lines.join('\n'));
    assert.ok(
      tested.lines.some((l) => /3 passed, 0 failed/.test(l)),
      tested.lines.join('\n'),
    );
  });

  it('names the starter rule that fires on the same case, and the starter cases the draft would change', async () => {
    const { lines, io } = capture();
    const out = path.join(tmp, 'overlap');
    assert.equal(
      await draftCommand(['Scale out checkout when CPU is far above its normal.', '--out', out], io),
      0,
    );
    assert.ok(
      lines.some((l) => /also fires cpu-saturation-scale-out/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /existing rule test case\(s\).*cpu-saturation-scale-out\.test\.json/.test(l)),
    );
    const tests = JSON.parse(
      fs.readFileSync(path.join(out, 'checkout-cpu-deviation-scale-out.test.json'), 'utf8'),
    );
    assert.deepEqual(tests.cases[0].expect.map((e: { rule: string }) => e.rule).sort(), [
      'checkout-cpu-deviation-scale-out',
      'cpu-saturation-scale-out',
    ]);
  });

  it('drafts a file of sentences, one per line, and reports each', async () => {
    const file = path.join(tmp, 'sentences.txt');
    fs.writeFileSync(
      file,
      '# policies\n当 payments 的错误率在发布后 3 分钟内超过每秒 5 个时回滚,需要审批,失败则通知负责人\n\nRestart or scale out checkout when memory is above 90%.\n',
    );
    const out = path.join(tmp, 'file');
    const { lines, io } = capture();
    assert.equal(await draftCommand(['--file', file, '--out', out], io), 1);
    assert.ok(
      lines.some((l) => l.startsWith('? intent:')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => /AUTOGLM_WINDOW to 3m/.test(l)));
    assert.ok(lines.some((l) => /^\s*1 of 2 drafted and written$/.test(l)));
    const rule = JSON.parse(
      fs.readFileSync(path.join(out, 'payments-errors-after-deploy-rollback.json'), 'utf8'),
    );
    assert.equal(rule.event.params.approval, 'required');
    assert.deepEqual(
      rule.conditions.all.find((c: { fact: string }) => c.fact === 'eventKinds'),
      { fact: 'eventKinds', operator: 'contains', value: 'deploy' },
    );
  });

  it('with --force writes a draft that still has a question, and says so', async () => {
    const out = path.join(tmp, 'forced');
    const { lines, io } = capture();
    await draftCommand(
      ['Clean up the disk on batch when disk usage is above 85%, 10 minutes.', '--out', out, '--force'],
      io,
    );
    assert.ok(
      lines.some((l) => l.startsWith('? duration:')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /--force: with the questions/.test(l)),
      lines.join('\n'),
    );
    assert.equal(fs.readdirSync(out).filter((f) => f.endsWith('.json')).length, 2);
  });
});
