import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import { Construct } from 'constructs';
import type { OpenSearchSizing } from '../../config/environments.js';
import { pinLogicalId } from './pinned-logical-id.js';

export interface SearchDomainProps {
  readonly sizing: OpenSearchSizing;
  readonly vpc: ec2.IVpc;
  /** One subnet per zone the domain spans (isolated subnets: the domain needs no internet). */
  readonly subnets: ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;
  readonly encryptionKey: kms.IKey;
  /**
   * The fine-grained access control master user: the search service's task role, the only client
   * (it creates its index templates). No human access is provisioned (docs/DEPLOY.md, "Inspecting
   * OpenSearch").
   */
  readonly masterUserRole: iam.IRole;
}

/**
 * The OpenSearch domain for k-NN + BM25 search: inside the VPC (no public endpoint), encrypted at rest
 * with the storage key and between nodes, HTTPS only with TLS 1.2+, fine-grained access control, sized
 * per stage, retained on stack deletion. No resource-based access policy: access is granted by the
 * search task role's identity policy, the security group, and fine-grained access control.
 */
export class SearchDomain extends Construct {
  readonly domain: opensearch.Domain;

  constructor(scope: Construct, id: string, props: SearchDomainProps) {
    super(scope, id);
    const { sizing } = props;
    if (props.subnets.length !== sizing.zones) throw new Error(`SearchDomain: ${sizing.zones} zone(s) need as many subnets, got ${props.subnets.length}`);
    this.domain = new opensearch.Domain(this, 'Domain', {
      version: opensearch.EngineVersion.OPENSEARCH_2_19,
      vpc: props.vpc,
      vpcSubnets: [{ subnets: props.subnets }],
      securityGroups: [props.securityGroup],
      capacity: {
        dataNodes: sizing.dataNodes,
        dataNodeInstanceType: sizing.dataNodeInstanceType,
        masterNodes: sizing.masterNodes,
        ...(sizing.masterNodeInstanceType === undefined ? {} : { masterNodeInstanceType: sizing.masterNodeInstanceType }),
        multiAzWithStandbyEnabled: false,
      },
      ...(sizing.zones > 1 ? { zoneAwareness: { enabled: true, availabilityZoneCount: sizing.zones } } : {}),
      ebs: { enabled: true, volumeSize: sizing.volumeGiB, volumeType: ec2.EbsDeviceVolumeType.GP3 },
      encryptionAtRest: { enabled: true, kmsKey: props.encryptionKey },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
      fineGrainedAccessControl: { masterUserArn: props.masterUserRole.roleArn },
      enableVersionUpgrade: true,
      offPeakWindowEnabled: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pinLogicalId(this.domain, 'PaiSearchDomain');
  }
}

