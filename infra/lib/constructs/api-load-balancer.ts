import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  FRONT_DOOR_IDLE_TIMEOUT_SECONDS,
  ROUTES,
  albPathPatterns,
  notFoundBody,
  stripPrefixRewrite,
  validateRoutes,
  type ServiceName,
} from '../../../packages/contracts/src/routing.js';

export interface ApiLoadBalancerProps {
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  /** HTTPS on 443 (and 80 redirecting to it) when set; plain HTTP on 80 otherwise (dev only). */
  readonly certificateArn?: string;
  readonly targetGroups: Readonly<Record<ServiceName, elbv2.IApplicationTargetGroup>>;
  readonly accessLogs: s3.IBucket;
  readonly deletionProtection: boolean;
}

/**
 * The internet-facing ALB. Its listener rules are generated from the routing table in
 * packages/contracts/src/routing.ts — the same table the local edge (docker/edge/nginx.conf) is
 * generated from — one rule per table entry, same priority, path patterns and prefix rewrite. Anything
 * else (including /metrics and /internal/*) gets the load balancer's own 404.
 */
export class ApiLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The listener the routes are attached to (HTTPS when a certificate is configured). */
  readonly listener: elbv2.ApplicationListener;

  constructor(scope: Construct, id: string, props: ApiLoadBalancerProps) {
    super(scope, id);
    validateRoutes(ROUTES);

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetGroupName: 'public' },
      securityGroup: props.securityGroup,
      idleTimeout: Duration.seconds(FRONT_DOOR_IDLE_TIMEOUT_SECONDS),
      dropInvalidHeaderFields: true,
      http2Enabled: true,
      deletionProtection: props.deletionProtection,
    });
    this.loadBalancer.logAccessLogs(props.accessLogs, 'alb');

    const notFound = elbv2.ListenerAction.fixedResponse(404, {
      contentType: 'application/json',
      messageBody: notFoundBody(''),
    });
    if (props.certificateArn === undefined) {
      this.listener = this.loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: notFound });
    } else {
      this.listener = this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        open: false,
        defaultAction: notFound,
      });
      this.loadBalancer.addListener('HttpRedirect', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        open: false,
        defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
    }

    for (const route of ROUTES) {
      const rule = new elbv2.ApplicationListenerRule(this, `Route${route.priority}`, {
        listener: this.listener,
        priority: route.priority,
        conditions: [elbv2.ListenerCondition.pathPatterns(route.paths.flatMap(albPathPatterns))],
        action: elbv2.ListenerAction.forward([props.targetGroups[route.service]]),
      });
      const rewrite = stripPrefixRewrite(route);
      if (rewrite !== undefined) {
        (rule.node.defaultChild as elbv2.CfnListenerRule).transforms = [{
          type: 'url-rewrite',
          urlRewriteConfig: { rewrites: [{ regex: rewrite.regex, replace: rewrite.replace }] },
        }];
      }
    }
  }
}
