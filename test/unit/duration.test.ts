import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../services/common/duration.js';

describe('parseDuration', () => {
  it('reads single and compound units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5s'), 1500);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', '5', 'm', '5 minutes', '-1s', '5x', '1m 30s'])
      assert.equal(parseDuration(bad), undefined, bad);
  });

  it('formats compactly', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(3_600_000), '1h');
  });
});
