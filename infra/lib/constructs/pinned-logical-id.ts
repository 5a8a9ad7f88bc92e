import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Pins the CloudFormation logical id of a stateful resource. A logical id that changes (a construct
 * renamed or moved) makes CloudFormation create a new resource and drop the old one; with RETAIN the old
 * one survives but is orphaned and the service silently starts on an empty one. Pinned ids turn such a
 * refactor into a no-op, and the tests fail if one goes missing.
 */
export function pinLogicalId(construct: IConstruct, logicalId: string): void {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) throw new Error(`pinLogicalId(${logicalId}): ${construct.node.path} has no CloudFormation resource`);
  resource.overrideLogicalId(logicalId);
}
