import { Stage, Tags, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { validateStage, type StageConfig } from '../../config/environments.js';
import { DataStack } from '../stacks/data-stack.js';
import { NetworkStack } from '../stacks/network-stack.js';
import { ObservabilityStack } from '../stacks/observability-stack.js';
import { ServicesStack } from '../stacks/services-stack.js';

export interface PaiStageProps extends StageProps {
  readonly config: StageConfig;
}

/**
 * One deployment of PAI in its own account and region: network → data → services → observability.
 * Stack names inside the stage: Network, Data, Services, Observability (e.g. `Prod/Data`).
 */
export class PaiStage extends Stage {
  readonly network: NetworkStack;
  readonly data: DataStack;
  readonly services: ServicesStack;
  readonly observability: ObservabilityStack;

  constructor(scope: Construct, id: string, props: PaiStageProps) {
    const { config } = props;
    validateStage(config);
    super(scope, id, { ...props, env: { account: config.account, region: config.region } });
    // Cross-stack references stay CloudFormation exports that protect their producer (CDK's default, explicit).
    this.node.setContext('@aws-cdk/core:defaultCrossStackReferences', 'strong');
    // The zones are fixed in config/environments.ts; answering CDK's zone lookup with them keeps synthesis
    // offline and deterministic (no credentials, no cdk.context.json).
    this.node.setContext(`availability-zones:account=${config.account}:region=${config.region}`, [...config.availabilityZones]);
    Tags.of(this).add('project', 'pai');
    Tags.of(this).add('stage', config.name);

    this.network = new NetworkStack(this, 'Network', { stage: config, description: `PAI ${config.name}: VPC, endpoints, security groups` });
    this.data = new DataStack(this, 'Data', { stage: config, network: this.network, description: `PAI ${config.name}: keys, tables, OpenSearch, secrets (retained)` });
    this.services = new ServicesStack(this, 'Services', { stage: config, network: this.network, data: this.data, description: `PAI ${config.name}: ECS services and load balancer` });
    this.observability = new ObservabilityStack(this, 'Observability', { stage: config, data: this.data, services: this.services, description: `PAI ${config.name}: dashboard and alarms` });
  }
}
