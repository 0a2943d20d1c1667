/**
 * Cross-checks Warren's spec/amqp-0-9-1.json against RabbitMQ's own amqp-rabbitmq-0.9.1.json (the
 * facts) — class/method ids, synchronous and content flags, field names (via rabbitName) and wire
 * types, default values, basic properties, frame constants and reply codes — and checks that
 * src/core/reply-code.ts (over the generated reply codes) agrees with the spec's values and soft/hard classes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHardError, ReplyCode } from '../../../src/core/reply-code.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const referencePath = resolve(repoRoot, '..', 'shared', 'reference', 'amqp-rabbitmq-0.9.1.json');
const hasReference = existsSync(referencePath);

interface OurField { name: string; type: string; domain: string; rabbitName?: string; reserved?: boolean; default?: unknown }
interface OurMethod { name: string; id: number; synchronous: boolean; content: boolean; responses: string[]; fields: OurField[] }
interface OurClass { name: string; id: number; methods: OurMethod[]; properties?: { name: string; type: string }[] }
interface OurSpec { classes: OurClass[]; constants: { name: string; value: number }[]; replyCodes: { name: string; value: number; class: string }[]; domains: { name: string; type: string }[] }

interface RabbitArg { name: string; type?: string; domain?: string; 'default-value'?: unknown }
interface RabbitMethod { name: string; id: number; arguments: RabbitArg[]; synchronous?: boolean; content?: boolean }
interface RabbitClass { name: string; id: number; methods: RabbitMethod[]; properties?: { name: string; type: string }[] }
interface RabbitSpec { domains: [string, string][]; constants: { name: string; value: number; class?: string }[]; classes: RabbitClass[] }

const ours = JSON.parse(readFileSync(join(repoRoot, 'spec', 'amqp-0-9-1.json'), 'utf8')) as OurSpec;

const title = hasReference
  ? `spec/amqp-0-9-1.json vs RabbitMQ's ${referencePath}`
  : `spec/amqp-0-9-1.json vs RabbitMQ's JSON — SKIPPED: reference not found at ${referencePath}`;

describe.skipIf(!hasReference)(title, () => {
  const ref = hasReference ? (JSON.parse(readFileSync(referencePath, 'utf8')) as RabbitSpec) : undefined;
  const refDomains = new Map(ref?.domains ?? []);
  const refType = (a: RabbitArg): string => a.type ?? refDomains.get(a.domain ?? '') ?? '?';

  it('has exactly the same classes and method ids', () => {
    const key = (c: { name: string; id: number; methods: { name: string; id: number }[] }): string[] =>
      c.methods.map((m) => `${c.name}(${c.id}).${m.name}(${m.id})`);
    expect(ours.classes.flatMap(key).sort()).toEqual(ref!.classes.flatMap(key).sort());
  });

  for (const rc of ref?.classes ?? []) {
    for (const rm of rc.methods) {
      it(`${rc.name}.${rm.name}: flags, field names, types and defaults`, () => {
        const oc = ours.classes.find((c) => c.name === rc.name)!;
        const om = oc.methods.find((m) => m.name === rm.name)!;
        expect(om.synchronous).toBe(rm.synchronous === true);
        expect(om.content).toBe(rm.content === true);
        expect(om.fields.map((f) => f.rabbitName ?? f.name)).toEqual(rm.arguments.map((a) => a.name));
        expect(om.fields.map((f) => f.type)).toEqual(rm.arguments.map(refType));
        expect(om.fields.map((f) => f.default)).toEqual(rm.arguments.map((a) => a['default-value']));
        for (const r of om.responses) expect(oc.methods.some((m) => m.name === r)).toBe(true);
      });
    }
  }

  it('basic content properties: same 14, same order and types', () => {
    const refProps = ref!.classes.find((c) => c.name === 'basic')!.properties!;
    const ourProps = ours.classes.find((c) => c.name === 'basic')!.properties!;
    expect(ourProps.map((p) => [p.name, p.type])).toEqual(refProps.map((p) => [p.name, p.type]));
    expect(ourProps).toHaveLength(14);
    for (const c of ref!.classes) if (c.name !== 'basic') expect(c.properties ?? []).toEqual([]);
  });

  it('frame constants and reply codes (value and soft/hard class)', () => {
    const refConsts = ref!.constants.map((c) => {
      const name = c.name.toLowerCase();
      const cls = c.class === 'soft-error' ? 'soft' : c.class === 'hard-error' ? 'hard' : undefined;
      return { name, value: c.value, cls };
    });
    const ourAll = [
      ...ours.constants.map((c) => ({ name: c.name, value: c.value, cls: undefined as string | undefined })),
      ...ours.replyCodes.map((r) => ({ name: r.name, value: r.value, cls: r.class === 'success' ? undefined : r.class })),
    ];
    const sort = (a: { name: string }[]): { name: string }[] => [...a].sort((x, y) => x.name.localeCompare(y.name));
    expect(sort(ourAll)).toEqual(sort(refConsts));
  });

  it('domains resolve to the same wire types where RabbitMQ defines them', () => {
    for (const d of ours.domains) {
      const r = refDomains.get(d.name);
      if (r !== undefined) expect([d.name, d.type]).toEqual([d.name, r]);
    }
  });
});

describe('src/core/reply-code.ts agrees with the spec', () => {
  it('same names and values', () => {
    const fromSpec = Object.fromEntries(ours.replyCodes.map((r) => [r.name.toUpperCase().replace(/-/g, '_'), r.value]));
    expect(ReplyCode).toEqual(fromSpec);
  });

  it('same soft/hard classes', () => {
    for (const r of ours.replyCodes) {
      if (r.class === 'success') continue;
      expect([r.name, isHardError(r.value)]).toEqual([r.name, r.class === 'hard']);
    }
  });
});
