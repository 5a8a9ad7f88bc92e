import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { StageConfig } from '../../config/environments.js';
import { PaiStage } from '../../lib/stages/pai-stage.js';

// Offline by construction: no credentials, and any attempt to run Docker fails loudly.
process.env.CDK_DOCKER = '/bin/false';
for (const name of ['AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) delete process.env[name];

export interface SynthesizedStage {
  readonly stage: PaiStage;
  readonly assembly: CloudAssembly;
  readonly network: Template;
  readonly data: Template;
  readonly services: Template;
  readonly observability: Template;
  /** Every resource of every stack of the stage, by logical id (ids are unique across our stacks). */
  readonly resources: Record<string, CfnResourceJson>;
}

export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

const outdirs: string[] = [];
process.on('exit', () => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** Synthesizes one stage exactly as bin/pai.ts does, into a temporary directory. */
export function synthStage(config: StageConfig): SynthesizedStage {
  const outdir = mkdtempSync(join(tmpdir(), 'pai-cdk-'));
  outdirs.push(outdir);
  const app = new App({ outdir });
  const stage = new PaiStage(app, config.name.charAt(0).toUpperCase() + config.name.slice(1), { config });
  const assembly = stage.synth();
  const templates = {
    network: Template.fromStack(stage.network),
    data: Template.fromStack(stage.data),
    services: Template.fromStack(stage.services),
    observability: Template.fromStack(stage.observability),
  };
  const resources: Record<string, CfnResourceJson> = {};
  for (const template of Object.values(templates)) Object.assign(resources, template.toJSON().Resources);
  return { stage, assembly, ...templates, resources };
}

/** Resources of one type in a template, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Logical id a `{Ref}` / `{Fn::GetAtt}` points at, if it is one. */
export function refTarget(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return String(v['Fn::GetAtt'][0]);
  }
  return undefined;
}
