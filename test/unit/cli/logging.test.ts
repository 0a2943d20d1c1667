/**
 * The log level control (logging.ts) that PUT /api/warren/log-level uses: pino fixes a child's
 * level when the child is created, so the control must reach children that already exist (a
 * connection's logger) as well as the root and children created later.
 */
import { describe, expect, it } from 'vitest';
import { createLogging } from '../../../src/cli/logging.js';

describe('log level control', () => {
  it('changes the root, existing children (and their children) and later children', async () => {
    const logging = await createLogging({ level: 'info', format: 'json', fileSize: 0, fileCount: 0 });
    const child = logging.logger.child({ conn: 1 });
    const grandchild = child.child({ channel: 1 });
    expect(child.isLevelEnabled('debug')).toBe(false);
    logging.control.set('debug');
    expect(logging.control.get()).toBe('debug');
    expect(child.isLevelEnabled('debug')).toBe(true);
    expect(grandchild.isLevelEnabled('debug')).toBe(true);
    expect(logging.logger.child({ conn: 2 }).isLevelEnabled('debug')).toBe(true);
    logging.control.set('error');
    expect(child.isLevelEnabled('warn')).toBe(false);
    expect(logging.control.levels).toContain('silent');
    await logging.close();
  });
});
