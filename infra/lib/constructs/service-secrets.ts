import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { pinLogicalId } from './pinned-logical-id.js';

/**
 * Secrets Manager secrets the services receive as environment variables through ECS (the task execution
 * role reads them at task start; the application never calls Secrets Manager):
 * - PAI_ADMIN_API_KEY, the bootstrap admin key (memory service only; read it once to create the first
 *   user, docs/DEPLOY.md);
 * - PAI_INTERNAL_TOKEN, the shared secret between the three services.
 * Both are generated at first deploy (48 alphanumeric characters) and retained.
 */
export class ServiceSecrets extends Construct {
  readonly adminApiKey: secretsmanager.Secret;
  readonly internalToken: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: { stageName: string }) {
    super(scope, id);
    const generated = { passwordLength: 48, excludePunctuation: true, includeSpace: false };
    this.adminApiKey = new secretsmanager.Secret(this, 'AdminApiKey', {
      description: `PAI ${props.stageName}: bootstrap admin API key (PAI_ADMIN_API_KEY)`,
      generateSecretString: generated,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pinLogicalId(this.adminApiKey, 'PaiAdminApiKeySecret');
    this.internalToken = new secretsmanager.Secret(this, 'InternalToken', {
      description: `PAI ${props.stageName}: shared secret between the services (PAI_INTERNAL_TOKEN)`,
      generateSecretString: generated,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pinLogicalId(this.internalToken, 'PaiInternalTokenSecret');
  }
}
