import { App } from 'aws-cdk-lib';
import { STAGES, type StageName } from '../config/environments.js';
import { PaiStage } from '../lib/stages/pai-stage.js';

/**
 * The CDK app: one Stage per environment in config/environments.ts (Dev, Staging, Prod), each with
 * its own account and region. `-c stage=<name>` synthesizes only that one (faster, and `cdk deploy`
 * then needs only that account's credentials).
 */
const app = new App();
const only = app.node.tryGetContext('stage') as StageName | undefined;
if (only !== undefined && !(only in STAGES)) throw new Error(`-c stage=${only}: expected one of ${Object.keys(STAGES).join(', ')}`);
for (const config of Object.values(STAGES)) {
  if (only !== undefined && config.name !== only) continue;
  new PaiStage(app, config.name.charAt(0).toUpperCase() + config.name.slice(1), { config });
}
app.synth();
